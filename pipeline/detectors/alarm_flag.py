"""Sensor alarm flag: a reading whose `alarm` is true opens one alert per alarm episode.

The episode (when the alarm began) is the state; the alert id is derived from it, so a
reading delivered twice, or the next alarm reading of the same episode, adds nothing.
A reading with `alarm: false` ends the episode and resolves the alert.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.alerts.record import alert_id, resolve
from pipeline.config import SensorConfig, Site
from pipeline.messages import Alert, SensorReading, SensorType, Severity

SEVERITY = {
    SensorType.smoke: Severity.high,
    SensorType.heat: Severity.high,
    SensorType.gas: Severity.high,
    SensorType.elevator: Severity.high,
}


@dataclass(frozen=True)
class Decision:
    episode: dict | None  # the state to keep: {"started_ts": float, "values": {...}} or None
    changed: bool
    alerts: list[Alert]


def alarm_alert(site: Site, sensor: SensorConfig, started_ts: float, values: dict[str, float]) -> Alert:
    return Alert(
        id=alert_id("sensor_alarm", sensor.id, f"{started_ts:.3f}"),
        type="sensor_alarm",
        severity=SEVERITY.get(sensor.type, Severity.medium),
        site=site.site.id,
        location=sensor.location,
        device=sensor.id,
        started_at=started_ts,
        updated_at=started_ts,
        title=f"{sensor.type.value} sensor {sensor.id} reports an alarm",
        details={"sensor_type": sensor.type.value, "values": dict(values)},
    )


def on_reading(site: Site, sensor: SensorConfig, reading: SensorReading, episode: dict | None) -> Decision:
    if reading.alarm is None:
        return Decision(episode, False, [])
    if reading.alarm:
        if episode is not None:
            return Decision(episode, False, [])
        started = {"started_ts": reading.ts, "values": dict(reading.values)}
        return Decision(started, True, [alarm_alert(site, sensor, reading.ts, reading.values)])
    if episode is None or reading.ts < episode["started_ts"]:
        return Decision(episode, False, [])
    opened = alarm_alert(site, sensor, episode["started_ts"], episode.get("values", {}))
    return Decision(None, True, [resolve(opened, max(reading.ts, opened.started_at))])
