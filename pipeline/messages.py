"""Message types carried on the topics, one pydantic model per message.

Why pydantic: validation at the pipeline's edges is in compiled code, errors name the
field, and `model_json_schema()` lets a test prove that these types and the published
JSON Schemas in `topics/schemas/` agree (`sca topics schemas --write` regenerates them).
Every model forbids unknown fields and non-finite numbers: a typo or a NaN from a
sensor is a dead letter, not a silent zero.
"""
from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
MAX_CLOCK_AHEAD_S = 600.0  # a device timestamp this far ahead of the receiver's clock is wrong, not early

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]
EpochSeconds = Annotated[float, Field(ge=946684800.0, le=4102444800.0, description="Unix time in seconds (UTC)")]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class FrameHeaders(Message):
    """Kafka headers of a camera frame; the message value is the JPEG itself."""

    camera: Identifier
    ts: EpochSeconds = Field(description="capture time")
    seq: int = Field(ge=0, le=2**63 - 1, description="frame sequence number, increasing per camera")
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)
    content_type: Literal["image/jpeg"] = "image/jpeg"
    v: Literal[1] = SCHEMA_VERSION


class SensorType(str, Enum):
    smoke = "smoke"
    heat = "heat"
    gas = "gas"
    manhole = "manhole"
    elevator = "elevator"
    door = "door"
    water = "water"
    motion = "motion"
    generic = "generic"


class SensorReading(Message):
    """One reading of one device; keyed by device id on the topic."""

    device: Identifier
    type: SensorType
    ts: EpochSeconds
    values: dict[Annotated[str, Field(min_length=1, max_length=64)], float] = Field(default_factory=dict)
    battery: float | None = Field(default=None, ge=0, le=100, description="percent")
    alarm: bool | None = Field(default=None, description="the device's own alarm flag, when it has one")
    v: Literal[1] = SCHEMA_VERSION


class Severity(str, Enum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class AlertStatus(str, Enum):
    open = "open"
    acknowledged = "acknowledged"
    assigned = "assigned"
    resolved = "resolved"
    false_alarm = "false_alarm"


class EvidenceRef(Message):
    kind: Literal["image", "clip", "chart", "data"]
    uri: Annotated[str, Field(min_length=1, max_length=2048)]
    content_type: Annotated[str, Field(min_length=3, max_length=128)]


class VisionEvent(Message):
    """What a vision core found in a camera's stream, before it becomes an alert."""

    id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    camera: Identifier
    ts: EpochSeconds
    t_start: EpochSeconds
    t_end: EpochSeconds | None = None
    confidence: float = Field(ge=0, le=1)
    details: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceRef] = Field(default_factory=list)
    v: Literal[1] = SCHEMA_VERSION


class Alert(Message):
    """The current state of one alert; the alerts topic is compacted by `id`."""

    id: Identifier
    type: Annotated[str, Field(min_length=1, max_length=64)]
    severity: Severity
    site: Identifier
    location: Annotated[str, Field(max_length=256)] = ""
    device: Identifier
    status: AlertStatus = AlertStatus.open
    started_at: EpochSeconds
    updated_at: EpochSeconds
    ended_at: EpochSeconds | None = None
    title: Annotated[str, Field(max_length=512)] = ""
    details: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceRef] = Field(default_factory=list)
    # Set by the alert manager (pipeline.alerts.manager); detectors leave them at their defaults.
    fingerprint: Annotated[str, Field(max_length=64)] = Field(
        default="", description="what makes repeats the same incident: hash of type, site, device, location")
    count: int = Field(default=1, ge=1, description="signals grouped into this alert")
    last_seen: EpochSeconds | None = Field(default=None, description="when the latest grouped signal arrived")
    assignee: Annotated[str, Field(max_length=128)] | None = None
    silenced_by: Identifier | None = Field(default=None, description="the silence that muted this alert")
    escalation: int = Field(default=0, ge=0, le=10, description="tiers escalated while nobody acknowledged")
    v: Literal[1] = SCHEMA_VERSION


class AlertUpdate(Message):
    """One transition of an alert's lifecycle: who did what, when, with a note."""

    id: Identifier
    alert_id: Identifier
    action: Literal["opened", "updated", "grouped", "acknowledged", "assigned", "resolved", "false_alarm",
                    "escalated", "reminded", "silenced", "unsilenced"]
    status: AlertStatus
    at: EpochSeconds
    by: Annotated[str, Field(min_length=1, max_length=128)]
    note: Annotated[str, Field(max_length=2000)] = ""
    v: Literal[1] = SCHEMA_VERSION


class AlertAction(Message):
    """An operator's (or the manager's own timer's) request to change an alert; keyed by fingerprint.

    `id` is chosen by the sender (the API uses a random UUID): a redelivered action is applied once.
    """

    id: Identifier
    alert_id: Identifier
    fingerprint: Annotated[str, Field(min_length=1, max_length=64)]
    action: Literal["acknowledge", "assign", "resolve", "false_alarm", "tick"]
    by: Annotated[str, Field(min_length=1, max_length=128)]
    at: EpochSeconds
    note: Annotated[str, Field(max_length=2000)] = ""
    assignee: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    v: Literal[1] = SCHEMA_VERSION


class Silence(Message):
    """Mute new alerts that match every given matcher (shell-style patterns) between `starts_at` and `ends_at`."""

    id: Identifier
    matchers: dict[Literal["type", "site", "location", "device"],
                   Annotated[str, Field(min_length=1, max_length=256)]] = Field(min_length=1)
    starts_at: EpochSeconds
    ends_at: EpochSeconds
    created_by: Annotated[str, Field(min_length=1, max_length=128)]
    comment: Annotated[str, Field(max_length=1000)] = ""
    deleted: bool = Field(default=False, description="a tombstone: the silence was removed before it ended")
    v: Literal[1] = SCHEMA_VERSION

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Silence":
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AuditRecord(Message):
    """One action taken through the control-room API."""

    id: Identifier
    user: Annotated[str, Field(min_length=1, max_length=128)]
    role: Literal["operator", "admin"]
    action: Annotated[str, Field(min_length=1, max_length=64)]
    target: Annotated[str, Field(max_length=256)] = ""
    at: EpochSeconds
    detail: dict[str, Any] = Field(default_factory=dict)
    v: Literal[1] = SCHEMA_VERSION


class BroadcastPriority(str, Enum):
    evacuation = "evacuation"
    fire_lane = "fire_lane"
    thrown_object = "thrown_object"
    information = "information"


class BroadcastCommand(Message):
    """Tell one loudspeaker what to say; `id` makes a redelivered command harmless."""

    id: Identifier
    speaker: Identifier
    zone: Identifier | None = None
    priority: BroadcastPriority
    text_zh: Annotated[str, Field(min_length=1, max_length=500)]
    text_en: Annotated[str, Field(max_length=500)] = ""
    repeat: int = Field(default=1, ge=1, le=10)
    issued_at: EpochSeconds
    alert_id: Identifier | None = None
    v: Literal[1] = SCHEMA_VERSION


class BroadcastAck(Message):
    command_id: Identifier
    speaker: Identifier
    status: Literal["delivered", "failed", "suppressed", "duplicate"]
    at: EpochSeconds
    detail: Annotated[str, Field(max_length=2000)] = ""
    v: Literal[1] = SCHEMA_VERSION


class DeadLetter(Message):
    """A message the pipeline could not use, kept whole with the reason."""

    reason: Literal["bad_json", "schema_violation", "bad_headers", "undecodable_image", "unknown_device",
                    "too_large", "bad_timestamp", "delivery_failed"]
    error: Annotated[str, Field(max_length=4000)]
    source_topic: Annotated[str, Field(min_length=1, max_length=249)]
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    key_b64: str | None = None
    value_b64: str
    headers: dict[str, str] = Field(default_factory=dict, description="original headers, values base64")
    at: EpochSeconds
    worker: Annotated[str, Field(max_length=128)] = ""
    v: Literal[1] = SCHEMA_VERSION
