"""All-or-nothing validation of a payload of readings, shared by the HTTP and MQTT front ends.

A payload is one reading (a JSON object), a JSON array of readings, or `{"readings": [...]}`.
Either every reading in it is valid and known to the site, or none is sent: a gateway that
forwarded half a batch would leave the sender unable to tell what to resend.
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from pipeline.config import Site
from pipeline.deadletters import BadMessage
from pipeline.messages import SensorReading
from pipeline.readings import check_clock, check_device

MAX_BATCH = 1000


@dataclass(frozen=True)
class Problem:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "message": self.message}


class BatchRejected(ValueError):
    """The payload is refused whole; `reason` is a dead-letter reason, `problems` name each bad field."""

    def __init__(self, reason: str, problems: list[Problem]):
        super().__init__("; ".join(f"[{p.index}] {p.field}: {p.message}" for p in problems[:10]))
        self.reason = reason
        self.problems = problems


def _items(doc) -> list:
    if isinstance(doc, dict) and set(doc) == {"readings"}:
        doc = doc["readings"]
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list):
        return doc
    raise BatchRejected("schema_violation", [Problem(0, "(payload)", "expected a reading, a list of readings or "
                                                                     '{"readings": [...]}')])


def validate_payload(site: Site, payload: bytes, device_from_topic: str | None = None) -> list[SensorReading]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BatchRejected("bad_json", [Problem(0, "(payload)", f"not valid JSON: {exc}")]) from None
    items = _items(doc)
    if not items:
        raise BatchRejected("schema_violation", [Problem(0, "(payload)", "no readings")])
    if len(items) > MAX_BATCH:
        raise BatchRejected("too_large", [Problem(0, "(payload)", f"{len(items)} readings; at most {MAX_BATCH}")])
    readings, problems, reason = [], [], "schema_violation"
    for index, item in enumerate(items):
        try:
            reading = SensorReading.model_validate(item)
        except ValidationError as exc:
            problems += [Problem(index, ".".join(map(str, e["loc"])) or "(reading)", e["msg"]) for e in exc.errors()]
            continue
        if device_from_topic is not None and reading.device != device_from_topic:
            problems.append(Problem(index, "device", f"{reading.device!r} published on the topic of "
                                                     f"{device_from_topic!r}"))
            continue
        try:
            check_device(site, reading)
            check_clock(reading)
        except BadMessage as exc:
            reason = exc.reason if exc.reason == "unknown_device" and not problems else reason
            field = {"unknown_device": "device", "bad_timestamp": "ts"}.get(exc.reason, "type")
            problems.append(Problem(index, field, exc.error))
            continue
        readings.append(reading)
    if problems:
        raise BatchRejected(reason, problems)
    return readings
