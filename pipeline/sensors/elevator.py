"""Elevator rules: entrapment, alarm button, door fault.

Entrapment is judged from the car's own signals, not from a person: stopped (not moving),
not level with a landing, doors shut, for `stopped_s` (60 s by default; lifts normally
re-level within seconds). A controller that does not report those three signals cannot be
judged, so the rule stays silent rather than guessing from vibration.
"""
from __future__ import annotations

from pipeline.messages import SensorReading, Severity
from pipeline.sensors.condition import Condition, Measured, first
from pipeline.sensors.rules_config import RuleSet


def _signals(reading: SensorReading, rules: RuleSet) -> tuple[float | None, float | None, float | None]:
    v, names = reading.values, rules.values
    return first(v, names.moving), first(v, names.at_floor), first(v, names.door_closed)


def measure_entrapment(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    if reading is None:
        return None
    moving, at_floor, door_closed = _signals(reading, rules)
    if moving is None or at_floor is None or door_closed is None:
        return None
    stuck = moving < 0.5 and at_floor < 0.5 and door_closed >= 0.5
    return Measured(stuck, {"moving": moving >= 0.5, "at_floor": at_floor >= 0.5, "door_closed": door_closed >= 0.5,
                            "stopped_s": rules.elevator.stopped_s})


def measure_alarm_button(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    if reading is None:
        return None
    button = first(reading.values, rules.values.alarm_button)
    verdicts = [v for v in (None if button is None else button >= 0.5, reading.alarm) if v is not None]
    return Measured(any(verdicts), {"alarm_button": bool(button), "alarm_flag": reading.alarm}) if verdicts else None


def measure_door_fault(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    """The controller's door-fault flag, or doors not shut while the car moves."""
    if reading is None:
        return None
    fault = first(reading.values, rules.values.door_fault)
    moving, _, door_closed = _signals(reading, rules)
    verdicts, details = [], {}
    if fault is not None:
        verdicts.append(fault >= 0.5)
        details["fault_flag"] = fault >= 0.5
    if moving is not None and door_closed is not None:
        verdicts.append(moving >= 0.5 and door_closed < 0.5)
        details["open_while_moving"] = verdicts[-1]
    return Measured(any(verdicts), details) if verdicts else None


CONDITIONS: tuple[Condition, ...] = (
    Condition("elevator_entrapment", "elevator", Severity.critical,
              "Lift {device} ({location}): car stopped between floors with doors shut",
              measure_entrapment, lambda r: (r.elevator.stopped_s, r.elevator.clear_s)),
    Condition("elevator_alarm", "elevator", Severity.high, "Lift {device} ({location}): alarm button pressed",
              measure_alarm_button, lambda r: (0.0, r.elevator.alarm_clear_s)),
    Condition("elevator_door_fault", "elevator", Severity.medium, "Lift {device} ({location}): door fault",
              measure_door_fault, lambda r: (r.elevator.door_fault_s, r.elevator.clear_s)),
)
