"""Local infrastructure that the project starts itself: Kafka (KRaft, from Maven jars) and Redis."""
