"""Rebuild the Redis view of alerts from Kafka: the compacted alerts topic holds every alert's latest state.

Redis is a fast view, never the record. After Redis is lost (flushed, restarted without its file,
replaced) `sca alerts rebuild` reads `sca.alerts.v1` from the beginning to its current end and applies
every record with the same idempotent, newer-wins upsert the worker uses, so the result is the state
the worker would have written, and running it twice (or while the worker runs) changes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from pipeline.alerts.store import ACTIVE, BY_TIME, UPSERT_LUA, UPSERT_RESULT, alert_key
from pipeline.contracts import topic
from pipeline.messages import Alert
from pipeline.settings import Settings


@dataclass
class RebuildResult:
    records: int
    created: int
    updated: int
    unchanged: int
    invalid: int


def rebuild_alerts(settings: Settings, progress: Callable[[int, int], None] | None = None,
                   timeout_s: float = 120.0) -> RebuildResult:
    client = redis.Redis.from_url(settings.redis_url)
    upsert = client.register_script(UPSERT_LUA)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             client_id="sca-alerts-rebuild")
    spec = topic("alerts")
    parts = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    total = sum(ends.values())
    result = RebuildResult(0, 0, 0, 0, 0)
    try:
        import time

        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {spec.name} to its end within {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=500, max_records=1000).values():
                for record in batch:
                    result.records += 1
                    try:
                        alert = Alert.model_validate_json(record.value)
                    except ValidationError:
                        result.invalid += 1
                        continue
                    outcome = UPSERT_RESULT[int(upsert(keys=[alert_key(alert.id), BY_TIME, ACTIVE],
                                                       args=[record.value]))]
                    setattr(result, outcome, getattr(result, outcome) + 1)
            if progress:
                progress(result.records, total)
    finally:
        consumer.close()
        client.close()
    return result
