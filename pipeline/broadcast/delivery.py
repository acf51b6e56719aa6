"""Delivery of rendered speech to a loudspeaker over HTTP, and the speaker's failure tracker.

`deliver` POSTs the WAV (Content-Type audio/wav) with retries: connection errors, timeouts, 5xx and
429 are retried after `backoff_s`, doubling each time (capped at `max_backoff_s`); any other 4xx is
the speaker refusing the request and is not retried. `sleep` is injectable so tests do not wait.

`track_delivery` is pure: consecutive failed deliveries (each one already retried) per speaker; the
`failures_before_alert`-th raises a `speaker_unreachable` alert (id from speaker + first failure time,
so a replay computes the same id), the next success resolves it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import httpx

from pipeline.alerts.record import alert_id, resolve
from pipeline.config import Site, SpeakerConfig
from pipeline.messages import Alert, Severity

ALERT_TYPE = "speaker_unreachable"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    attempts: int
    error: str = ""
    status_code: int | None = None


def headers_for(play) -> dict[str, str]:
    """HTTP headers of a `policy.Play`."""
    headers = {"Content-Type": "audio/wav", "X-Command-Id": play.command_id, "X-Priority": play.priority,
               "X-Volume": str(play.volume)}
    if play.preempt:
        headers["X-Preempt"] = "1"
    return headers


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def deliver(endpoint: str, body: bytes, headers: dict[str, str], attempts: int = 5, backoff_s: float = 1.0,
            sleep: Callable[[float], None] = time.sleep, timeout_s: float = 5.0, max_backoff_s: float = 30.0,
            client: httpx.Client | None = None) -> DeliveryResult:
    """POST `body` to `endpoint`; at most `attempts` tries, sleeping backoff_s, 2*backoff_s, ... between.

    Also the webhook dispatcher's transport: its headers replace the audio Content-Type.
    """
    headers = {"Content-Type": "audio/wav", **headers}
    own = client is None
    client = client or httpx.Client(timeout=timeout_s, trust_env=False)  # speakers are on the LAN: no proxy
    error, status = "", None
    try:
        for attempt in range(1, max(1, attempts) + 1):
            try:
                response = client.post(endpoint, content=body, headers=headers)
                status = response.status_code
                if 200 <= status < 300:
                    return DeliveryResult(True, attempt, "", status)
                error = f"HTTP {status}: {response.text[:200]}"
                if not _retryable(status):
                    return DeliveryResult(False, attempt, error, status)
            except httpx.HTTPError as exc:
                error, status = f"{type(exc).__name__}: {exc}", None
            if attempt < attempts:
                sleep(min(max_backoff_s, backoff_s * 2 ** (attempt - 1)))
        return DeliveryResult(False, max(1, attempts), f"gave up after {attempts} attempts: {error}", status)
    finally:
        if own:
            client.close()


def unreachable_alert(speaker: SpeakerConfig, site: Site, first_failure_at: float, now: float,
                      failures: int) -> Alert:
    return Alert(
        id=alert_id(ALERT_TYPE, speaker.id, f"{first_failure_at:.3f}"),
        type=ALERT_TYPE,
        severity=Severity.high,
        site=site.site.id,
        location=speaker.zone,
        device=speaker.id,
        started_at=first_failure_at,
        updated_at=now,
        title=f"Loudspeaker {speaker.id} ({speaker.zone}) does not accept broadcasts",
        details={"endpoint": speaker.endpoint, "consecutive_failures": failures},
    )


def track_delivery(link: dict | None, speaker: SpeakerConfig, site: Site, ok: bool, now: float,
                   failures_before_alert: int = 3) -> tuple[dict | None, list[Alert]]:
    """Advance the speaker's link state `{"failures", "first_failure_at", "alert"}` by one delivery.

    Returns the new state (None when healthy: nothing to keep) and the alerts to publish.
    """
    link = link or {"failures": 0, "first_failure_at": None, "alert": None}
    if ok:
        if link["alert"] is not None:
            opened = Alert.model_validate(link["alert"])
            return None, [resolve(opened, max(now, opened.updated_at))]
        return None, []
    failures = link["failures"] + 1
    first = link["first_failure_at"] if link["first_failure_at"] is not None else now
    alerts: list[Alert] = []
    alert = link["alert"]
    if alert is None and failures >= failures_before_alert:
        opened = unreachable_alert(speaker, site, first, now, failures)
        alerts.append(opened)
        alert = opened.model_dump(mode="json")
    return {"failures": failures, "first_failure_at": first, "alert": alert}, alerts
