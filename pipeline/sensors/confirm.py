"""Fire confirmation: smoke and heat alarms in one location make one critical `fire_confirmed` alert.

Why a second stage keyed by location, not by device: the two partial alarms come from two
devices, which the per-device stage sees on different partitions. Repartition the alerts
of type smoke_alarm / heat_alarm by `confirm_key(alert)` and call `confirm` there.

Two partials confirm a fire when their active times come within `window_s` of each other
(both open at once, or one resolved less than `window_s` before the other began). The fire
alert's id comes from the location and the earliest partial's start, so a redelivered or
replayed partial finds the fire already in the state and emits nothing new. The partials
are republished with `details.inhibited_by` (the operator sees one incident, not three),
each loudspeaker of the building's zone gets one evacuation command, and the fire resolves
when every partial in it has resolved.

State per location key (JSON):
    {"partials": {<alert id>: {"type", "status", "started_at", "ended_at", "alert": <Alert JSON>}},
     "fire": {"alert": <Alert JSON>, "partials": [<alert id>, ...]} | None}
"""
from __future__ import annotations

from pipeline.alerts.record import alert_id, resolve
from pipeline.config import Site
from pipeline.messages import Alert, AlertStatus, BroadcastCommand, BroadcastPriority, Severity
from pipeline.sensors.rules import Decision
from pipeline.sensors.rules_config import FireConfirmation, RulesConfig

PARTIAL_TYPES = ("smoke_alarm", "heat_alarm")
ENDED = (AlertStatus.resolved, AlertStatus.false_alarm)


def confirm_key(alert: Alert) -> str:
    """The key to repartition partial alarms by: site and location (the device if it has no location)."""
    return f"{alert.site}|{alert.location or alert.device}"


def confirm(state: dict | None, alert: Alert, now: float, site: Site,
            cfg: RulesConfig | FireConfirmation | None = None) -> Decision:
    """Feed one smoke/heat alert (open or resolved) of one location; other alert types pass untouched."""
    if alert.type not in PARTIAL_TYPES:
        return Decision(state, False, [])
    rules = cfg if isinstance(cfg, FireConfirmation) else (cfg or RulesConfig()).fire_confirmation
    state = state or {"partials": {}, "fire": None}
    status = "resolved" if alert.status in ENDED else "open"
    known = state["partials"].get(alert.id)
    if known is not None and (known["status"] == status or known["status"] == "resolved"):
        return Decision(state, False, [])  # a duplicate, or an "open" overtaken by its resolution
    partials = dict(state["partials"])
    partials[alert.id] = {"type": alert.type, "status": status, "started_at": alert.started_at,
                          "ended_at": alert.ended_at, "alert": alert.model_dump(mode="json")}
    fire = state["fire"]
    if fire is None:
        return _maybe_confirm(partials, alert, now, site, rules)
    return _update_fire(partials, fire, alert, now)


def _maybe_confirm(partials: dict, alert: Alert, now: float, site: Site, rules: FireConfirmation) -> Decision:
    partials = _prune(partials, now, rules.window_s)
    if alert.status in ENDED:
        return Decision({"partials": partials, "fire": None}, True, [])
    members = [pid for pid, p in partials.items() if _overlaps(p, alert, rules.window_s)]
    if {partials[m]["type"] for m in members} != set(PARTIAL_TYPES):
        return Decision({"partials": partials, "fire": None}, True, [])
    members.sort(key=lambda m: (partials[m]["started_at"], m))
    fire = _fire_alert(alert, [partials[m] for m in members], members, site, rules)
    inhibited = [_inhibit(partials[m], fire.id) for m in members]
    state = {"partials": partials, "fire": {"alert": fire.model_dump(mode="json"), "partials": members}}
    return Decision(state, True, [fire, *inhibited], _evacuation(fire, site, rules, now))


def _overlaps(partial: dict, alert: Alert, window_s: float) -> bool:
    """Active times within `window_s`: still open, or ended no more than `window_s` before `alert` began."""
    return partial["status"] == "open" or partial["ended_at"] >= alert.started_at - window_s


def _prune(partials: dict, now: float, window_s: float) -> dict:
    """Forget resolved partials too old to confirm anything (the state of a quiet location stays small)."""
    return {k: p for k, p in partials.items() if p["status"] == "open" or p["ended_at"] >= now - window_s}


def _update_fire(partials: dict, fire: dict, alert: Alert, now: float) -> Decision:
    fire_alert = Alert.model_validate(fire["alert"])
    members = list(fire["partials"])
    if alert.id not in members:
        if alert.status in ENDED:  # a partial that never joined this fire
            return Decision({"partials": partials, "fire": fire}, True, [])
        members.append(alert.id)
    out = [_inhibit(partials[alert.id], fire_alert.id)]
    if all(partials[m]["status"] == "resolved" for m in members):
        ended = max(partials[m]["ended_at"] for m in members)
        out.append(resolve(fire_alert, max(ended, fire_alert.updated_at)))
        rest = {k: p for k, p in partials.items() if k not in members}
        return Decision({"partials": rest, "fire": None}, True, out)
    return Decision({"partials": partials, "fire": {"alert": fire["alert"], "partials": members}}, True, out)


def _inhibit(partial: dict, fire_id: str) -> Alert:
    alert = Alert.model_validate(partial["alert"])
    return alert.model_copy(update={"details": {**alert.details, "inhibited_by": fire_id}})


def _fire_alert(trigger: Alert, members: list[dict], ids: list[str], site: Site, rules: FireConfirmation) -> Alert:
    started = min(p["started_at"] for p in members)
    confirmed = max(p["started_at"] for p in members)
    sensor = site.sensor(trigger.device)
    building = sensor.building if sensor else None
    devices = sorted({p["alert"]["device"] for p in members})
    return Alert(
        id=alert_id("fire_confirmed", trigger.site, trigger.location or trigger.device, f"{started:.3f}"),
        type="fire_confirmed",
        severity=Severity(rules.severity),
        site=trigger.site,
        location=trigger.location,
        device=members[0]["alert"]["device"],
        started_at=started,
        updated_at=confirmed,
        title=f"Fire confirmed at {trigger.location or trigger.device}: smoke and heat alarms",
        details={"partials": ids, "devices": devices, "building": building, "confirmed_at": confirmed,
                 "window_s": rules.window_s},
    )


def _evacuation(fire: Alert, site: Site, rules: FireConfirmation, now: float) -> list[BroadcastCommand]:
    where = fire.location or fire.device
    return [BroadcastCommand(id=alert_id("broadcast", fire.id, speaker), speaker=speaker, zone=zone,
                             priority=BroadcastPriority.evacuation,
                             text_zh=f"{where}：{rules.text_zh}"[:500], text_en=f"{where}: {rules.text_en}"[:500],
                             repeat=rules.repeat, issued_at=max(now, fire.updated_at), alert_id=fire.id)
            for speaker, zone in site.building_speakers(fire.details.get("building"))]
