"""The alert manager's glue between Faust and the pure decisions in `pipeline.alerts.manager`.

The agents hand over a message and the `alert-manager` table (keyed by fingerprint); this class
validates, decides, writes the table before publishing (so a redelivered message finds the state it
already produced and changes nothing), and publishes the managed alert and its updates.

A worker killed between the table write and the sends would leave the state saying "done" with its
outputs never published. So the state also keeps the outputs of its last change, under `out`, with a
digest of the message that caused them; a redelivery of that message publishes them again (the store
keeps the newest version, subscribers drop repeats by `X-SCA-Delivery`).
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

import orjson

from pipeline.alerts import manager
from pipeline.alerts.manager import AlertingConfig, Decision
from pipeline.alerts.record import alert_id
from pipeline.alerts.silences import SilenceCache
from pipeline.alerts.store import encode
from pipeline.messages import Alert, AlertAction

log = logging.getLogger(__name__)
Send = Callable[[str, bytes, bytes], Awaitable[None]]
RETICK_AFTER_S = 5.0


class AlertManagerService:
    def __init__(self, send: Send, silences: SilenceCache, cfg: AlertingConfig, counts):
        self.send = send
        self.silences = silences
        self.cfg = cfg
        self.counts = counts
        self._ticked: dict[str, float] = {}

    async def on_signal(self, value: bytes, table) -> str | None:
        """Returns an error for the dead-letter topic when the signal is not a valid alert."""
        try:
            signal = Alert.model_validate_json(value)
        except ValueError as exc:
            return str(exc)[:2000]
        fp = manager.fingerprint(signal)
        decision = manager.on_signal(table.get(fp), signal, await self.silences.current())
        await self._apply(fp, decision, table, _digest(value))
        return None

    async def on_action(self, value: bytes, table) -> str | None:
        try:
            action = AlertAction.model_validate_json(value)
        except ValueError as exc:
            return str(exc)[:2000]
        decision = manager.on_action(table.get(action.fingerprint), action, self.cfg)
        if decision.rejected:
            self.counts["alert_actions_rejected"] += 1
            log.info("action %s on %s rejected: %s", action.action, action.alert_id, decision.rejected)
        await self._apply(action.fingerprint, decision, table, _digest(value))
        return None

    async def _apply(self, fp: str, decision: Decision, table, message: str) -> None:
        if not decision.changed:
            await self._resend(table.get(fp), message)
            return
        out = {"by": message, "alerts": [alert.model_dump(mode="json") for alert in decision.alerts],
               "updates": [update.model_dump(mode="json") for update in decision.updates]}
        table[fp] = {**decision.state, "out": out}  # before any await: the table is the manager's memory
        self._ticked.pop(fp, None)
        for alert in decision.alerts:
            await self.send("alerts", alert.id.encode(), encode(alert))
        for update in decision.updates:
            await self.send("alert_updates", update.alert_id.encode(), orjson.dumps(update.model_dump(mode="json")))
            self.counts[f"alerts_{update.action}"] += 1
            log.info("alert %s %s by %s: %s", update.alert_id, update.action, update.by, update.note)

    async def _resend(self, state: dict | None, message: str) -> None:
        """The redelivered message made the last change: publish its outputs again (they may never have left)."""
        out = (state or {}).get("out")
        if not out or out["by"] != message:
            return
        self.counts["alert_outputs_resent"] += 1
        for alert in out["alerts"]:
            await self.send("alerts", alert["id"].encode(), encode(Alert.model_validate(alert)))
        for update in out["updates"]:
            await self.send("alert_updates", update["alert_id"].encode(), orjson.dumps(update))

    def due_ticks(self, states, now: float) -> list[AlertAction]:
        """Ticks for every owned alert whose timer is due; one per alert until it has been handled."""
        ticks = []
        for fp, state in states:
            due = manager.due_at(state, self.cfg)
            if due is None or due > now or now - self._ticked.get(fp, float("-inf")) < RETICK_AFTER_S:
                continue
            self._ticked[fp] = now
            current = state["alert"]["id"]
            ticks.append(AlertAction(id=alert_id("tick", current, f"{due:.3f}"), alert_id=current, fingerprint=fp,
                                     action="tick", by="system", at=max(now, due)))
        return ticks


def _digest(value: bytes) -> str:
    """Identifies one message: a redelivery has the same bytes."""
    return hashlib.sha1(value).hexdigest()[:16]
