"""Device health as the control room sees it: fps, lag, last reading, online/offline by the site's timeouts."""
from __future__ import annotations

import orjson

from pipeline.config import load_site
from pipeline.devices import DeviceBoard, device_health
from tests.conftest import TEST_SITE as SITE_FILE


def test_camera_fps_and_lag_come_from_capture_times() -> None:
    board = DeviceBoard()
    for i in range(50):
        board.frame("cam-t1", 1000.0 + i / 12.5, i, received_at=1000.0 + i / 12.5 + 0.3)
    changed, _ = board.drain()
    entry = orjson.loads(changed["cam-t1"])
    assert abs(entry["fps"] - 12.5) < 0.01 and abs(entry["lag_s"] - 0.3) < 1e-6 and entry["seq"] == 49
    assert board.drain() == ({}, {})  # nothing changed since


def test_health_says_online_offline_and_unknown_with_the_sites_timeouts() -> None:
    site = load_site(SITE_FILE)
    board = DeviceBoard()
    camera, other = site.cameras[0].id, site.cameras[1].id
    sensor = site.sensors[0].id
    board.frame(camera, 100.0, 1, received_at=100.0)
    board.frame(other, 100.0, 1, received_at=100.0)
    board.reading(sensor, 99.0, {"obscuration_pct": 3.5}, 87.0, received_at=100.0)
    changed, series = board.drain()
    raw = {k.encode(): v for k, v in changed.items()}
    timeout = site.offline_timeout_s("camera", camera)
    health = device_health(site, raw, now=100.0 + timeout + 1)
    cams = {c["id"]: c for c in health["cameras"]}
    assert cams[camera]["status"] == "offline" and cams[camera]["last_frame_at"] == 100.0
    sensors = {s["id"]: s for s in health["sensors"]}
    assert sensors[sensor]["status"] == "online" and sensors[sensor]["battery"] == 87.0
    assert sensors[sensor]["values"] == {"obscuration_pct": 3.5}
    assert [orjson.loads(x)["ts"] for x in series[sensor]] == [99.0]
    never = [s for s in health["sensors"] if s["id"] != sensor]
    assert never and all(s["status"] == "unknown" for s in never)
