"""Producers that put camera frames and sensor readings on Kafka (kafka-python)."""
