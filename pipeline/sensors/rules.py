"""Per-device rule evaluation: `evaluate` on each reading, `tick` on the clock. Pure functions of JSON state.

The state of one device (the value of a changelog-backed table keyed by device id):

    {"v": 1, "last_ts": <ts of the newest reading applied>,
     "latches": {<alert type>: <latch, see latch.py>}, "mem": {<rule memory: heat history, last activity>}}

Why `last_ts`: under at-least-once delivery a reading can arrive twice or late; a reading not
newer than the last one applied is ignored whole, so it can neither open a second alert nor
clear a real one. Alert ids come from (type, device, when the condition began), so a
worker that replays from an older state after a crash re-emits the same ids, not new ones.

Why `out`: the worker writes this state to its changelog before it publishes the alerts the step
produced. A worker killed between the two leaves a state that already counts the reading (or tick) as
applied, and the redelivered message would change nothing: the alert would be lost. So the state keeps
the alerts of its last step, `"out": {"at": <reading ts or tick time>, "alerts": [...]}`, and a
redelivery of that very message publishes them again (downstream drops repeats by alert id and content).

Why `tick`: some conditions must fire with no new reading: a device that reports on change
(a tilted manhole cover says so once), and "nothing happened for 12 hours". `tick` re-steps
every latch with its last verdict at `now`; call it every few seconds per device.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.alerts.record import alert_id, resolve
from pipeline.config import SensorConfig, Site
from pipeline.messages import Alert, BroadcastCommand, SensorReading
from pipeline.sensors import activity, elevator, thresholds
from pipeline.sensors.condition import Condition
from pipeline.sensors.latch import Event, is_idle, step
from pipeline.sensors.rules_config import RuleSet, RulesConfig

STATE_VERSION = 1
ALL_CONDITIONS: tuple[Condition, ...] = thresholds.CONDITIONS + elevator.CONDITIONS + activity.CONDITIONS


@dataclass(frozen=True)
class Decision:
    state: dict | None  # the state to keep (None: nothing worth keeping)
    changed: bool  # whether anything but `last_ts` moved; skipping the write when False is safe
    alerts: list[Alert]
    broadcasts: list[BroadcastCommand] = field(default_factory=list)


def rules_for(cfg: RulesConfig | RuleSet | None, site: Site, sensor: SensorConfig) -> RuleSet:
    if isinstance(cfg, RuleSet):
        return cfg
    return (cfg or _DEFAULT).for_device(site.site.id, sensor.id)


_DEFAULT = RulesConfig()


def conditions_for(rules: RuleSet, sensor: SensorConfig) -> list[Condition]:
    families = rules.families_for(sensor.type)
    return [c for c in ALL_CONDITIONS if c.family in families]


def evaluate(state: dict | None, reading: SensorReading, sensor: SensorConfig, site: Site,
             cfg: RulesConfig | RuleSet | None = None) -> Decision:
    """Apply one reading of `sensor`; readings not newer than the last applied one change nothing.

    The redelivery of the reading last applied gives its alerts again (see `out` above).
    """
    if state is not None and state.get("last_ts") is not None and reading.ts <= state["last_ts"]:
        return Decision(state, False, replayed(state, reading.ts))
    decision = _advance(state, reading, reading.ts, sensor, site, rules_for(cfg, site, sensor))
    return Decision(dict(decision.state, last_ts=reading.ts), decision.changed, decision.alerts)


def tick(state: dict | None, sensor: SensorConfig, site: Site, cfg: RulesConfig | RuleSet | None,
         now: float) -> Decision:
    """Advance time-driven rules to `now` without a reading (held conditions, no-activity)."""
    if state is None or (state.get("last_ts") is not None and now <= state["last_ts"]):
        return Decision(state, False, [])
    again = replayed(state, now)
    if again:
        return Decision(state, False, again)
    return _advance(state, None, now, sensor, site, rules_for(cfg, site, sensor))


def replayed(state: dict, at: float) -> list[Alert]:
    """The alerts of the step made at `at`, when that was the last step that produced any."""
    out = state.get("out")
    if not out or out["at"] != at:
        return []
    return [Alert.model_validate(alert) for alert in out["alerts"]]


def _advance(state: dict | None, reading: SensorReading | None, now: float, sensor: SensorConfig, site: Site,
             rules: RuleSet) -> Decision:
    state = state or {"v": STATE_VERSION, "last_ts": None, "latches": {}, "mem": {}}
    latches = dict(state["latches"])
    mem = {**state["mem"], "tz": site.site.timezone}
    alerts: list[Alert] = []
    for cond in conditions_for(rules, sensor):
        before = latches.get(cond.alert_type)
        is_open = bool(before and before["open"])
        measured = cond.measure(reading, now, is_open, rules, mem)
        if measured is None and (before is None or not (before["active"] or before["open"])):
            continue  # no data and nothing held or clearing: nothing to advance
        confirm_s, clear_s = cond.timing(rules)
        if measured is None:
            after, event = step(before, before["active"], now, confirm_s, clear_s)
        else:
            after, event = step(before, measured.active, now, confirm_s, clear_s, measured.since, measured.details)
        if event is not None:
            alerts.append(_alert(cond, event, before, after, now, sensor, site))
        if is_idle(after):
            latches.pop(cond.alert_type, None)
        else:
            latches[cond.alert_type] = after
    mem.pop("tz")
    changed = latches != state["latches"] or mem != state["mem"]
    new_state = {**state, "latches": latches, "mem": mem}
    if alerts:
        new_state["out"] = {"at": now, "alerts": [alert.model_dump(mode="json") for alert in alerts]}
    elif changed:
        new_state.pop("out", None)  # an older step's alerts are no longer the last ones
    return Decision(new_state, changed, alerts)


def _alert(cond: Condition, event: Event, before: dict | None, after: dict, now: float, sensor: SensorConfig,
           site: Site) -> Alert:
    episode = after if event == "open" else before
    opened = build_alert(cond, episode, sensor, site)
    return opened if event == "open" else resolve(opened, max(now, opened.updated_at))


def build_alert(cond: Condition, latch: dict, sensor: SensorConfig, site: Site) -> Alert:
    """The alert of one latch episode; the same episode always gives the same id and content."""
    started = latch["since"]
    return Alert(
        id=alert_id(cond.alert_type, sensor.id, f"{started:.3f}"),
        type=cond.alert_type,
        severity=cond.severity,
        site=site.site.id,
        location=sensor.location,
        device=sensor.id,
        started_at=started,
        updated_at=latch["opened_at"],
        title=cond.title.format(sensor_type=sensor.type.value, device=sensor.id, location=sensor.location or "-"),
        details={"sensor_type": sensor.type.value, **latch.get("details", {})},
    )
