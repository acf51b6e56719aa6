"""Smart-community safety alerts: a streaming pipeline on Kafka, Faust and Redis."""

__version__ = "0.1.0"
