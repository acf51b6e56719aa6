"""Elderly no-activity: no movement for `window_h` hours of daytime, in the site's time zone.

Night hours do not count, so a person asleep from 22:00 to 07:00 is not "inactive"; with the
defaults (12 h, 07:00-22:00) an alert needs a whole day's waking hours without a sign of life.
The deadline is computed exactly from the last activity, so the alert's start (and its id)
does not depend on how often the worker ticks.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.messages import SensorReading, Severity
from pipeline.sensors.condition import Condition, Measured, first
from pipeline.sensors.rules_config import ActivityRules, RuleSet


def daytime_deadline(start_ts: float, window_s: float, tz: str, rules: ActivityRules) -> float:
    """The instant at which `window_s` seconds of daytime have passed since `start_ts`."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(start_ts, zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    left = window_s
    for _ in range(3660):  # at most ten years of days; the window is bounded far below that
        open_at = _at(day, rules.day_start_h, zone)
        close_at = _at(day, rules.day_end_h, zone)
        begin = max(open_at.timestamp(), start_ts)
        end = close_at.timestamp()
        if end > begin:
            if end - begin >= left:
                return begin + left
            left -= end - begin
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)  # next local midnight, DST-safe
    raise ValueError("no-activity window never elapses")


def _at(day: datetime, hour: float, zone: ZoneInfo) -> datetime:
    whole = int(hour)
    naive = day.replace(tzinfo=None) + timedelta(hours=whole, minutes=(hour - whole) * 60)
    return naive.replace(tzinfo=zone)


def is_activity(reading: SensorReading, rules: RuleSet) -> bool:
    value = first(reading.values, rules.values.activity)
    return (value is not None and value >= 0.5) or bool(reading.alarm)


def measure_no_activity(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    """Remembers the last activity in `mem`; active once the daytime deadline after it has passed."""
    a = rules.activity
    if not a.enabled:
        return None
    if reading is not None and (is_activity(reading, rules) or mem.get("activity_ts") is None):
        mem["activity_ts"] = max(reading.ts, mem.get("activity_ts") or reading.ts)
        mem.pop("activity_deadline", None)
    last = mem.get("activity_ts")
    if last is None:
        return None
    if mem.get("activity_deadline") is None:
        mem["activity_deadline"] = daytime_deadline(last, a.window_h * 3600, mem["tz"], a)
    deadline = mem["activity_deadline"]
    return Measured(now >= deadline, {"last_activity_ts": last, "window_h": a.window_h,
                                      "daytime_hours": [a.day_start_h, a.day_end_h]}, since=deadline)


CONDITIONS: tuple[Condition, ...] = (
    Condition("elderly_no_activity", "activity", Severity.high,
              "No activity at {location} ({device}) for the daytime window", measure_no_activity, lambda r: (0.0, 0.0)),
)
