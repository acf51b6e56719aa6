"""One configured kafka-python producer for every ingest path.

acks=all with idempotence: a message the broker acknowledged is on disk, and a retry after
a broker restart cannot write it twice. `delivery_timeout_ms` lets it buffer through a
restart of the local broker instead of failing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kafka import KafkaProducer

from pipeline.settings import Settings

MAX_REQUEST_BYTES = 4 * 1024 * 1024


class IngestError(RuntimeError):
    """Input that cannot be read or sent; the message says what and where."""


def make_producer(settings: Settings, **overrides) -> KafkaProducer:
    options = dict(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="sca-ingest",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=MAX_REQUEST_BYTES,
        retries=2**31 - 1,
        delivery_timeout_ms=180_000,
        request_timeout_ms=30_000,
        bootstrap_timeout_ms=10_000,  # a broker that is down is reported after 10 s, not 60
    )
    options.update(overrides)
    return KafkaProducer(**options)


@dataclass
class DeliveryCount:
    """Counts acknowledgements and failures reported by the producer's callbacks."""

    acked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def on_success(self, _metadata) -> None:
        self.acked += 1

    def on_error(self, exc: BaseException) -> None:
        self.failed += 1
        if len(self.errors) < 5:
            self.errors.append(repr(exc))

    def track(self, future) -> None:
        future.add_callback(self.on_success)
        future.add_errback(self.on_error)
