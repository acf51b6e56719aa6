"""The alert manager's decisions: grouping, lifecycle, silences, escalation, idempotence."""
from __future__ import annotations

import pytest

from pipeline.alerts.manager import AlertingConfig, check_action, due_at, fingerprint, on_action, on_signal
from pipeline.messages import Alert, AlertAction, AlertStatus, Silence

T0 = 1_760_000_000.0
CFG = AlertingConfig(escalate_after_s=60, remind_after_s=120, tiers=("room", "duty", "manager"))


def signal(sid: str = "smoke-a", at: float = T0, status: str = "open", severity: str = "high", **kw) -> Alert:
    base = dict(id=sid, type="sensor_alarm", severity=severity, site="s1", device="smoke-1", location="B1 3F",
                status=status, started_at=at, updated_at=at, title="smoke")
    return Alert(**(base | kw))


def action(kind: str, alert: Alert, at: float, aid: str | None = None, **kw) -> AlertAction:
    return AlertAction(id=aid or f"act-{kind}-{at}", alert_id=alert.id, fingerprint=alert.fingerprint, action=kind,
                       by="guard-wang", at=at, **kw)


def test_repeats_of_an_active_alert_group_into_it() -> None:
    first = on_signal(None, signal("ep-1"))
    second = on_signal(first.state, signal("ep-2", at=T0 + 30))
    alert = second.alerts[0]
    assert alert.id == "ep-1" and alert.count == 2
    assert (alert.started_at, alert.last_seen) == (T0, T0 + 30)
    assert [u.action for u in second.updates] == ["grouped"]


def test_after_resolution_the_next_signal_opens_a_new_alert() -> None:
    first = on_signal(None, signal("ep-1"))
    alert = first.alerts[0]
    done = on_action(first.state, action("resolve", alert, T0 + 10, note="checked, burnt toast"), CFG)
    assert done.alerts[0].status == "resolved" and done.updates[0].by == "guard-wang"
    again = on_signal(done.state, signal("ep-2", at=T0 + 100))
    assert again.alerts[0].id == "ep-2" and again.alerts[0].count == 1
    assert [u.action for u in again.updates] == ["opened"]


def test_redelivered_signal_and_action_change_nothing() -> None:
    first = on_signal(None, signal("ep-1"))
    assert not on_signal(first.state, signal("ep-1")).changed
    ack = action("acknowledge", first.alerts[0], T0 + 5, aid="same-id")
    acked = on_action(first.state, ack, CFG)
    assert acked.changed and not on_action(acked.state, ack, CFG).changed


def test_a_replay_of_an_earlier_alerts_episode_is_not_a_repeat_of_the_current_one() -> None:
    """After a worker dies the survivor replays signals from the last committed offset onto a table that is
    already past them: episode 1 (opened and cleared) after episode 2 opened a new alert."""
    first_open, first_clear = signal("ep-1"), signal("ep-1", at=T0 + 16, status="resolved", started_at=T0)
    state = on_signal(on_signal(None, first_open).state, first_clear).state
    second = on_signal(state, signal("ep-2", at=T0 + 20))
    assert second.alerts[0].id == "ep-2" and second.alerts[0].count == 1
    for replayed in (first_open, first_clear):
        again = on_signal(second.state, replayed)
        assert not again.changed and again.state == second.state
    ended = on_signal(second.state, signal("ep-2", at=T0 + 36, status="resolved", started_at=T0 + 20))
    assert ended.alerts[0].id == "ep-2" and ended.alerts[0].count == 1 and ended.alerts[0].status == "resolved"


def test_lifecycle_records_who_when_and_note_and_refuses_bad_transitions() -> None:
    state = on_signal(None, signal("ep-1")).state
    alert = Alert.model_validate(state["alert"])
    steps = [("acknowledge", {}), ("assign", {"assignee": "grid-li"}), ("false_alarm", {"note": "cooking"})]
    for i, (kind, extra) in enumerate(steps):
        decision = on_action(state, action(kind, alert, T0 + i + 1, **extra), CFG)
        state, alert = decision.state, decision.alerts[0]
        assert decision.updates[0].at == T0 + i + 1 and decision.updates[0].by == "guard-wang"
    assert alert.status == "false_alarm" and alert.assignee == "grid-li" and alert.ended_at == T0 + 3
    assert "grid-li" in on_action(on_signal(None, signal("x")).state,
                                  action("assign", alert.model_copy(update={"id": "x"}), T0, assignee="grid-li"),
                                  CFG).updates[0].note
    refused = on_action(state, action("acknowledge", alert, T0 + 9), CFG)
    assert refused.rejected == "cannot acknowledge an alert that is false_alarm" and not refused.changed
    assert check_action(alert.model_copy(update={"status": AlertStatus.open}), "assign") == "assign needs an assignee"


def test_detector_clearing_resolves_unless_it_predates_the_newest_episode() -> None:
    state = on_signal(None, signal("ep-1")).state
    state = on_signal(state, signal("ep-2", at=T0 + 5)).state
    late = on_signal(state, signal("ep-1", at=T0 + 3, status="resolved", ended_at=T0 + 3))  # delivered late
    assert late.alerts[0].status == "open"
    cleared = on_signal(late.state, signal("ep-2", at=T0 + 9, status="resolved", ended_at=T0 + 9))
    assert cleared.alerts[0].status == "resolved" and cleared.updates[0].by == "system"


def test_an_older_episode_ending_now_means_the_device_is_clear() -> None:
    """A new worker only knows the episode its heartbeat table remembers: its end resolves the incident."""
    state = on_signal(None, signal("ep-old")).state
    state = on_signal(state, signal("ep-new", at=T0 + 50)).state
    back = on_signal(state, signal("ep-old", at=T0 + 80, status="resolved", ended_at=T0 + 80))
    assert back.alerts[0].status == "resolved"


def test_the_newest_episode_clearing_resolves_even_if_an_older_one_never_does() -> None:
    """A device_offline episode raised by a worker that died is never cleared; the newer one's clearing counts."""
    state = on_signal(None, signal("ep-old")).state
    state = on_signal(state, signal("ep-new", at=T0 + 50)).state
    cleared = on_signal(state, signal("ep-new", at=T0 + 60, status="resolved", ended_at=T0 + 60))
    assert cleared.alerts[0].id == "ep-old" and cleared.alerts[0].status == "resolved"


def test_an_unknown_episode_ending_resolves_the_open_alert_without_counting_a_repeat() -> None:
    state = on_signal(None, signal("ep-1")).state
    ended = on_signal(state, signal("ep-elsewhere", at=T0 + 9, status="resolved", ended_at=T0 + 9))
    assert ended.alerts[0].id == "ep-1" and ended.alerts[0].status == "resolved" and ended.alerts[0].count == 1
    assert not on_signal(ended.state, signal("ep-other", at=T0 + 10, status="resolved", ended_at=T0 + 10)).changed


def test_escalation_raises_severity_per_tier_until_acknowledged() -> None:
    state = on_signal(None, signal("ep-1", severity="medium")).state
    assert due_at(state, CFG) == T0 + 60
    alert = Alert.model_validate(state["alert"])
    early = on_action(state, action("tick", alert, T0 + 59), CFG)
    assert not early.changed
    first = on_action(state, action("tick", alert, T0 + 61), CFG)
    assert first.alerts[0].severity == "high" and first.alerts[0].escalation == 1
    assert "duty" in first.updates[0].note
    second = on_action(first.state, action("tick", alert, T0 + 121), CFG)
    assert second.alerts[0].severity == "critical" and "manager" in second.updates[0].note
    assert due_at(second.state, CFG) is None  # no tier left
    acked = on_action(first.state, action("acknowledge", alert, T0 + 70), CFG)
    assert due_at(acked.state, CFG) == T0 + 70 + 120  # now a reminder, not an escalation
    reminder = on_action(acked.state, action("tick", alert, T0 + 191), CFG)
    assert [u.action for u in reminder.updates] == ["reminded"]


def test_silence_mutes_new_alerts_and_its_end_unsilences() -> None:
    silence = Silence(id="maint-1", matchers={"type": "sensor_*", "location": "B1*"}, starts_at=T0 - 10,
                      ends_at=T0 + 30, created_by="admin-zhao", comment="detector maintenance")
    muted = on_signal(None, signal("ep-1"), [silence])
    assert muted.alerts[0].silenced_by == "maint-1"
    assert [u.action for u in muted.updates] == ["opened", "silenced"]
    assert due_at(muted.state, CFG) == T0 + 30  # no escalation while silenced
    alert = muted.alerts[0]
    back = on_action(muted.state, action("tick", alert, T0 + 31), CFG)
    assert back.alerts[0].silenced_by is None and back.updates[0].action == "unsilenced"
    assert due_at(back.state, CFG) == T0 + 30 + 60
    other_place = signal("ep-9", location="B2 1F")
    assert on_signal(None, other_place, [silence]).alerts[0].silenced_by is None
    expired = on_signal(None, signal("ep-8", at=T0 + 30), [silence])
    assert expired.alerts[0].silenced_by is None


@pytest.mark.parametrize("field,value", [("type", "heat_alarm"), ("site", "s2"), ("device", "smoke-2"),
                                         ("location", "B1 4F")])
def test_fingerprint_tells_incidents_apart(field: str, value: str) -> None:
    assert fingerprint(signal()) != fingerprint(signal(**{field: value}))
    assert fingerprint(signal("a")) == fingerprint(signal("b", at=T0 + 99))
