"""Sensor readings at the edge: JSON bytes in, a validated SensorReading out, or a BadMessage."""
from __future__ import annotations

import time

import orjson
from pydantic import ValidationError

from pipeline.config import SensorConfig, Site
from pipeline.deadletters import BadMessage
from pipeline.messages import MAX_CLOCK_AHEAD_S, SensorReading


def parse_reading(site: Site, value: bytes, now: float | None = None) -> tuple[SensorReading, SensorConfig]:
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("bad_json", str(exc)) from None
    try:
        reading = SensorReading.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors()[:5])
        raise BadMessage("schema_violation", problems) from None
    sensor = check_device(site, reading)
    check_clock(reading, now)
    return reading, sensor


def check_clock(reading: SensorReading, now: float | None = None) -> None:
    """A reading stamped ahead of our clock is refused: the rules ignore anything older than a device's last
    reading, so one far-future timestamp would mute the device until that time."""
    now = time.time() if now is None else now
    if reading.ts > now + MAX_CLOCK_AHEAD_S:
        raise BadMessage("bad_timestamp", f"ts {reading.ts:.3f} is more than {MAX_CLOCK_AHEAD_S:.0f} s ahead of this "
                                          "worker's clock: fix the device's clock (NTP)")


def check_device(site: Site, reading: SensorReading) -> SensorConfig:
    """The reading's device must be one of the site's sensors, of the type the reading claims."""
    sensor = site.sensor(reading.device)
    if sensor is None:
        raise BadMessage("unknown_device", f"sensor {reading.device!r} is not in site {site.site.id!r}")
    if sensor.type != reading.type:
        raise BadMessage("schema_violation", f"device {reading.device!r} is a {sensor.type.value} sensor, "
                                             f"the reading says {reading.type.value}")
    return sensor
