"""The thrown-object core inside the worker: what a fall becomes (alert, vision event, warnings, evidence)."""
from __future__ import annotations

import json
from pathlib import Path


from pipeline.config import Site
from pipeline.frames import DecodedFrame
from pipeline.messages import Alert, BroadcastCommand, FrameHeaders, VisionEvent
from pipeline.vision.builtin import builtin_processors
from tests.unit.test_throws_helpers import FACADE, drop, frames

T0 = 1_795_000_000.0


def site_with_facade(tmp_path: Path, calibration: str | None = "facade.json") -> Site:
    (tmp_path / "facade.json").write_text(json.dumps({**FACADE.to_dict(), "camera": "cam-f"}))
    return Site.model_validate({
        "site": {"id": "s1"},
        "cameras": [{"id": "cam-f", "source": "x.mp4", "fps": 25, "role": "facade", "calibration": calibration,
                     "building": "B7", "location": "Building 7, east facade"}],
        "zones": [{"id": "b7", "kind": "building", "building": "B7"}, {"id": "b8", "kind": "building", "building": "B8"}],
        "speakers": [{"id": "spk-b7", "zone": "b7", "endpoint": "http://127.0.0.1:1/x"},
                     {"id": "spk-b8", "zone": "b8", "endpoint": "http://127.0.0.1:1/y"}],
        "base_dir": tmp_path})


def run_camera(processor, n: int = 110) -> list:
    outputs = []
    for i, (t, image) in enumerate(frames(n, drop(6.0, 22.5, t0=1.0))):
        headers = FrameHeaders(camera="cam-f", ts=T0 + t, seq=i, width=640, height=480)
        outputs += processor.process(DecodedFrame(headers, processor.site.camera("cam-f"), image, image.nbytes))
    return outputs


def test_a_fall_becomes_an_alert_a_vision_event_and_warnings_in_its_building(tmp_path: Path) -> None:
    site = site_with_facade(tmp_path)
    processor = builtin_processors(tmp_path / "evidence")["facade"](site, site.cameras[0])
    outputs = run_camera(processor)
    alerts = [o for o in outputs if isinstance(o, Alert)]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.type == "thrown_object" and alert.severity.value == "high"
    assert (alert.details["floor"], alert.details["column"]) == (8, 2)
    assert (alert.details["floors"], alert.details["columns"]) == (10, 4)
    assert "floor 8" in alert.location and abs(alert.started_at - (T0 + 1.0)) < 0.3
    assert len(alert.details["trajectory"]) >= 8
    assert [o.speaker for o in outputs if isinstance(o, BroadcastCommand)] == ["spk-b7"]  # its building only
    assert [o.type for o in outputs if isinstance(o, VisionEvent)] == ["thrown_object"]
    image = [e for e in alert.evidence if e.kind == "image"]
    assert image and (tmp_path / "evidence" / image[0].uri).stat().st_size > 1000
    assert run_camera(builtin_processors(None)["facade"](site, site.cameras[0]))[1].id == alert.id  # replay: same id


def test_a_facade_camera_without_calibration_is_refused_plainly(tmp_path: Path, caplog) -> None:
    site = site_with_facade(tmp_path, calibration=None)
    assert builtin_processors(None)["facade"](site, site.cameras[0]) is None
    assert "no `calibration`" in caplog.text
    broken = site_with_facade(tmp_path, calibration="missing.json")
    assert builtin_processors(None)["facade"](broken, broken.cameras[0]) is None
    assert "missing.json" in caplog.text
