from pathlib import Path

import pytest

from pipeline.config import SiteConfigError, load_site
from pipeline.settings import REPO_ROOT

BASE = """
site: {id: s1}
cameras:
  - {id: cam-1, source: a.mp4, fps: 25, role: facade}
zones:
  - {id: z1, kind: building}
speakers:
  - {id: spk-1, zone: z1, endpoint: "http://127.0.0.1:9/x"}
sensors:
  - {id: smoke-1, type: smoke}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    return path


def test_demo_site_is_valid_and_its_sources_exist():
    site = load_site(REPO_ROOT / "sites" / "demo" / "site.yaml")
    assert {c.role for c in site.cameras} == {"facade", "fire_lane"}
    for camera in site.cameras:
        assert site.resolve(camera.source).exists(), camera.source


def test_valid_minimal_site_loads_with_defaults(tmp_path):
    site = load_site(write(tmp_path, BASE))
    assert site.camera("cam-1").fps == 25
    assert site.sensor("smoke-1").report_interval_s == 60
    assert site.liveness.camera_timeout_s == 30
    assert site.camera("nope") is None


def test_error_names_file_field_and_problem(tmp_path):
    path = write(tmp_path, BASE.replace("fps: 25", "fps: -1"))
    with pytest.raises(SiteConfigError) as err:
        load_site(path)
    message = str(err.value)
    assert str(path) in message
    assert "cameras[0].fps" in message
    assert "greater than 0" in message


def test_typo_in_field_name_is_rejected(tmp_path):
    with pytest.raises(SiteConfigError, match=r"cameras\[0\]\.fsp: Extra inputs are not permitted"):
        load_site(write(tmp_path, BASE.replace("fps: 25", "fsp: 25")))


def test_unknown_sensor_type_lists_choices(tmp_path):
    with pytest.raises(SiteConfigError, match=r"sensors\[0\]\.type: Input should be 'smoke'"):
        load_site(write(tmp_path, BASE.replace("type: smoke", "type: smok")))


def test_duplicate_ids_and_dangling_references(tmp_path):
    text = BASE + "  - {id: smoke-1, type: heat}\n"
    text = text.replace("zone: z1,", "zone: z9,")
    with pytest.raises(SiteConfigError) as err:
        load_site(write(tmp_path, text))
    assert "sensors[1].id: duplicate id 'smoke-1'" in str(err.value)
    assert "speakers[0].zone: no zone with id 'z9'" in str(err.value)


def test_fire_lane_zone_needs_polygon(tmp_path):
    text = BASE.replace("{id: z1, kind: building}", "{id: z1, kind: fire_lane, camera: cam-1}")
    with pytest.raises(SiteConfigError, match=r"zones\[0\]: a fire_lane zone needs"):
        load_site(write(tmp_path, text))


def test_missing_calibration_file_is_named(tmp_path):
    text = BASE.replace("role: facade}", "role: facade, calibration: facade.json}")
    with pytest.raises(SiteConfigError, match=r"cameras\[0\]\.calibration: file not found"):
        load_site(write(tmp_path, text))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(SiteConfigError, match="site file not found"):
        load_site(tmp_path / "absent.yaml")
    with pytest.raises(SiteConfigError, match="not valid YAML"):
        load_site(write(tmp_path, "site: [unclosed"))
    with pytest.raises(SiteConfigError, match="expected a mapping"):
        load_site(write(tmp_path, "- just a list"))
