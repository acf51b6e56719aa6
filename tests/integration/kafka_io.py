"""Small helpers to produce and read back real Kafka records in tests."""
from __future__ import annotations

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from pipeline.settings import Settings


def produce(settings: Settings, topic: str, items: list[tuple[bytes | None, bytes, list | None]]) -> int:
    """Send (key, value, headers) items with acks=all; return how many the broker acknowledged."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=4 << 20)
    try:
        futures = [producer.send(topic, key=k, value=v, headers=h or []) for k, v, h in items]
        producer.flush()
        return sum(1 for f in futures if f.get(timeout=30))
    finally:
        producer.close()


def read_all(settings: Settings, topic: str, timeout_s: float = 20.0) -> list:
    """Every record now on the topic, from the beginning."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=8 << 20)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end within {timeout_s} s")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
