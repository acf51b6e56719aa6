"""Device offline: a camera with no frames, or a sensor with no readings, for longer than its timeout.

The worker keeps one heartbeat per device (wall-clock time of the last message it got) in a
changelog-backed table; a periodic check raises an alert for each stale device and the next
message from that device resolves it. The alert id is derived from the last heartbeat, so
the check and the resolution agree on it without sharing memory, across restarts too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from pipeline.alerts.record import alert_id, resolve
from pipeline.config import Site
from pipeline.messages import Alert, Severity

DeviceKind = Literal["camera", "sensor"]
NEVER_SEEN = None


def write_resolution_s(timeout_s: float) -> float:
    """How far a heartbeat may lag the last message: coarse enough to spare the changelog, fine enough to be exact."""
    return min(1.0, timeout_s / 10.0)


def needs_write(previous: float | None, now: float, timeout_s: float) -> bool:
    return previous is None or now - previous >= write_resolution_s(timeout_s)


def offline_alert(site: Site, kind: DeviceKind, device: str, last_seen: float | None, timeout_s: float,
                  worker_started: float) -> Alert:
    """The alert for `device` silent since `last_seen` (None: never heard from since this worker started)."""
    since = worker_started if last_seen is None else last_seen
    config = site.camera(device) if kind == "camera" else site.sensor(device)
    what = "frames" if kind == "camera" else "readings"
    started = since + timeout_s
    return Alert(
        id=alert_id("device_offline", kind, device, "never" if last_seen is None else f"{last_seen:.3f}"),
        type="device_offline",
        severity=Severity.medium,
        site=site.site.id,
        location=getattr(config, "location", "") or "",
        device=device,
        started_at=started,
        updated_at=started,
        title=f"{kind} {device} sent no {what} for {timeout_s:g} s",
        details={"kind": kind, "last_seen": last_seen, "timeout_s": timeout_s},
    )


def stale(heartbeats: Iterable[tuple[str, float | None]], now: float, timeout_for: Callable[[str], float],
          worker_started: float) -> Iterator[tuple[str, float | None]]:
    """Devices whose last heartbeat (or, never seen, this worker's start) is older than their timeout."""
    for device, last_seen in heartbeats:
        since = worker_started if last_seen is None else last_seen
        if now - since > timeout_for(device):
            yield device, last_seen


def came_back(previous: float | None, now: float, timeout_s: float, worker_started: float) -> bool:
    since = worker_started if previous is None else previous
    return now - since > timeout_s


def back_online(site: Site, kind: DeviceKind, device: str, previous: float | None, timeout_s: float,
                worker_started: float, now: float) -> Alert:
    """The resolved form of the offline alert that the silence since `previous` raised."""
    return resolve(offline_alert(site, kind, device, previous, timeout_s, worker_started), now)
