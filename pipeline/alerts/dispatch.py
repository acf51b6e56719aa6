"""The webhook dispatcher: every managed alert record goes to the subscribers that want it.

Delivery blocks (HTTP with retries and backoff), so it runs in threads, all subscribers of one record
at once; the agent moves on only when each has either succeeded or been dead-lettered, so a crash
never loses a notification (at least once; subscribers drop repeats by `X-SCA-Delivery`).
A subscriber that gave up raises a `subscriber_unreachable` alert; its next successful delivery
resolves it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pipeline.alerts.record import alert_id
from pipeline.alerts.webhooks import SubscriberConfig, request_for
from pipeline.broadcast.delivery import DeliveryResult, deliver
from pipeline.deadletters import BadMessage
from pipeline.messages import Alert, AlertStatus, Severity

log = logging.getLogger(__name__)
ALERT_TYPE = "subscriber_unreachable"


class WebhookDispatcher:
    def __init__(self, subscribers: list[SubscriberConfig], site_id: str, publish_signal: Callable[[Alert], Awaitable[None]],
                 dead_letter: Callable[[BadMessage], Awaitable[None]], counts):
        self.subscribers = subscribers
        self.site_id = site_id
        self.publish_signal = publish_signal
        self.dead_letter = dead_letter
        self.counts = counts
        self.failing: dict[str, Alert] = {}  # subscriber id -> its open unreachable alert

    async def on_alert(self, value: bytes) -> None:
        try:
            alert = Alert.model_validate_json(value)
        except ValueError:
            return  # the alert-store agent dead-letters invalid records
        wanted = [s for s in self.subscribers if s.wants(alert)]
        results = await asyncio.gather(*(asyncio.to_thread(self._post, s, value, alert) for s in wanted))
        for subscriber, result in zip(wanted, results):
            await self._after(subscriber, alert, result)

    @staticmethod
    def _post(subscriber: SubscriberConfig, body: bytes, alert: Alert) -> DeliveryResult:
        try:
            headers = request_for(subscriber, body, alert)
        except LookupError as exc:
            return DeliveryResult(False, 0, str(exc))
        return deliver(subscriber.url, body, headers, subscriber.attempts, subscriber.backoff_s,
                       max_backoff_s=subscriber.max_backoff_s)

    async def _after(self, subscriber: SubscriberConfig, alert: Alert, result: DeliveryResult) -> None:
        if result.ok:
            self.counts["webhooks_delivered"] += 1
            failing = self.failing.pop(subscriber.id, None)
            if failing is not None:
                now = time.time()
                await self.publish_signal(failing.model_copy(update={"status": AlertStatus.resolved, "ended_at": now,
                                                                     "updated_at": now}))
            return
        self.counts["webhooks_failed"] += 1
        log.warning("webhook %s gave up on %s: %s", subscriber.id, alert.id, result.error)
        await self.dead_letter(BadMessage("delivery_failed", f"subscriber {subscriber.id} ({subscriber.url}) after "
                                                             f"{result.attempts} attempts: {result.error}"))
        if subscriber.id not in self.failing:
            self.failing[subscriber.id] = self._unreachable(subscriber, result.error)
            await self.publish_signal(self.failing[subscriber.id])

    def _unreachable(self, subscriber: SubscriberConfig, error: str) -> Alert:
        now = time.time()
        return Alert(id=alert_id(ALERT_TYPE, subscriber.id, f"{now:.3f}"), type=ALERT_TYPE, severity=Severity.high,
                     site=self.site_id, device=subscriber.id, location=subscriber.url[:256], started_at=now,
                     updated_at=now, title=f"webhook subscriber {subscriber.id} unreachable",
                     details={"error": error[:500], "url": subscriber.url})
