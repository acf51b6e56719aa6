"""Rebuild the Redis view of alerts from Kafka: Redis is a fast view, never the record.

After Redis is lost (flushed, restarted without its file, replaced) `sca alerts rebuild` reads, each from
the beginning to its current end:
- `sca.alerts.v1` (compacted: every alert's latest state), applied with the same idempotent newer-wins
  upsert the worker uses;
- `sca.alert-updates.v1` (every lifecycle transition), added to each alert's history (a set: the same
  event twice is kept once);
- `sca.silences.v1` (compacted), the silences.
The result is the state the worker would have written; running it twice, or while the worker runs,
changes nothing.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis
from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from pipeline.alerts import silences
from pipeline.alerts.store import UPSERT_LUA, UPSERT_RESULT, history_key, upsert_keys
from pipeline.contracts import topic
from pipeline.messages import Alert, AlertUpdate, Silence
from pipeline.settings import Settings

Progress = Callable[[int, int], None]


@dataclass
class RebuildResult:
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    history: int = 0
    silences: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


def read_to_end(settings: Settings, channel: str, timeout_s: float) -> Iterator[tuple[bytes, int]]:
    """Every record of a topic from its start to the end it had when we began; yields (value, total)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             client_id="sca-alerts-rebuild")
    spec = topic(channel)
    parts = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
    try:
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        total = sum(ends.values())
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {spec.name} to its end within {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=500, max_records=1000).values():
                for record in batch:
                    if record.offset < ends[TopicPartition(record.topic, record.partition)] and record.value:
                        yield record.value, total
    finally:
        consumer.close()


def rebuild_alerts(settings: Settings, progress: Progress | None = None, timeout_s: float = 120.0) -> RebuildResult:
    client = redis.Redis.from_url(settings.redis_url)
    upsert = client.register_script(UPSERT_LUA)
    result = RebuildResult()
    try:
        for value, total in read_to_end(settings, "alerts", timeout_s):
            result.records += 1
            try:
                alert = Alert.model_validate_json(value)
            except ValidationError:
                result.invalid += 1
                continue
            outcome = UPSERT_RESULT[int(upsert(keys=upsert_keys(alert.id), args=[value]))]
            setattr(result, outcome, getattr(result, outcome) + 1)
            if progress:
                progress(result.records, total)
        for value, _total in read_to_end(settings, "alert_updates", timeout_s):
            try:
                update = AlertUpdate.model_validate_json(value)
            except ValidationError:
                result.invalid += 1
                continue
            result.history += client.zadd(history_key(update.alert_id), {update.model_dump_json(): update.at})
        for value, _total in read_to_end(settings, "silences", timeout_s):
            try:
                silences.put(client, Silence.model_validate_json(value))
                result.silences += 1
            except ValidationError:
                result.invalid += 1
    finally:
        client.close()
    return result
