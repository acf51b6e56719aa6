"""The loudspeaker service's settings: the site file's `broadcast:` section (all optional).

Kept apart from the policy so the site file can be validated without importing the policy.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BroadcastConfig(BaseModel):
    """Cooldowns, quiet hours, volumes, retries; every field has a default, the site file may override any."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    cooldown_s: float = Field(default=30.0, ge=0, description="same text on the same speaker within this: suppressed")
    quiet_start_h: int = Field(default=22, ge=0, le=23, description="quiet hours start (site's local hour)")
    quiet_end_h: int = Field(default=7, ge=0, le=23, description="quiet hours end (exclusive); equal start: none")
    quiet_volume: int = Field(default=40, ge=0, le=100, description="percent, non-critical messages at night")
    normal_volume: int = Field(default=80, ge=0, le=100, description="percent, by day")
    evacuation_volume: int = Field(default=100, ge=0, le=100, description="percent, always")
    quiet_suppress: tuple[str, ...] = Field(default=("information",), description="priorities silenced at night")
    max_age_s: float = Field(default=300.0, gt=0, description="older non-evacuation commands are suppressed")
    recent_ids: int = Field(default=512, ge=1, description="command ids remembered for idempotency")
    max_attempts: int = Field(default=5, ge=1, description="HTTP attempts per delivery")
    backoff_s: float = Field(default=1.0, ge=0, description="first retry delay; doubles each attempt")
    max_backoff_s: float = Field(default=30.0, ge=0)
    failures_before_alert: int = Field(default=3, ge=1, description="consecutive failed deliveries: alert")
    speech_speed: int = Field(default=150, ge=80, le=450, description="espeak-ng words per minute")
