"""Site configuration: cameras, zones, loudspeakers and sensors of one compound, in one YAML file.

Validated on load with pydantic; every error names the file, the field path and what is
wrong (`site.yaml: cameras[1].fps: must be greater than 0`), because the person reading it
is an installer on a ladder, not a Python programmer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from pipeline.messages import Identifier, SensorType
from pipeline.alerts.manager import AlertingConfig
from pipeline.alerts.webhooks import SubscriberConfig
from pipeline.broadcast.settings import BroadcastConfig

VEHICLE_CLASSES = ["car", "truck", "bus", "motorcycle", "bicycle"]


class SiteConfigError(ValueError):
    """The site file is missing, unreadable or invalid; the message lists every problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class SiteInfo(Strict):
    id: Identifier
    name: str = ""
    timezone: str = "Asia/Shanghai"


class CameraConfig(Strict):
    id: Identifier
    source: str = Field(min_length=1, description="file path (relative to the site file) or rtsp:// URL")
    fps: float = Field(default=25.0, gt=0, le=120)
    role: Literal["facade", "fire_lane", "general"] = "general"
    calibration: str | None = Field(default=None, description="facade calibration JSON, relative to the site file")
    building: str | None = None
    location: str = ""


Point = tuple[float, float]


class ZoneConfig(Strict):
    id: Identifier
    kind: Literal["fire_lane", "building", "area"] = "area"
    camera: Identifier | None = None
    building: str | None = None
    polygon: Annotated[list[Point], Field(min_length=3)] | None = None
    classes: list[str] = Field(default_factory=lambda: list(VEHICLE_CLASSES))
    grace_s: float = Field(default=60.0, ge=0)
    rebroadcast_s: float = Field(default=60.0, gt=0)
    max_broadcasts: int = Field(default=3, ge=0)
    clear_s: float = Field(default=10.0, ge=0)
    speaker: Identifier | None = None

    @model_validator(mode="after")
    def _fire_lane_needs_geometry(self) -> "ZoneConfig":
        if self.kind == "fire_lane" and (self.camera is None or self.polygon is None):
            raise ValueError("a fire_lane zone needs `camera` and `polygon`")
        return self


class SpeakerConfig(Strict):
    id: Identifier
    zone: Identifier
    endpoint: str = Field(pattern=r"^https?://", description="HTTP endpoint that accepts audio")


class SensorConfig(Strict):
    id: Identifier
    type: SensorType
    location: str = ""
    building: str | None = None
    report_interval_s: float = Field(default=60.0, gt=0)


class LivenessConfig(Strict):
    """When a device counts as offline; `check_interval_s` is how often the worker looks.

    A sensor is offline after `offline_intervals` of its own `report_interval_s` without a reading,
    unless `sensor_timeout_s` sets one timeout for all sensors.
    """

    camera_timeout_s: float = Field(default=30.0, gt=0)
    sensor_timeout_s: float | None = Field(default=None, gt=0)
    offline_intervals: float = Field(default=3.0, gt=0)
    check_interval_s: float = Field(default=1.0, gt=0)


class Site(Strict):
    site: SiteInfo
    cameras: list[CameraConfig] = Field(default_factory=list)
    zones: list[ZoneConfig] = Field(default_factory=list)
    speakers: list[SpeakerConfig] = Field(default_factory=list)
    sensors: list[SensorConfig] = Field(default_factory=list)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    broadcast: BroadcastConfig = Field(default_factory=BroadcastConfig)
    subscribers: list[SubscriberConfig] = Field(default_factory=list)
    base_dir: Path = Field(default=Path("."), exclude=True, description="directory of the site file")
    _indexes: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> "Site":
        problems: list[str] = []
        for section in ("cameras", "zones", "speakers", "sensors", "subscribers"):
            seen: set[str] = set()
            for i, item in enumerate(getattr(self, section)):
                if item.id in seen:
                    problems.append(f"{section}[{i}].id: duplicate id {item.id!r}")
                seen.add(item.id)
        cameras = {c.id for c in self.cameras}
        zones = {z.id for z in self.zones}
        speakers = {s.id for s in self.speakers}
        for i, zone in enumerate(self.zones):
            if zone.camera and zone.camera not in cameras:
                problems.append(f"zones[{i}].camera: no camera with id {zone.camera!r}")
            if zone.speaker and zone.speaker not in speakers:
                problems.append(f"zones[{i}].speaker: no speaker with id {zone.speaker!r}")
        for i, speaker in enumerate(self.speakers):
            if speaker.zone not in zones:
                problems.append(f"speakers[{i}].zone: no zone with id {speaker.zone!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Lookups the agents use on every message: dicts built once.
    def camera(self, camera_id: str) -> CameraConfig | None:
        return self._index("cameras").get(camera_id)

    def sensor(self, device_id: str) -> SensorConfig | None:
        return self._index("sensors").get(device_id)

    def speaker(self, speaker_id: str) -> SpeakerConfig | None:
        return self._index("speakers").get(speaker_id)

    def building_speakers(self, building: str | None) -> list[tuple[str, str]]:
        """(speaker id, zone id) of every loudspeaker in a `building` zone of that building."""
        if building is None:
            return []
        zones = {z.id for z in self.zones if z.kind == "building" and z.building == building}
        return [(s.id, s.zone) for s in self.speakers if s.zone in zones]

    def _index(self, section: str) -> dict:
        if section not in self._indexes:
            self._indexes[section] = {item.id: item for item in getattr(self, section)}
        return self._indexes[section]

    def offline_timeout_s(self, kind: str, device: str) -> float:
        """How long `device` may stay silent before it counts as offline."""
        if kind == "camera":
            return self.liveness.camera_timeout_s
        if self.liveness.sensor_timeout_s is not None:
            return self.liveness.sensor_timeout_s
        sensor = self.sensor(device)
        interval = sensor.report_interval_s if sensor else SensorConfig.model_fields["report_interval_s"].default
        return self.liveness.offline_intervals * interval

    def resolve(self, relative: str) -> Path:
        """A path in the site file is relative to the file itself."""
        path = Path(relative)
        return path if path.is_absolute() else (self.base_dir / path).resolve()


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {loc or '(top level)'}: {message}")
    return "\n".join(lines)


def load_site(path: str | Path) -> Site:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SiteConfigError(f"{path}: site file not found (set SCA_SITE or pass --site)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SiteConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SiteConfigError(f"{path}: (top level): expected a mapping with `site`, `cameras`, ...")
    try:
        site = Site.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise SiteConfigError(_format_errors(path, exc)) from None
    missing = [f"{path}: cameras[{i}].calibration: file not found: {site.resolve(c.calibration)}"
               for i, c in enumerate(site.cameras) if c.calibration and not site.resolve(c.calibration).exists()]
    if missing:
        raise SiteConfigError("\n".join(missing))
    return site
