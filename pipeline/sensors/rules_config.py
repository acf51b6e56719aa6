"""RULES.yaml: every threshold of the sensor rules, with defaults per device type and overrides per site and device.

Why a separate file from site.yaml: the site file says what is installed where (an installer's
job); this file says when a reading is an incident (a safety engineer's job, reviewed against
EN 54-5 / UL 521 for heat, the gas detector's LEL rating, the lift maker's manual). Each
threshold carries its unit in its name (`fixed_temp_c`, `held_s`), and every error names the
file and the field path (`rules.yaml: devices.heat-1.heat.fixed_temp_c: ...`), like site.yaml.

Layout:

    defaults:   {heat: {...}, smoke: {...}, ...}   # changes to the built-in defaults, all devices
    sites:      {<site id>: {heat: {...}, ...}}    # per site, over the defaults
    devices:    {<device id>: {heat: {...}, ...}}  # per device, over its site's rules
    fire_confirmation: {window_s: 60, ...}

Overrides merge field by field, so `devices: {heat-1: {heat: {fixed_temp_c: 70}}}` keeps every
other heat threshold of that device's site.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from pipeline.messages import SensorType

Family = Literal["heat", "smoke", "gas", "manhole", "water", "elevator", "activity", "battery"]

# Which rule families a device of each type runs, unless its rules name `families` explicitly.
FAMILIES_BY_TYPE: dict[SensorType, tuple[str, ...]] = {
    SensorType.heat: ("heat", "battery"),
    SensorType.smoke: ("smoke", "battery"),
    SensorType.gas: ("gas", "battery"),
    SensorType.manhole: ("manhole", "battery"),
    SensorType.water: ("water", "battery"),
    SensorType.elevator: ("elevator",),
    SensorType.motion: ("activity", "battery"),
    SensorType.door: ("activity", "battery"),
    SensorType.generic: ("battery",),
}


class RulesConfigError(ValueError):
    """The rules file is missing, unreadable or invalid; the message lists every problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


Keys = list[str]


class ValueNames(Strict):
    """Which keys of `SensorReading.values` hold what; the first key present in a reading is used."""

    temperature: Keys = ["temperature_c", "temperature", "temp_c", "Temperature[C]"]
    obscuration: Keys = ["obscuration_pct_per_m", "obscuration"]
    concentration: Keys = ["smoke_ppm", "concentration_ppm"]
    lel: Keys = ["lel_pct", "lel", "gas_lel_pct"]
    tilt: Keys = ["tilt_deg", "tilt"]
    water_level: Keys = ["water_level_cm", "water_level"]
    water_detected: Keys = ["water_detected", "leak", "flooded"]
    moving: Keys = ["moving", "car_moving"]
    at_floor: Keys = ["at_floor", "door_zone", "levelled"]
    door_closed: Keys = ["door_closed"]
    alarm_button: Keys = ["alarm_button", "emergency_button"]
    door_fault: Keys = ["door_fault"]
    activity: Keys = ["motion", "occupancy", "presence", "door_open", "pir"]


class Timing(Strict):
    """Debounce: a condition must hold `confirm_s` before it opens and be gone `clear_s` before it resolves."""

    confirm_s: float = Field(default=0.0, ge=0)
    clear_s: float = Field(default=0.0, ge=0)


class HeatRules(Timing):
    """Fixed temperature plus rate of rise, after EN 54-5 class A1R (54-65 C static, rate-of-rise) / UL 521."""

    fixed_temp_c: float = Field(default=57.0, gt=0, le=200)
    prewarn_temp_c: float | None = Field(default=47.0, gt=0, le=200)
    rate_of_rise_c_per_min: float | None = Field(default=8.3, gt=0)
    sustained_s: float = Field(default=30.0, gt=0, description="the rise is averaged over at least this long")
    hysteresis_c: float = Field(default=3.0, ge=0)
    confirm_s: float = Field(default=3.0, ge=0)
    clear_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _prewarn_below_alarm(self) -> "HeatRules":
        if self.prewarn_temp_c is not None and self.prewarn_temp_c >= self.fixed_temp_c:
            raise ValueError("prewarn_temp_c must be below fixed_temp_c")
        return self


class SmokeRules(Timing):
    """The device's own alarm flag, and optionally a measured obscuration or concentration threshold."""

    use_alarm_flag: bool = True
    obscuration_pct_per_m: float | None = Field(default=None, gt=0)
    obscuration_hysteresis_pct_per_m: float = Field(default=0.5, ge=0)
    concentration_ppm: float | None = Field(default=None, gt=0)
    concentration_hysteresis_ppm: float = Field(default=50.0, ge=0)
    confirm_s: float = Field(default=0.0, ge=0)
    clear_s: float = Field(default=10.0, ge=0)


class GasRules(Timing):
    warning_lel_pct: float = Field(default=10.0, gt=0, le=100)
    alarm_lel_pct: float = Field(default=25.0, gt=0, le=100)
    hysteresis_lel_pct: float = Field(default=2.0, ge=0)
    confirm_s: float = Field(default=2.0, ge=0)
    clear_s: float = Field(default=30.0, ge=0)

    @model_validator(mode="after")
    def _warning_below_alarm(self) -> "GasRules":
        if self.warning_lel_pct >= self.alarm_lel_pct:
            raise ValueError("warning_lel_pct must be below alarm_lel_pct")
        return self


class ManholeRules(Strict):
    """A cover lifted or tilted for `held_s`; a vehicle rolling over it tilts it for well under 2 s."""

    tilt_deg: float = Field(default=15.0, gt=0, le=90)
    held_s: float = Field(default=30.0, ge=0)
    hysteresis_deg: float = Field(default=3.0, ge=0)
    clear_s: float = Field(default=10.0, ge=0)
    water_level_mark_cm: float | None = Field(default=None, description="flood mark; None: only a water flag")
    flood_held_s: float = Field(default=10.0, ge=0)
    water_hysteresis_cm: float = Field(default=5.0, ge=0)


class WaterRules(Timing):
    water_level_mark_cm: float | None = None
    water_hysteresis_cm: float = Field(default=2.0, ge=0)
    confirm_s: float = Field(default=5.0, ge=0)
    clear_s: float = Field(default=60.0, ge=0)


class ElevatorRules(Strict):
    """Entrapment: car stopped between floors with its doors shut for `stopped_s`."""

    stopped_s: float = Field(default=60.0, ge=0)
    alarm_clear_s: float = Field(default=30.0, ge=0)
    door_fault_s: float = Field(default=5.0, ge=0, description="door open while moving, or fault flag, this long")
    clear_s: float = Field(default=5.0, ge=0)


class ActivityRules(Strict):
    """No activity for `window_h` hours counted in daytime only (night hours do not count), site time zone."""

    enabled: bool = True
    window_h: float = Field(default=12.0, gt=0, le=24 * 7)
    day_start_h: float = Field(default=7.0, ge=0, lt=24)
    day_end_h: float = Field(default=22.0, gt=0, le=24)

    @model_validator(mode="after")
    def _day_is_an_interval(self) -> "ActivityRules":
        if self.day_end_h <= self.day_start_h:
            raise ValueError("day_end_h must be after day_start_h")
        return self


class BatteryRules(Strict):
    low_pct: float = Field(default=20.0, ge=0, le=100)
    hysteresis_pct: float = Field(default=5.0, ge=0)


class RuleSet(Strict):
    """The rules one device runs: its site's and its own overrides merged over the defaults."""

    families: list[Family] | None = Field(default=None, description="None: by device type")
    values: ValueNames = Field(default_factory=ValueNames)
    heat: HeatRules = Field(default_factory=HeatRules)
    smoke: SmokeRules = Field(default_factory=SmokeRules)
    gas: GasRules = Field(default_factory=GasRules)
    manhole: ManholeRules = Field(default_factory=ManholeRules)
    water: WaterRules = Field(default_factory=WaterRules)
    elevator: ElevatorRules = Field(default_factory=ElevatorRules)
    activity: ActivityRules = Field(default_factory=ActivityRules)
    battery: BatteryRules = Field(default_factory=BatteryRules)

    def families_for(self, sensor_type: SensorType) -> tuple[str, ...]:
        return tuple(self.families) if self.families is not None else FAMILIES_BY_TYPE[sensor_type]


class FireConfirmation(Strict):
    """Smoke and heat alarms of one location whose active times come within `window_s` confirm a fire."""

    window_s: float = Field(default=60.0, ge=0)
    severity: Literal["high", "critical"] = "critical"
    text_zh: str = Field(default="火警确认，请立即沿安全通道疏散，不要乘坐电梯。", min_length=1, max_length=500)
    text_en: str = Field(default="Fire confirmed. Evacuate now by the stairs; do not use the lifts.", max_length=500)
    repeat: int = Field(default=3, ge=1, le=10)


class RulesConfig(Strict):
    defaults: dict[str, Any] = Field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = Field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    fire_confirmation: FireConfirmation = Field(default_factory=FireConfirmation)
    _cache: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _every_layer_is_valid(self) -> "RulesConfig":
        """Validate each layer merged the way it will be used, so a typo fails at load, not at the first fire."""
        problems = _layer_problems("defaults", self.defaults)
        for site_id, layer in self.sites.items():
            problems += _layer_problems(f"sites.{site_id}", merge(self.defaults, layer))
        for device_id, layer in self.devices.items():
            problems += _layer_problems(f"devices.{device_id}", merge(self.defaults, layer))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def for_device(self, site_id: str, device_id: str) -> RuleSet:
        """The merged rules of one device, built once and cached (the agents call this per message)."""
        key = (site_id, device_id)
        if key not in self._cache:
            raw = merge(merge(self.defaults, self.sites.get(site_id, {})), self.devices.get(device_id, {}))
            self._cache[key] = RuleSet.model_validate(raw)
        return self._cache[key]


def merge(base: dict, over: dict) -> dict:
    """Field-by-field merge of nested mappings; lists and scalars in `over` replace those in `base`."""
    out = dict(base)
    for key, value in (over or {}).items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _loc(parts: tuple) -> str:
    loc = ""
    for part in parts:
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    return loc


def _layer_problems(prefix: str, raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return [f"{prefix}: expected a mapping"]
    try:
        RuleSet.model_validate(raw)
    except ValidationError as exc:
        return [f"{prefix}.{_loc(e['loc'])}: {e['msg'].removeprefix('Value error, ')}".replace(f"{prefix}.:", f"{prefix}:")
                for e in exc.errors()]
    return []


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        message = err["msg"].removeprefix("Value error, ")
        loc = _loc(err["loc"])
        for line in message.splitlines():  # layer problems arrive pre-formatted, one per line
            lines.append(f"{path}: {line}" if not loc else f"{path}: {loc}: {line}")
    return "\n".join(lines)


def parse_rules(raw: Any, path: str | Path = "rules.yaml") -> RulesConfig:
    path = Path(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RulesConfigError(f"{path}: (top level): expected a mapping with `defaults`, `sites`, `devices`")
    try:
        return RulesConfig.model_validate(raw)
    except ValidationError as exc:
        raise RulesConfigError(_format_errors(path, exc)) from None


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> RulesConfig:
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RulesConfigError(f"{file}: not valid YAML: {exc}") from None
    return parse_rules(raw, file)


def load_rules(path: str | Path | None) -> RulesConfig:
    """Load and validate RULES.yaml; None gives the built-in defaults."""
    if path is None:
        return RulesConfig()
    file = Path(path)
    if not file.is_file():
        raise RulesConfigError(f"{file}: rules file not found")
    return _load_cached(str(file.resolve()), file.stat().st_mtime)
