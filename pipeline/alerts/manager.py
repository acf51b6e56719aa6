"""The alert manager: one writer of alert state, pure functions over a per-fingerprint state.

Detectors publish *signals* (an `Alert` as the detector sees it) on `sca.alert-signals.v1`; operators
and the manager's own timer publish `AlertAction`s on `sca.alert-actions.v1`. Both topics are keyed
by the alert's fingerprint, so one worker owns everything about an incident and the Faust table
`alert-manager` (changelog-backed) holds its state. What comes out is the managed `Alert` on the
compacted alerts topic and an `AlertUpdate` per transition.

- **Grouping**: a signal whose fingerprint (type, site, device, location) has an alert that is
  still active joins it (`count`, `last_seen`) instead of opening a second alert. After the alert
  is resolved or marked a false alarm, the next signal opens a new one.
- **Lifecycle**: open -> acknowledged -> assigned -> resolved | false_alarm; assign also works from
  open; every transition is an update with who, when and a note. A detector that clears its
  condition (all grouped episodes resolved) resolves the alert as `system`.
- **Silences**: a new alert matching an active silence is recorded with `silenced_by`; subscribers
  do not hear of it and it does not escalate. When the silence ends while the alert is active the
  alert is unsilenced and its clocks start.
- **Escalation**: unacknowledged for `escalate_after_s` -> severity one step up and the next tier is
  named (repeats per tier); acknowledged or assigned but unresolved for `remind_after_s` -> a reminder.
- **Inhibition** happens where the knowledge is: fire confirmation republishes the smoke and heat
  alerts it came from with `details.inhibited_by`; subscribers skip inhibited alerts.

Every time in a decision comes from a message (signal, action, tick), never from the clock, so a
redelivered message computes the same result; the state remembers member episodes and action ids,
so applying a message twice changes nothing. It also remembers the episodes of the alerts before the
current one: after a worker dies, the survivor replays signals from the last committed offset onto a
table that is already past them, and an earlier episode's signal must not look like a repeat of the
current alert (the kill test once saw exactly that: a count of 2).
"""
from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from pipeline.alerts.record import alert_id
from pipeline.messages import Alert, AlertAction, AlertStatus, AlertUpdate, Severity, Silence

CLOSED = (AlertStatus.resolved, AlertStatus.false_alarm)
SEVERITIES = list(Severity)
RECENT_ACTIONS = 64
RECENT_EPISODES = 64  # member episodes of earlier alerts remembered, so that their replay is recognised
TIE_S = 1e-6  # updates made by one message keep their order in the history (sorted by time)


class AlertingConfig(BaseModel):
    """The site's `alerting:` section: escalation timers and tiers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    escalate_after_s: float = Field(default=300.0, gt=0, description="unacknowledged this long: escalate")
    remind_after_s: float = Field(default=900.0, gt=0, description="acknowledged but unresolved this long: remind")
    tiers: tuple[str, ...] = Field(default=("control_room", "duty_manager", "property_manager"), min_length=1,
                                   description="who is told, in order; the first tier gets every new alert")
    tick_interval_s: float = Field(default=1.0, gt=0, description="how often the worker looks for due timers")


@dataclass
class Decision:
    state: dict | None
    alerts: list[Alert] = field(default_factory=list)
    updates: list[AlertUpdate] = field(default_factory=list)
    rejected: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.alerts or self.updates)


# ------------------------------------------------------------------ matching
def fingerprint(alert: Alert) -> str:
    """What makes repeats one incident; the key of both manager topics."""
    raw = "|".join((alert.type, alert.site, alert.device, alert.location))
    return hashlib.sha1(raw.encode()).hexdigest()[:20]


def silence_matches(silence: Silence, alert: Alert, at: float) -> bool:
    if silence.deleted or not silence.starts_at <= at < silence.ends_at:
        return False
    return all(fnmatch.fnmatchcase(str(getattr(alert, name)), pattern) for name, pattern in silence.matchers.items())


def matching_silence(silences: Iterable[Silence], alert: Alert, at: float) -> Silence | None:
    """The matching silence that lasts longest (so the alert stays muted as long as any silence says)."""
    found = [s for s in silences if silence_matches(s, alert, at)]
    return max(found, key=lambda s: s.ends_at) if found else None


# ------------------------------------------------------------------ transitions
ALLOWED = {
    "acknowledge": (AlertStatus.open,),
    "assign": (AlertStatus.open, AlertStatus.acknowledged, AlertStatus.assigned),
    "resolve": (AlertStatus.open, AlertStatus.acknowledged, AlertStatus.assigned),
    "false_alarm": (AlertStatus.open, AlertStatus.acknowledged, AlertStatus.assigned),
}
RESULT = {"acknowledge": AlertStatus.acknowledged, "assign": AlertStatus.assigned,
          "resolve": AlertStatus.resolved, "false_alarm": AlertStatus.false_alarm}


def check_action(alert: Alert, action: str, assignee: str | None = None) -> str | None:
    """Why `action` cannot be applied to `alert` now, or None when it can (the API answers 409 with it)."""
    allowed = ALLOWED.get(action)
    if allowed is None:
        return f"unknown action {action!r}"
    if alert.status not in allowed:
        return f"cannot {action.replace('_', ' ')} an alert that is {alert.status.value}"
    if action == "assign" and not assignee:
        return "assign needs an assignee"
    return None


def _update(alert: Alert, action: str, at: float, by: str, note: str, salt: str = "") -> AlertUpdate:
    return AlertUpdate(id=alert_id("update", alert.id, action, f"{at:.6f}", salt), alert_id=alert.id, action=action,
                       status=alert.status, at=at, by=by, note=note)


def _member(signal: Alert) -> list:
    """What the manager remembers of one detector episode: its time, whether it is open, its content.

    The digest tells a redelivery (same content) from a new state with the same time, such as a smoke
    alarm republished with `inhibited_by` when a fire is confirmed.
    """
    digest = hashlib.sha1(signal.model_dump_json().encode()).hexdigest()[:16]
    return [signal.updated_at, signal.status not in CLOSED, digest]


def _bump(severity: Severity, steps: int) -> Severity:
    return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(severity) + steps)]


def _emit(state: dict, alert: Alert, updates: list[AlertUpdate]) -> Decision:
    state = {**state, "alert": alert.model_dump(mode="json")}
    return Decision(state, [alert], updates)


def _open(signal: Alert, fp: str, silence: Silence | None, before: dict | None = None) -> Decision:
    alert = signal.model_copy(update={"fingerprint": fp, "count": 1, "last_seen": signal.updated_at,
                                      "status": AlertStatus.open, "assignee": None,
                                      "silenced_by": silence.id if silence else None, "escalation": 0})
    past = [*before.get("past", []), *before["members"]][-RECENT_EPISODES:] if before else []
    state = {"members": {signal.id: _member(signal)}, "newest_at": signal.started_at, "actions": [],
             "base_severity": signal.severity.value, "since": signal.updated_at,
             "silence_ends": silence.ends_at if silence else None, "past": past}
    updates = [_update(alert, "opened", signal.updated_at, "system", signal.title)]
    if silence:
        updates.append(_update(alert, "silenced", signal.updated_at + TIE_S, silence.created_by,
                               f"silence {silence.id}: {silence.comment}".strip()))
    if signal.status in CLOSED:  # a detector that opens and clears in one message
        alert = alert.model_copy(update={"status": signal.status})
        updates.append(_update(alert, signal.status.value, signal.updated_at + 2 * TIE_S, "system",
                               "cleared by the detector"))
    return _emit(state, alert, updates)


def on_signal(state: dict | None, signal: Alert, silences: Iterable[Silence] = ()) -> Decision:
    """A detector's alert: open, group into the active alert, or update the episode it belongs to."""
    fp = fingerprint(signal)
    current = Alert.model_validate(state["alert"]) if state else None
    members = state["members"] if state else {}
    if state and signal.id in state.get("past", ()):
        return Decision(state)  # an episode of an earlier, closed alert, replayed: that alert's record has it
    if current is None or (current.status in CLOSED and signal.id not in members):
        if signal.status in CLOSED:
            return Decision(state)  # the end of an episode we never saw open: nothing to manage
        return _open(signal, fp, matching_silence(silences, signal, signal.updated_at), state)
    known = members.get(signal.id)
    if known is not None and (signal.updated_at < known[0] or _member(signal) == known):
        return Decision(state)  # redelivered or older
    if known is None and signal.status in CLOSED:
        if current.status in CLOSED:
            return Decision(state)
        # the end of an episode raised where we did not see it (a worker that has gone): the incident is over
        alert = current.model_copy(update={"status": AlertStatus.resolved, "ended_at": signal.ended_at or signal.updated_at,
                                           "updated_at": max(current.updated_at, signal.updated_at)})
        return _emit(state, alert, [_update(alert, "resolved", signal.updated_at, "system", "cleared by the detector")])
    members = {**members, signal.id: _member(signal)}
    base = max(Severity(state["base_severity"]), signal.severity, key=SEVERITIES.index)
    state = {**state, "members": members, "base_severity": base.value}
    if known is None:
        state["newest_at"] = max(state.get("newest_at", 0.0), signal.started_at)
    changes: dict = {"updated_at": max(current.updated_at, signal.updated_at), "severity": _bump(base, current.escalation),
                     "details": {**current.details, **signal.details}, "evidence": signal.evidence or current.evidence,
                     "last_seen": max(current.last_seen or 0, signal.updated_at), "title": signal.title or current.title,
                     "count": current.count + (known is None)}
    alert = current.model_copy(update=changes)
    if current.status in CLOSED:  # a late update of an episode of a closed alert: keep the record, no transition
        return _emit(state, alert, [])
    # One device's episodes follow each other: an episode ending after the newest one began means the device
    # is clear now, whichever episode it was (an older one may be the only one this worker knows of).
    cleared = signal.status in CLOSED and signal.updated_at >= state.get("newest_at", 0.0)
    if cleared or not any(is_open for _, is_open, _digest in members.values()):
        alert = alert.model_copy(update={"status": AlertStatus.resolved, "ended_at": signal.ended_at or signal.updated_at})
        return _emit(state, alert, [_update(alert, "resolved", signal.updated_at, "system", "cleared by the detector")])
    action = "grouped" if known is None else "updated"
    return _emit(state, alert, [_update(alert, action, signal.updated_at, "system",
                                        f"repeat #{alert.count}" if known is None else signal.title)])


def on_action(state: dict | None, action: AlertAction, cfg: AlertingConfig) -> Decision:
    """An operator's transition, or a timer tick (escalation, reminder, silence end)."""
    if not state or action.id in state.get("actions", ()):
        return Decision(state)
    current = Alert.model_validate(state["alert"])
    if action.alert_id != current.id:
        return Decision(state, rejected=f"alert {action.alert_id} is not the current alert of its fingerprint")
    if action.action == "tick":
        return on_tick(state, action.at, cfg)
    reason = check_action(current, action.action, action.assignee)
    if reason:
        return Decision(state, rejected=reason)
    changes: dict = {"status": RESULT[action.action], "updated_at": max(current.updated_at, action.at)}
    if action.action == "assign":
        changes["assignee"] = action.assignee
    if action.action in ("resolve", "false_alarm"):
        changes["ended_at"] = action.at
    alert = current.model_copy(update=changes)
    state = {**state, "actions": [*state.get("actions", []), action.id][-RECENT_ACTIONS:], "since": action.at,
             "reminders": 0}
    note = action.note if action.action != "assign" else f"to {action.assignee}. {action.note}".strip(". ")
    return _emit(state, alert, [_update(alert, RESULT[action.action].value, action.at, action.by, note)])


def due_at(state: dict | None, cfg: AlertingConfig) -> float | None:
    """When this alert's next timer fires: silence end, escalation or reminder; None when nothing waits."""
    if not state:
        return None
    alert = Alert.model_validate(state["alert"])
    if alert.status in CLOSED:
        return None
    if alert.silenced_by:
        return state.get("silence_ends")
    if alert.status == AlertStatus.open:
        if alert.escalation >= len(cfg.tiers) - 1:
            return None
        return state["since"] + cfg.escalate_after_s * (alert.escalation + 1)
    return state["since"] + cfg.remind_after_s * (state.get("reminders", 0) + 1)


def on_tick(state: dict, now: float, cfg: AlertingConfig) -> Decision:
    due = due_at(state, cfg)
    if due is None or now < due:
        return Decision(state)
    alert = Alert.model_validate(state["alert"])
    if alert.silenced_by:
        alert = alert.model_copy(update={"silenced_by": None, "updated_at": max(alert.updated_at, due)})
        state = {**state, "since": due, "silence_ends": None}
        return _emit(state, alert, [_update(alert, "unsilenced", due, "system", "silence ended")])
    if alert.status == AlertStatus.open:
        level = alert.escalation + 1
        alert = alert.model_copy(update={"escalation": level, "updated_at": max(alert.updated_at, due),
                                         "severity": _bump(Severity(state["base_severity"]), level)})
        note = f"unacknowledged for {due - state['since']:.0f} s: notifying {cfg.tiers[level]}"
        return _emit(state, alert, [_update(alert, "escalated", due, "system", note)])
    reminders = state.get("reminders", 0) + 1
    state = {**state, "reminders": reminders}
    holder = alert.assignee or "the control room"
    return _emit(state, alert, [_update(alert, "reminded", due, "system",
                                        f"{alert.status.value} but unresolved for {due - state['since']:.0f} s "
                                        f"(reminder {reminders} to {holder})")])
