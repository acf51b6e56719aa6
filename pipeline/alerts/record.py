"""Deterministic alert ids and lifecycle records.

An alert's id is a hash of what makes it the same incident (type, device, when the
episode began), so a replayed or redelivered message computes the same id and the
store, the compacted topic and every subscriber see one alert, not two.
"""
from __future__ import annotations

import hashlib

from pipeline.messages import Alert, AlertStatus, AlertUpdate


def alert_id(alert_type: str, *parts: object) -> str:
    digest = hashlib.sha1("|".join([alert_type, *map(str, parts)]).encode()).hexdigest()[:16]
    return f"{alert_type}-{digest}"


def resolve(alert: Alert, at: float) -> Alert:
    return alert.model_copy(update={"status": AlertStatus.resolved, "ended_at": at, "updated_at": at})


def update_for(alert: Alert, action: str, by: str = "system", note: str = "") -> AlertUpdate:
    """The lifecycle event that goes with a new state of `alert`; its id is deterministic too."""
    return AlertUpdate(
        id=alert_id("update", alert.id, action, f"{alert.updated_at:.6f}"),
        alert_id=alert.id,
        action=action,
        status=alert.status,
        at=alert.updated_at,
        by=by,
        note=note,
    )
