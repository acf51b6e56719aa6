"""The pure sensor rules: open / hold / resolve with debounce and hysteresis, redelivery, time-driven rules."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import SensorConfig, Site, SiteInfo
from pipeline.messages import SensorReading
from pipeline.sensors import evaluate, tick
from pipeline.sensors.rules_config import parse_rules

T0 = 1.7e9
CFG = parse_rules({})


def site_with(*sensors: tuple[str, str]) -> Site:
    return Site(site=SiteInfo(id="t", timezone="Asia/Shanghai"),
                sensors=[SensorConfig(id=i, type=t, location=f"loc {i}", building="B1") for i, t in sensors])


def run(device: str, kind: str, series: list[tuple[float, dict]], cfg=CFG, state=None, **extra):
    """Feed (t, values) pairs; return the final state and the alerts as (t, type, status)."""
    site = site_with((device, kind))
    sensor = site.sensor(device)
    out = []
    for t, values in series:
        fields = {"values": values, **extra}
        if "alarm" in values:
            fields["alarm"] = bool(values.pop("alarm"))
        if "battery" in values:
            fields["battery"] = values.pop("battery")
        d = evaluate(state, SensorReading(device=device, type=kind, ts=T0 + t, **fields), sensor, site, cfg)
        json.dumps(d.state)  # the state must go into a Faust table as JSON
        state = d.state
        out += [(t, a.type, a.status.value, a) for a in d.alerts]
    return state, out


def kinds(out):
    return [(t, k, s) for t, k, s, _ in out]


def test_heat_fixed_temperature_opens_after_debounce_and_resolves_below_the_hysteresis_band():
    temps = [20, 58, 58, 58, 58, 56, 55, 53, 53, 53] + [53] * 60 + [50] * 70
    series = [(i * 1.0, {"temperature_c": float(v)}) for i, v in enumerate(temps)]
    cfg = parse_rules({"defaults": {"heat": {"rate_of_rise_c_per_min": None, "prewarn_temp_c": None}}})
    _, out = run("h1", "heat", series, cfg)
    assert kinds(out)[0] == (4.0, "heat_alarm", "open")  # 58 C at t=1, held 3 s
    opened = out[0][3]
    assert opened.details["trigger"] == "fixed_temperature" and opened.severity.value == "high"
    # 56 and 55 stay inside the 3 C band (>= 54); 53 starts the 60 s clear timer at t=7
    assert kinds(out)[1] == (67.0, "heat_alarm", "resolved")
    assert out[1][3].id == opened.id and out[1][3].ended_at == T0 + 67


def test_heat_spike_shorter_than_debounce_gives_nothing():
    series = [(float(i), {"temperature_c": 60.0 if i == 5 else 20.0}) for i in range(40)]
    cfg = parse_rules({"defaults": {"heat": {"rate_of_rise_c_per_min": None}}})
    assert run("h1", "heat", series, cfg)[1] == []


def test_heat_rate_of_rise_says_so_and_prewarning_is_separate():
    series = [(float(i), {"temperature_c": 20.0 + max(0, i - 40) * 0.2}) for i in range(200)]  # 12 C/min
    _, out = run("h1", "heat", series)
    first = out[0][3]
    assert first.type == "heat_alarm" and first.details["trigger"] == "rate_of_rise"
    assert first.details["temperature_c"] < 57
    assert "heat_prewarning" in [k for _, k, s, _ in out if s == "open"]


def test_slow_warming_room_gives_no_rate_of_rise_alarm():
    series = [(float(i * 10), {"temperature_c": 20.0 + i * 0.5}) for i in range(50)]  # 3 C/min up to 44.5 C
    assert run("h1", "heat", series)[1] == []


def test_redelivered_and_late_readings_give_no_second_alert():
    series = [(float(i), {"temperature_c": 70.0}) for i in range(10)]
    state, out = run("h1", "heat", series)
    assert len([o for o in out if o[1] == "heat_alarm"]) == 1
    site = site_with(("h1", "heat"))
    for t in (9.0, 3.0, 0.0):  # the same readings again, and older ones
        again = evaluate(state, SensorReading(device="h1", type="heat", ts=T0 + t, values={"temperature_c": 70.0}),
                         site.sensor("h1"), site, CFG)
        assert again.alerts == [] and again.state == state and not again.changed
    cold = evaluate(state, SensorReading(device="h1", type="heat", ts=T0 + 5, values={"temperature_c": 20.0}),
                    site.sensor("h1"), site, CFG)
    assert cold.alerts == [] and cold.state == state  # a late "all clear" cannot clear a live alarm


def test_replaying_from_an_older_state_gives_the_same_ids():
    series = [(float(i), {"temperature_c": 70.0}) for i in range(10)]
    _, first = run("h1", "heat", series)
    _, second = run("h1", "heat", series)
    assert [o[3].id for o in first] == [o[3].id for o in second]


def test_smoke_flag_opens_and_resolves_with_one_id():
    series = [(0.0, {"alarm": 1}), (1.0, {"alarm": 1}), (2.0, {"alarm": 0}), (5.0, {"alarm": 1}),
              (6.0, {"alarm": 0}), (20.0, {"alarm": 0})]
    _, out = run("s1", "smoke", series)
    assert kinds(out) == [(0.0, "smoke_alarm", "open"), (20.0, "smoke_alarm", "resolved")]  # 10 s clear bridges t=5
    assert out[0][3].id == out[1][3].id


def test_smoke_obscuration_threshold_besides_the_flag():
    cfg = parse_rules({"defaults": {"smoke": {"obscuration_pct_per_m": 4.0, "clear_s": 0}}})
    series = [(0.0, {"obscuration_pct_per_m": 1.0}), (1.0, {"obscuration_pct_per_m": 4.5}),
              (2.0, {"obscuration_pct_per_m": 3.8}), (3.0, {"obscuration_pct_per_m": 3.0})]
    _, out = run("s1", "smoke", series, cfg)
    assert kinds(out) == [(1.0, "smoke_alarm", "open"), (3.0, "smoke_alarm", "resolved")]


def test_gas_warning_then_alarm_then_both_clear():
    lel = [0, 12, 12, 12, 30, 30, 30, 24, 9, 5, 5] + [5] * 40
    _, out = run("g1", "gas", [(float(i), {"lel_pct": float(v)}) for i, v in enumerate(lel)])
    opened = [(t, k) for t, k, s in kinds(out) if s == "open"]
    resolved = [k for t, k, s in kinds(out) if s == "resolved"]
    assert opened == [(3.0, "gas_warning"), (6.0, "gas_alarm")]
    assert sorted(resolved) == ["gas_alarm", "gas_warning"]
    alarm = next(o[3] for o in out if o[1] == "gas_alarm")
    assert alarm.severity.value == "critical"


def test_manhole_vehicle_passing_gives_nothing_but_a_lifted_cover_does():
    passing = [(i * 0.5, {"tilt_deg": 25.0 if 10 <= i <= 13 else 0.5}) for i in range(200)]  # 1.5 s tilt
    assert run("m1", "manhole", passing)[1] == []
    lifted = [(float(i), {"tilt_deg": 30.0 if 5 <= i < 100 else 1.0}) for i in range(130)]
    _, out = run("m1", "manhole", lifted)
    assert kinds(out) == [(35.0, "manhole_tilt", "open"), (110.0, "manhole_tilt", "resolved")]


def test_report_on_change_manhole_opens_on_tick_without_new_readings():
    site = site_with(("m1", "manhole"))
    sensor = site.sensor("m1")
    state = evaluate(None, SensorReading(device="m1", type="manhole", ts=T0, values={"tilt_deg": 40.0}),
                     sensor, site, CFG).state
    assert tick(state, sensor, site, CFG, T0 + 20).alerts == []
    opened = tick(state, sensor, site, CFG, T0 + 31)
    (alert,) = opened.alerts
    assert alert.type == "manhole_tilt" and alert.started_at == T0 and alert.updated_at == T0 + 31
    assert tick(opened.state, sensor, site, CFG, T0 + 40).alerts == []  # held, not reopened


def test_manhole_flood_mark():
    cfg = parse_rules({"defaults": {"manhole": {"water_level_mark_cm": 50}}})
    series = [(float(i), {"water_level_cm": 60.0 if i < 30 else 10.0}) for i in range(60)]
    _, out = run("m1", "manhole", series, cfg)
    assert kinds(out) == [(10.0, "manhole_flood", "open"), (40.0, "manhole_flood", "resolved")]


def lift(t, moving, at_floor, closed, button=0.0, fault=0.0):
    return (float(t), {"moving": moving, "at_floor": at_floor, "door_closed": closed, "alarm_button": button,
                       "door_fault": fault})


def test_elevator_entrapment_after_60_s_between_floors_with_doors_shut():
    normal = [lift(t, 1, 0, 1) for t in range(0, 20)] + [lift(t, 0, 1, 0) for t in range(20, 40)]
    assert run("e1", "elevator", normal)[1] == []
    stuck = [lift(t, 1, 0, 1) for t in range(0, 10)] + [lift(t, 0, 0, 1) for t in range(10, 100)] + \
            [lift(t, 0, 1, 0) for t in range(100, 120)]
    _, out = run("e1", "elevator", stuck)
    assert kinds(out) == [(70.0, "elevator_entrapment", "open"), (105.0, "elevator_entrapment", "resolved")]


def test_elevator_alarm_button_and_door_fault():
    series = [lift(0, 0, 1, 1), lift(1, 0, 1, 1, button=1), lift(2, 0, 1, 1)] + \
             [lift(t, 1, 0, 0) for t in range(3, 12)] + [lift(t, 0, 1, 1) for t in range(12, 60)]
    _, out = run("e1", "elevator", series)
    assert (1.0, "elevator_alarm", "open") in kinds(out)
    assert (8.0, "elevator_door_fault", "open") in kinds(out)  # open while moving from t=3, 5 s
    assert {k for _, k, s in kinds(out) if s == "resolved"} == {"elevator_alarm", "elevator_door_fault"}


def test_battery_low_with_hysteresis():
    series = [(0.0, {"battery": 50.0}), (1.0, {"battery": 19.0}), (2.0, {"battery": 22.0}), (3.0, {"battery": 26.0})]
    _, out = run("s1", "smoke", series)
    assert kinds(out) == [(1.0, "battery_low", "open"), (3.0, "battery_low", "resolved")]


def ts_at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def test_elderly_no_activity_counts_daytime_only_and_resolves_on_movement():
    site = site_with(("pir-1", "motion"))
    sensor = site.sensor("pir-1")
    last = ts_at("2027-03-01T20:00:00")  # 2 daytime hours left that day, night does not count
    state = evaluate(None, SensorReading(device="pir-1", type="motion", ts=last, values={"motion": 1.0}),
                     sensor, site, CFG).state
    assert tick(state, sensor, site, CFG, ts_at("2027-03-02T16:59:00")).alerts == []
    fired = tick(state, sensor, site, CFG, ts_at("2027-03-02T17:30:00"))
    (alert,) = fired.alerts
    assert alert.type == "elderly_no_activity" and alert.started_at == ts_at("2027-03-02T17:00:00")
    # a heartbeat without motion does not count as activity; movement resolves
    beat = evaluate(fired.state, SensorReading(device="pir-1", type="motion", ts=ts_at("2027-03-02T17:40:00"),
                                               values={"motion": 0.0}), sensor, site, CFG)
    assert beat.alerts == []
    moved = evaluate(beat.state, SensorReading(device="pir-1", type="motion", ts=ts_at("2027-03-02T18:00:00"),
                                               values={"motion": 1.0}), sensor, site, CFG)
    assert [(a.id, a.status.value) for a in moved.alerts] == [(alert.id, "resolved")]


@pytest.mark.parametrize("family", ["heat", "gas", "manhole"])
def test_readings_without_the_value_hold_the_last_verdict(family):
    key = {"heat": "temperature_c", "gas": "lel_pct", "manhole": "tilt_deg"}[family]
    series = [(float(i), {key: 80.0}) for i in range(3)] + [(float(i), {"other": 1.0}) for i in range(3, 80)]
    _, out = run("d1", family, series)
    assert all(s == "open" for _, _, s, _ in out) and out  # heartbeats neither clear nor reopen


def test_tick_resolves_an_alarm_whose_clear_time_passes_without_readings(site):
    """A detector that reports 'clear' once and then stays quiet must still see its alert resolve."""
    from pipeline.messages import SensorReading
    from pipeline.sensors import evaluate, tick

    sensor = site.sensor("smoke-t1")
    on = SensorReading(device="smoke-t1", type="smoke", ts=1.7e9, alarm=True)
    off = SensorReading(device="smoke-t1", type="smoke", ts=1.7e9 + 5, alarm=False)
    opened = evaluate(None, on, sensor, site)
    clearing = evaluate(opened.state, off, sensor, site)
    assert clearing.alerts == []  # clear_s (10 s) has not passed yet
    assert tick(clearing.state, sensor, site, None, 1.7e9 + 9).alerts == []
    (resolved,) = tick(clearing.state, sensor, site, None, 1.7e9 + 16).alerts
    assert resolved.id == opened.alerts[0].id and resolved.status.value == "resolved"
