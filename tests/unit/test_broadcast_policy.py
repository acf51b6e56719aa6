"""Broadcast policy: idempotency, priority and preemption, cooldown, quiet hours, volumes, failure tracking."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.broadcast.policy import BroadcastConfig, Play, Preempt, on_command, on_delivery
from pipeline.config import Site
from pipeline.messages import BroadcastCommand

TZ = ZoneInfo("Asia/Shanghai")
SITE = Site.model_validate({
    "site": {"id": "s1", "timezone": "Asia/Shanghai"},
    "zones": [{"id": "z1"}],
    "speakers": [{"id": "spk-1", "zone": "z1", "endpoint": "http://127.0.0.1:9/speakers/spk-1"}],
})
SPK = SITE.speakers[0]
CFG = BroadcastConfig()


def at(hour, minute=0, second=0):
    return datetime(2027, 3, 10, hour, minute, second, tzinfo=TZ).timestamp()


NOON = at(12)


def cmd(cid, priority="information", text="请注意", en="", now=NOON, repeat=1):
    return BroadcastCommand(id=cid, speaker="spk-1", priority=priority, text_zh=text, text_en=en, issued_at=now,
                            repeat=repeat)


def run(state, command, now):
    return on_command(state, command, now, SPK, SITE, CFG)


def plays(decision):
    return [a for a in decision.actions if isinstance(a, Play)]


def test_first_command_plays_at_normal_volume_with_both_languages():
    d = run(None, cmd("c1", "fire_lane", "消防通道禁止停车", "Do not park in the fire lane"), NOON)
    [play] = plays(d)
    assert play.volume == CFG.normal_volume and play.priority == "fire_lane"
    assert play.utterances == (("消防通道禁止停车", "cmn"), ("Do not park in the fire lane", "en"))
    assert play.text == "消防通道禁止停车" and play.voice == "cmn" and not play.preempt
    assert d.acks == [] and d.state["playing"]["command_id"] == "c1"


def test_redelivered_command_id_is_never_played_twice():
    state = run(None, cmd("c1"), NOON).state
    for later in (NOON + 1, NOON + 3600):  # also long after the cooldown
        d = run(state, cmd("c1"), later)
        assert plays(d) == [] and [a.status for a in d.acks] == ["duplicate"]
        state = d.state


def test_recent_ids_are_bounded():
    cfg = BroadcastConfig(recent_ids=3)
    state = None
    for i in range(10):
        state = on_command(state, cmd(f"c{i}", text=f"t{i}"), NOON + 100 * i, SPK, SITE, cfg).state
    assert state["recent"] == ["c7", "c8", "c9"]


def test_higher_priority_preempts_lower():
    state = run(None, cmd("info", "information", "今天下午停水" * 5), NOON).state
    d = run(state, cmd("evac", "evacuation", "请立即撤离"), NOON + 1)
    assert isinstance(d.actions[0], Preempt) and d.actions[0].interrupted == "info" and d.actions[0].by == "evac"
    [play] = plays(d)
    assert play.preempt and play.volume == CFG.evacuation_volume
    assert d.state["playing"]["command_id"] == "evac"


def test_lower_priority_is_suppressed_while_higher_plays_then_allowed():
    d0 = run(None, cmd("fl", "fire_lane", "消防通道禁止停车"), NOON)
    d = run(d0.state, cmd("info", "information", "今天下午停水"), NOON + 1)
    assert plays(d) == [] and d.acks[0].status == "suppressed" and "higher-priority fire_lane" in d.acks[0].detail
    later = d0.state["playing"]["until"] + 1
    d = run(d0.state, cmd("info2", "information", "今天下午停水", now=later), later)
    assert len(plays(d)) == 1


def test_priority_order_is_evacuation_fire_lane_thrown_object_information():
    order = ["information", "thrown_object", "fire_lane", "evacuation"]
    state = None
    for i, prio in enumerate(order):  # each one interrupts the one before
        d = run(state, cmd(f"c{i}", prio, f"消息{i}" * 10), NOON + i)
        assert len(plays(d)) == 1 and (i == 0 or plays(d)[0].preempt), prio
        state = d.state
    for i, prio in enumerate(order[:-1]):  # nothing below evacuation gets through while it plays
        d = run(state, cmd(f"x{i}", prio, f"别的{i}"), NOON + 5)
        assert d.acks[0].status == "suppressed", prio


def test_equal_priority_is_queued_not_preempted():
    d0 = run(None, cmd("a", "fire_lane", "一号消防通道禁止停车"), NOON)
    d = run(d0.state, cmd("b", "fire_lane", "二号消防通道禁止停车"), NOON + 1)
    [play] = plays(d)
    assert not play.preempt and not any(isinstance(a, Preempt) for a in d.actions)
    assert d.state["playing"]["until"] > d0.state["playing"]["until"]


def test_same_text_within_cooldown_is_suppressed_unless_evacuation():
    state = run(None, cmd("a", "thrown_object", "请勿高空抛物"), NOON).state
    d = run(state, cmd("b", "thrown_object", "请勿高空抛物", now=NOON + 20), NOON + 20)
    assert plays(d) == [] and d.acks[0].status == "suppressed" and "cooldown" in d.acks[0].detail
    d = run(d.state, cmd("c", "thrown_object", "请勿高空抛物", now=NOON + 31), NOON + 31)
    assert len(plays(d)) == 1
    state = run(None, cmd("e1", "evacuation", "请立即撤离"), NOON).state
    d = run(state, cmd("e2", "evacuation", "请立即撤离", now=NOON + 5), NOON + 5)
    assert len(plays(d)) == 1 and plays(d)[0].volume == 100


def test_different_text_is_not_in_cooldown():
    state = run(None, cmd("a", text="甲"), NOON).state
    state["playing"] = None
    assert len(plays(run(state, cmd("b", text="乙", now=NOON + 2), NOON + 2))) == 1


@pytest.mark.parametrize("hour,quiet", [(23, True), (2, True), (6, True), (7, False), (12, False), (21, False)])
def test_quiet_hours_in_the_site_timezone(hour, quiet):
    now = at(hour, 30)
    info = run(None, cmd("i", "information", now=now), now)
    fire = run(None, cmd("f", "fire_lane", "消防通道", now=now), now)
    thrown = run(None, cmd("t", "thrown_object", "请勿抛物", now=now), now)
    evac = run(None, cmd("e", "evacuation", "撤离", now=now), now)
    assert plays(evac)[0].volume == 100
    if quiet:
        assert plays(info) == [] and info.acks[0].status == "suppressed" and "quiet hours" in info.acks[0].detail
        assert plays(fire)[0].volume == CFG.quiet_volume and plays(thrown)[0].volume == CFG.quiet_volume
    else:
        assert plays(info)[0].volume == CFG.normal_volume and plays(fire)[0].volume == CFG.normal_volume


def test_quiet_hours_are_configurable_and_use_the_site_timezone():
    utc_site = SITE.model_copy(update={"site": SITE.site.model_copy(update={"timezone": "UTC"})})
    now = at(23)  # 23:00 in Shanghai is 15:00 UTC
    assert plays(on_command(None, cmd("i", now=now), now, SPK, utc_site, CFG))
    cfg = BroadcastConfig(quiet_start_h=13, quiet_end_h=14)
    d = on_command(None, cmd("i", now=at(13, 10)), at(13, 10), SPK, SITE, cfg)
    assert d.acks[0].status == "suppressed"


def test_stale_commands_are_suppressed_but_not_evacuation():
    old = NOON - 3600
    assert run(None, cmd("i", "fire_lane", now=old), NOON).acks[0].status == "suppressed"
    assert plays(run(None, cmd("e", "evacuation", now=old), NOON))


def test_unknown_speaker_is_suppressed():
    d = on_command(None, cmd("i"), NOON, None, SITE, CFG)
    assert d.acks[0].status == "suppressed" and "unknown speaker" in d.acks[0].detail


def test_state_is_json_serialisable():
    import json
    d = run(None, cmd("a", "fire_lane"), NOON)
    [play] = plays(d)
    d2 = on_delivery(d.state, play, False, NOON + 1, SPK, SITE, CFG, "boom")
    assert json.loads(json.dumps(d2.state)) == d2.state


def test_failed_delivery_frees_the_speaker_and_acks_failed():
    d = run(None, cmd("fl", "fire_lane", "消防通道禁止停车"), NOON)
    after = on_delivery(d.state, plays(d)[0], False, NOON + 1, SPK, SITE, CFG, "503")
    assert after.acks[0].status == "failed" and after.state["playing"] is None
    ok = on_delivery(d.state, plays(d)[0], True, NOON + 1, SPK, SITE, CFG)
    assert ok.acks[0].status == "delivered" and ok.state["playing"] is not None


def test_speaker_unreachable_after_n_failed_deliveries_and_resolved_on_success():
    state, alerts = None, []
    for i in range(4):
        d = run(state, cmd(f"c{i}", "fire_lane", f"消息{i}", now=NOON + 60 * i), NOON + 60 * i)
        d = on_delivery(d.state, plays(d)[0], False, NOON + 60 * i + 1, SPK, SITE, CFG)
        alerts += d.alerts
        state = d.state
        assert len(alerts) == (1 if i >= 2 else 0)
    [alert] = alerts
    assert alert.type == "speaker_unreachable" and alert.severity.value == "high" and alert.device == "spk-1"
    assert alert.started_at == NOON + 1 and alert.status.value == "open"
    d = run(state, cmd("ok", "fire_lane", "好了", now=NOON + 600), NOON + 600)
    d = on_delivery(d.state, plays(d)[0], True, NOON + 601, SPK, SITE, CFG)
    [resolved] = d.alerts
    assert resolved.id == alert.id and resolved.status.value == "resolved" and resolved.ended_at == NOON + 601
    assert d.state["link"] is None
