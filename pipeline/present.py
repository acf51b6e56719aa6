"""One-line human summaries of alerts for terminals (demo, `sca alerts`)."""
from __future__ import annotations

from datetime import datetime, timezone

from pipeline.messages import Alert


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone().strftime("%H:%M:%S")


def format_alert(alert: Alert) -> str:
    when = _clock(alert.updated_at)
    return (f"{when}  {alert.severity.value.upper():8} {alert.status.value:9} {alert.type:15} "
            f"{alert.device:18} {alert.title}  [{alert.id}]")
