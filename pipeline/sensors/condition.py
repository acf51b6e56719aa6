"""What a rule is: a named condition measured on a reading (or on the clock), stepped through a latch.

Each family module (thresholds, elevator, activity) only says *what* is true now; the
dispatcher in `rules.py` does debounce, hysteresis, ids and resolution the same way for all.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.messages import SensorReading, Severity
from pipeline.sensors.rules_config import RuleSet


@dataclass(frozen=True)
class Measured:
    active: bool
    details: dict = field(default_factory=dict)
    since: float | None = None  # when the condition truly began, if the rule knows better than "first seen"


# measure(reading or None on a tick, now, is_open, rules, mem) -> Measured, or None: no data, hold the last verdict
Measure = Callable[[SensorReading | None, float, bool, RuleSet, dict], Measured | None]


@dataclass(frozen=True)
class Condition:
    alert_type: str
    family: str
    severity: Severity
    title: str  # str.format with sensor_type, device, location
    measure: Measure
    timing: Callable[[RuleSet], tuple[float, float]]  # (confirm_s, clear_s)


def first(values: dict[str, float], keys: Sequence[str]) -> float | None:
    """The value under the first of `keys` the reading carries (devices name things differently)."""
    for key in keys:
        if key in values:
            return values[key]
    return None


def above(value: float, threshold: float, is_open: bool, hysteresis: float) -> bool:
    """Hysteresis: once open, the condition stays true down to `threshold - hysteresis`."""
    return value >= (threshold - hysteresis if is_open else threshold)
