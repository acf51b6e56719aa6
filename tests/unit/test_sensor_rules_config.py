"""RULES.yaml: defaults, overrides per site and device, and errors that name the file and the field."""
from __future__ import annotations

import pytest

from pipeline.sensors.rules_config import RulesConfigError, load_rules
from pipeline.settings import REPO_ROOT


def write(tmp_path, text):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_demo_rules_load_and_builtin_defaults_apply():
    cfg = load_rules(REPO_ROOT / "sites" / "demo" / "rules.yaml")
    rules = cfg.for_device("demo-compound", "smoke-b1-3f-301")
    assert rules.heat.fixed_temp_c == 57 and rules.gas.alarm_lel_pct == 25 and rules.manhole.held_s == 30
    assert rules.elevator.stopped_s == 60 and rules.activity.window_h == 12 and rules.battery.low_pct == 20
    assert load_rules(None).for_device("x", "y").heat.rate_of_rise_c_per_min == 8.3


def test_site_and_device_overrides_merge_field_by_field(tmp_path):
    cfg = load_rules(write(tmp_path, """
defaults: {heat: {fixed_temp_c: 60}}
sites: {s1: {heat: {prewarn_temp_c: 40}}}
devices: {h-kitchen: {heat: {fixed_temp_c: 70}, values: {temperature: [t_kitchen]}}}
"""))
    kitchen = cfg.for_device("s1", "h-kitchen")
    assert (kitchen.heat.fixed_temp_c, kitchen.heat.prewarn_temp_c, kitchen.heat.sustained_s) == (70, 40, 30)
    assert kitchen.values.temperature == ["t_kitchen"]
    other = cfg.for_device("s2", "h-hall")
    assert (other.heat.fixed_temp_c, other.heat.prewarn_temp_c) == (60, 47)


@pytest.mark.parametrize("text, expected", [
    ("devices: {h1: {heat: {fixed_temp_c: -5}}}", "devices.h1.heat.fixed_temp_c"),
    ("defaults: {gas: {warning_lel_pct: 30}}", "defaults.gas"),
    ("sites: {s1: {manhole: {tilt_degs: 15}}}", "sites.s1.manhole.tilt_degs"),
    ("fire_confirmation: {window_s: -1}", "fire_confirmation.window_s"),
    ("defaults: {activity: {day_start_h: 22, day_end_h: 7}}", "day_end_h must be after day_start_h"),
    ("nonsense: 1", "nonsense"),
])
def test_errors_name_the_file_and_the_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(RulesConfigError) as err:
        load_rules(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(RulesConfigError, match="not found"):
        load_rules(tmp_path / "nope.yaml")
    with pytest.raises(RulesConfigError, match="not valid YAML"):
        load_rules(write(tmp_path, "defaults: [unclosed"))
