"""Where accepted readings go: the readings topic, acknowledged by the broker before the sender hears "accepted"."""
from __future__ import annotations

import orjson

from pipeline.contracts import topic
from pipeline.ingest.producer import make_producer
from pipeline.messages import DeadLetter, SensorReading
from pipeline.settings import Settings


class KafkaSink:
    """One idempotent producer shared by the HTTP threads and the MQTT loop (kafka-python's is thread-safe)."""

    def __init__(self, settings: Settings, producer=None):
        self.producer = producer or make_producer(settings, client_id="sca-gateway", linger_ms=2)
        self.readings = topic("readings").name
        self.dead_letters = topic("dead_letters").name

    def send_readings(self, readings: list[SensorReading], timeout_s: float = 30.0) -> int:
        futures = [self.producer.send(self.readings, key=r.device.encode(),
                                      value=orjson.dumps(r.model_dump(mode="json", exclude_none=True)))
                   for r in readings]
        self.producer.flush(timeout=timeout_s)
        return sum(1 for f in futures if f.get(timeout=timeout_s))

    def send_dead_letter(self, letter: DeadLetter, timeout_s: float = 30.0) -> None:
        future = self.producer.send(self.dead_letters, key=letter.source_topic.encode(),
                                    value=orjson.dumps(letter.model_dump(mode="json")))
        future.get(timeout=timeout_s)

    def close(self) -> None:
        self.producer.close()
