"""The API's way into Kafka: send and wait for the broker's acknowledgement, or fail with 503.

An operator's click must not be lost: the API answers 202 only after the broker has the action on
disk (acks=all, idempotent producer); when the broker does not answer in time the client is told
to retry (the action id is new each time, and check_action refuses what no longer applies).
"""
from __future__ import annotations

from fastapi import HTTPException
from kafka.errors import KafkaError

from pipeline.contracts import topic
from pipeline.ingest.producer import make_producer
from pipeline.settings import Settings


class KafkaPublisher:
    def __init__(self, settings: Settings, timeout_s: float = 10.0):
        self.producer = make_producer(settings, client_id="sca-control-room", delivery_timeout_ms=int(timeout_s * 1000),
                                      request_timeout_ms=int(timeout_s * 1000) - 1000)
        self.timeout_s = timeout_s

    def __call__(self, channel: str, key: bytes, value: bytes) -> None:
        try:
            self.producer.send(topic(channel).name, key=key, value=value).get(timeout=self.timeout_s)
        except KafkaError as exc:
            raise HTTPException(503, f"the broker did not take it ({type(exc).__name__}); retry") from None

    def close(self) -> None:
        self.producer.close(timeout=5)
