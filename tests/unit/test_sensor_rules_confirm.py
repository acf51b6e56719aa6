"""Fire confirmation keyed by location: one fire_confirmed, inhibited partials, evacuation to the right speakers."""
from __future__ import annotations

from pipeline.config import SensorConfig, Site, SiteInfo, SpeakerConfig, ZoneConfig
from pipeline.messages import SensorReading
from pipeline.sensors import confirm, confirm_key, evaluate

T0 = 1.7e9
SITE = Site(
    site=SiteInfo(id="t"),
    zones=[ZoneConfig(id="zb1", kind="building", building="B1"), ZoneConfig(id="zb2", kind="building", building="B2"),
           ZoneConfig(id="area", kind="area", building="B1")],
    speakers=[SpeakerConfig(id="spk-b1-a", zone="zb1", endpoint="http://127.0.0.1:9/a"),
              SpeakerConfig(id="spk-b1-b", zone="zb1", endpoint="http://127.0.0.1:9/b"),
              SpeakerConfig(id="spk-b2", zone="zb2", endpoint="http://127.0.0.1:9/c"),
              SpeakerConfig(id="spk-area", zone="area", endpoint="http://127.0.0.1:9/d")],
    sensors=[SensorConfig(id="smoke-1", type="smoke", location="B1 3F 301", building="B1"),
             SensorConfig(id="heat-1", type="heat", location="B1 3F 301", building="B1"),
             SensorConfig(id="heat-2", type="heat", location="B1 5F 501", building="B1")],
)


def partial(device, t, **values):
    kind = SITE.sensor(device).type.value
    alarm = values.pop("alarm", None)
    return evaluate(None, SensorReading(device=device, type=kind, ts=T0 + t, values=values, alarm=alarm),
                    SITE.sensor(device), SITE)


def opened(device, t, **values):
    (alert,) = partial(device, t, **values).alerts
    return alert


def test_smoke_and_heat_in_one_location_confirm_one_fire_and_evacuate_the_building():
    smoke = opened("smoke-1", 0, alarm=True)
    heat_state = None
    for i in range(5):
        d = evaluate(heat_state, SensorReading(device="heat-1", type="heat", ts=T0 + 20 + i, values={"temperature_c": 70.0}),
                     SITE.sensor("heat-1"), SITE)
        heat_state = d.state
        if d.alerts:
            heat = d.alerts[0]
    assert confirm_key(smoke) == confirm_key(heat)
    first = confirm(None, smoke, T0 + 1, SITE)
    assert first.alerts == [] and first.broadcasts == []
    fired = confirm(first.state, heat, T0 + 24, SITE)
    fire = fired.alerts[0]
    assert fire.type == "fire_confirmed" and fire.severity.value == "critical" and fire.started_at == T0
    inhibited = {a.id: a.details["inhibited_by"] for a in fired.alerts[1:]}
    assert inhibited == {smoke.id: fire.id, heat.id: fire.id}
    assert sorted(b.speaker for b in fired.broadcasts) == ["spk-b1-a", "spk-b1-b"]  # not B2, not the area zone
    assert all(b.priority.value == "evacuation" and b.text_zh and b.text_en and b.alert_id == fire.id
               for b in fired.broadcasts)
    # redelivery of either partial: nothing new
    for again in (heat, smoke):
        dup = confirm(fired.state, again, T0 + 30, SITE)
        assert dup.alerts == [] and dup.broadcasts == [] and not dup.changed
    # the fire resolves only when both partials have
    smoke_off = confirm(fired.state, smoke.model_copy(update={"status": "resolved", "ended_at": T0 + 100}), T0 + 100, SITE)
    assert [a.type for a in smoke_off.alerts] == ["smoke_alarm"] and smoke_off.alerts[0].details["inhibited_by"] == fire.id
    heat_off = confirm(smoke_off.state, heat.model_copy(update={"status": "resolved", "ended_at": T0 + 200}), T0 + 200, SITE)
    resolved_fire = [a for a in heat_off.alerts if a.type == "fire_confirmed"]
    assert [(a.id, a.status.value, a.ended_at) for a in resolved_fire] == [(fire.id, "resolved", T0 + 200)]
    assert heat_off.state == {"partials": {}, "fire": None}


def test_alarms_far_apart_in_time_or_place_confirm_nothing():
    smoke = opened("smoke-1", 0, alarm=True)
    state = confirm(None, smoke, T0, SITE).state
    state = confirm(state, smoke.model_copy(update={"status": "resolved", "ended_at": T0 + 10}), T0 + 10, SITE).state
    late_heat, s = None, None
    for i in range(5):
        d = evaluate(s, SensorReading(device="heat-1", type="heat", ts=T0 + 200 + i, values={"temperature_c": 70.0}),
                     SITE.sensor("heat-1"), SITE)
        s = d.state
        if d.alerts:
            late_heat = d.alerts[0]
    assert confirm(state, late_heat, T0 + 204, SITE).alerts == []  # smoke ended 190 s before: outside 60 s
    other_room, s = None, None
    for i in range(5):
        d = evaluate(s, SensorReading(device="heat-2", type="heat", ts=T0 + 1 + i, values={"temperature_c": 70.0}),
                     SITE.sensor("heat-2"), SITE)
        s = d.state
        if d.alerts:
            other_room = d.alerts[0]
    assert confirm_key(other_room) != confirm_key(smoke)


def test_other_alert_types_pass_untouched():
    battery = partial("smoke-1", 0, alarm=False)
    low = evaluate(battery.state, SensorReading(device="smoke-1", type="smoke", ts=T0 + 1, battery=5.0),
                   SITE.sensor("smoke-1"), SITE).alerts[0]
    assert confirm(None, low, T0, SITE).alerts == [] and not confirm(None, low, T0, SITE).changed
