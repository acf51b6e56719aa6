"""Threshold rule families: heat, smoke, gas, manhole, water and battery.

Each `measure_*` reads the value named in `rules.values`, compares it with its threshold
(with hysteresis while open) and says what the alert should show. A reading without the
value returns None: the last verdict holds, so a heartbeat without a temperature neither
opens nor clears anything.
"""
from __future__ import annotations

from pipeline.messages import SensorReading, Severity
from pipeline.sensors.condition import Condition, Measured, above, first
from pipeline.sensors.rules_config import RuleSet


def rate_of_rise(mem: dict, ts: float, temp_c: float, sustained_s: float) -> float | None:
    """Average rise in C/min over at least `sustained_s`, from a short history kept in `mem`.

    The history holds the samples of the last `sustained_s` plus the newest one older than
    that (the reference), so a device reporting once a minute still gets a rate.
    """
    hist = [h for h in mem.get("heat_hist", []) if h[0] < ts] + [[ts, temp_c]]
    ref_index = max((i for i, h in enumerate(hist) if h[0] <= ts - sustained_s), default=None)
    mem["heat_hist"] = hist[ref_index:] if ref_index is not None else hist
    if ref_index is None:
        return None
    t0, c0 = hist[ref_index]
    return (temp_c - c0) / (ts - t0) * 60.0


def measure_heat_alarm(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    if reading is None:
        return None
    temp = first(reading.values, rules.values.temperature)
    if temp is None:
        return None
    h = rules.heat
    rate = rate_of_rise(mem, reading.ts, temp, h.sustained_s)
    fixed = above(temp, h.fixed_temp_c, is_open, h.hysteresis_c)
    rising = (h.rate_of_rise_c_per_min is not None and rate is not None
              and above(rate, h.rate_of_rise_c_per_min, is_open, 0.0))
    trigger = "fixed_temperature" if fixed else "rate_of_rise"
    details = {"trigger": trigger, "temperature_c": temp, "fixed_temp_c": h.fixed_temp_c,
               "rate_c_per_min": None if rate is None else round(rate, 2),
               "rate_of_rise_c_per_min": h.rate_of_rise_c_per_min}
    return Measured(fixed or rising, details)


def measure_heat_prewarning(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    h = rules.heat
    temp = None if reading is None else first(reading.values, rules.values.temperature)
    if temp is None or h.prewarn_temp_c is None:
        return None
    return Measured(above(temp, h.prewarn_temp_c, is_open, h.hysteresis_c),
                    {"temperature_c": temp, "prewarn_temp_c": h.prewarn_temp_c})


def measure_smoke(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    """Alarm flag OR measured obscuration OR concentration, whichever the device and the rules provide."""
    if reading is None:
        return None
    s, names = rules.smoke, rules.values
    verdicts, details = [], {}
    if s.use_alarm_flag and reading.alarm is not None:
        verdicts.append(reading.alarm)
        details["alarm_flag"] = reading.alarm
    obscuration = first(reading.values, names.obscuration)
    if s.obscuration_pct_per_m is not None and obscuration is not None:
        verdicts.append(above(obscuration, s.obscuration_pct_per_m, is_open, s.obscuration_hysteresis_pct_per_m))
        details["obscuration_pct_per_m"] = obscuration
    concentration = first(reading.values, names.concentration)
    if s.concentration_ppm is not None and concentration is not None:
        verdicts.append(above(concentration, s.concentration_ppm, is_open, s.concentration_hysteresis_ppm))
        details["concentration_ppm"] = concentration
    if not verdicts:
        return None
    return Measured(any(verdicts), details)


def _lel(reading: SensorReading | None, rules: RuleSet) -> float | None:
    return None if reading is None else first(reading.values, rules.values.lel)


def measure_gas_warning(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    lel = _lel(reading, rules)
    if lel is None:
        return None
    g = rules.gas
    return Measured(above(lel, g.warning_lel_pct, is_open, g.hysteresis_lel_pct),
                    {"lel_pct": lel, "warning_lel_pct": g.warning_lel_pct})


def measure_gas_alarm(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    if reading is None:
        return None
    lel, g = _lel(reading, rules), rules.gas
    verdicts, details = [], {"alarm_lel_pct": g.alarm_lel_pct}
    if lel is not None:
        verdicts.append(above(lel, g.alarm_lel_pct, is_open, g.hysteresis_lel_pct))
        details["lel_pct"] = lel
    if reading.alarm is not None:
        verdicts.append(reading.alarm)
        details["alarm_flag"] = reading.alarm
    return Measured(any(verdicts), details) if verdicts else None


def measure_tilt(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    tilt = None if reading is None else first(reading.values, rules.values.tilt)
    if tilt is None:
        return None
    m = rules.manhole
    return Measured(above(abs(tilt), m.tilt_deg, is_open, m.hysteresis_deg), {"tilt_deg": tilt, "limit_deg": m.tilt_deg})


def _flooded(reading: SensorReading | None, is_open: bool, rules: RuleSet, mark_cm: float | None, hyst_cm: float):
    if reading is None:
        return None
    verdicts, details = [], {}
    level = first(reading.values, rules.values.water_level)
    if level is not None and mark_cm is not None:
        verdicts.append(above(level, mark_cm, is_open, hyst_cm))
        details.update(water_level_cm=level, mark_cm=mark_cm)
    flag = first(reading.values, rules.values.water_detected)
    if flag is not None:
        verdicts.append(flag >= 1)
        details["water_detected"] = flag >= 1
    return Measured(any(verdicts), details) if verdicts else None


def measure_manhole_flood(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    m = rules.manhole
    return _flooded(reading, is_open, rules, m.water_level_mark_cm, m.water_hysteresis_cm)


def measure_water(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    w = rules.water
    return _flooded(reading, is_open, rules, w.water_level_mark_cm, w.water_hysteresis_cm)


def measure_battery(reading: SensorReading | None, now: float, is_open: bool, rules: RuleSet, mem: dict):
    if reading is None or reading.battery is None:
        return None
    b = rules.battery
    low = reading.battery <= (b.low_pct + b.hysteresis_pct if is_open else b.low_pct)
    return Measured(low, {"battery_pct": reading.battery, "low_pct": b.low_pct})


def _heat_timing(r: RuleSet) -> tuple[float, float]:
    return r.heat.confirm_s, r.heat.clear_s


CONDITIONS: tuple[Condition, ...] = (
    # heat_alarm before heat_prewarning: the alarm's measure keeps the rate-of-rise history
    Condition("heat_alarm", "heat", Severity.high, "Heat detector {device} ({location}): heat alarm",
              measure_heat_alarm, _heat_timing),
    Condition("heat_prewarning", "heat", Severity.medium, "Heat detector {device} ({location}): temperature high",
              measure_heat_prewarning, _heat_timing),
    Condition("smoke_alarm", "smoke", Severity.high, "Smoke detector {device} ({location}): smoke alarm",
              measure_smoke, lambda r: (r.smoke.confirm_s, r.smoke.clear_s)),
    Condition("gas_alarm", "gas", Severity.critical, "Gas detector {device} ({location}): gas alarm",
              measure_gas_alarm, lambda r: (r.gas.confirm_s, r.gas.clear_s)),
    Condition("gas_warning", "gas", Severity.medium, "Gas detector {device} ({location}): gas warning",
              measure_gas_warning, lambda r: (r.gas.confirm_s, r.gas.clear_s)),
    Condition("manhole_tilt", "manhole", Severity.medium, "Manhole cover {device} ({location}): lifted or tilted",
              measure_tilt, lambda r: (r.manhole.held_s, r.manhole.clear_s)),
    Condition("manhole_flood", "manhole", Severity.high, "Manhole {device} ({location}): water above the mark",
              measure_manhole_flood, lambda r: (r.manhole.flood_held_s, r.manhole.clear_s)),
    Condition("water_leak", "water", Severity.medium, "Water sensor {device} ({location}): water detected",
              measure_water, lambda r: (r.water.confirm_s, r.water.clear_s)),
    Condition("battery_low", "battery", Severity.low, "{sensor_type} sensor {device} ({location}): battery low",
              measure_battery, lambda r: (0.0, 0.0)),
)
