"""The sensor rules on real recordings (../shared/data/sensors), and the offline command on them.

Measured with the default rules (also printed by `python -m benchmarks.bench_sensors`):
  FSRI fires, first heat alarm (of four ceiling positions) after ignition: 42 s, 50 s, 94 s;
  none before ignition. Smoke IoT file, alarm flag with a 10 s clear: second precision 0.999,
  second recall 1.0, all 5 labelled episodes, 4 alerts all true, delay 0 s.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchmarks.sensor_data import FIRE_RULES, FIRES, SMOKE_IOT_START, first_open, load_fire, load_smoke_labels, score
from pipeline.analyze.sensors import sensors_command, with_devices
from pipeline.ingest.sensors import Mapping, load_readings
from pipeline.sensors.replay import replay
from pipeline.sensors.rules_config import parse_rules


@pytest.mark.parametrize("name", FIRES)
def test_fsri_fires_give_heat_alarms_after_ignition_and_none_before(data_dir, name):
    fire = load_fire(data_dir, name)
    result = replay(fire.readings, fire.site, parse_rules(FIRE_RULES), tick_s=5)
    heat_opens = [a for a in result.events if a.type == "heat_alarm" and a.status.value == "open"]
    assert {a.device for a in heat_opens} == {"heat-A", "heat-B", "heat-C", "heat-D"}
    assert min(a.started_at for a in result.events) >= fire.ignition_ts  # nothing at all before ignition
    first = first_open(result.events, "heat_alarm") - fire.ignition_ts
    assert 20 <= first <= 150, first  # measured 42-94 s
    fires = {a.id for a in result.events if a.type == "fire_confirmed"}
    assert len(fires) == 1 and len(result.broadcasts) == 1  # one room, one speaker, one evacuation
    assert first_open(result.events, "fire_confirmed") - fire.ignition_ts <= 200  # measured 132-159 s


def test_smoke_iot_file_against_its_fire_alarm_column(data_dir):
    readings = load_readings(data_dir / "sensors" / "smoke_detection_iot.csv",
                             Mapping(device="smoke-iot", type="smoke", alarm_column="Fire Alarm", start=SMOKE_IOT_START))
    site = with_devices(None, readings)
    result = replay(readings, site, parse_rules({}), tick_s=5)
    s = score(load_smoke_labels(data_dir), result.events, SMOKE_IOT_START)
    assert s["second_precision"] >= 0.99 and s["second_recall"] >= 0.99
    assert s["episode_recall"] == 1.0 and s["alert_precision"] == 1.0 and s["delay_max_s"] <= 1
    assert s["alerts"] < s["label_episodes"]  # a one-second gap in the flag does not make a second alert


def test_elevator_door_recording_raises_no_entrapment_or_fault(data_dir):
    """The file has door vibration, humidity and bearing revolutions, no car position or door state:
    entrapment and door-fault rules need those, so normal operation must stay silent."""
    readings = load_readings(data_dir / "sensors" / "elevator-door-vibration.csv",
                             Mapping(device="lift-1", type="elevator", interval_s=0.25, start=SMOKE_IOT_START,
                                     limit=40000))
    replayed = replay(readings, with_devices(None, readings), parse_rules({}), tick_s=5)
    assert replayed.readings == 40000 and replayed.alerts == {}


def test_offline_command_writes_alert_lines(data_dir, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults: {smoke: {clear_s: 10}}\n")
    out = tmp_path / "out" / "alerts.jsonl"
    result = CliRunner().invoke(sensors_command, [
        str(data_dir / "sensors" / "smoke_detection_iot.csv"), "--rules", str(rules), "--out", str(out),
        "--device", "smoke-iot", "--type", "smoke", "--alarm-column", "Fire Alarm"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["smoke_alarm"] * 4
    assert all(line["device"] == "smoke-iot" and line["severity"] == "high" and line["t_end"] > line["t_start"]
               for line in lines)
    assert "4 smoke_alarm" in result.output


def test_offline_command_refuses_a_bad_rules_file_naming_the_field(data_dir, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("defaults: {heat: {fixed_temp_c: hot}}\n")
    result = CliRunner().invoke(sensors_command, [
        str(data_dir / "sensors" / "smoke_detection_iot.csv"), "--rules", str(rules), "--out", str(tmp_path / "a"),
        "--device", "d", "--type", "smoke"])
    assert result.exit_code == 2 and "defaults.heat.fixed_temp_c" in result.output
