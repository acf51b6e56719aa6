"""Dead letters: a message the pipeline cannot use is kept whole, with the reason, and the stream goes on."""
from __future__ import annotations

import base64
from collections.abc import Iterable

from pipeline.messages import DeadLetter


class BadMessage(ValueError):
    """Raised by the edge validators; `reason` is one of DeadLetter.reason's values."""

    def __init__(self, reason: str, error: str):
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def dead_letter(exc: BadMessage, *, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                headers: Iterable[tuple[str, bytes]] | None, now: float, worker: str = "") -> DeadLetter:
    return DeadLetter(
        reason=exc.reason,
        error=exc.error[:4000],
        source_topic=topic[:249],  # an MQTT topic can be longer than a Kafka one; the letter must still be written
        partition=max(partition, 0),
        offset=max(offset, 0),
        key_b64=_b64(key),
        value_b64=_b64(value or b""),
        headers={str(k): _b64(v or b"") for k, v in (headers or [])},
        at=now,
        worker=worker,
    )
