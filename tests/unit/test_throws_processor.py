"""The thrown-object core inside the worker: what a fall becomes (alert, vision event, warnings, evidence)."""
from __future__ import annotations

import json
from pathlib import Path


from pipeline.config import Site
from pipeline.frames import HALF_COLOR, DecodedFrame
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


def test_a_large_camera_is_decoded_at_half_size_and_reported_in_its_own_pixels(tmp_path: Path) -> None:
    """A 1280x960 camera: the worker decodes at half size; floor, column and trajectory are as at full size."""
    small = site_with_facade(tmp_path)
    full_run = run_camera(builtin_processors(None)["facade"](small, small.cameras[0]))
    big = FACADE.to_dict()
    big["image_size"] = [1280, 960]
    big["facade"]["corners_px"] = {k: [2 * x, 2 * y] for k, (x, y) in big["facade"]["corners_px"].items()}
    (tmp_path / "big.json").write_text(json.dumps({**big, "camera": "cam-f"}))
    site = Site.model_validate({**small.model_dump(exclude={"base_dir"}), "base_dir": tmp_path,
                                "cameras": [{**small.cameras[0].model_dump(), "calibration": "big.json"}]})
    processor = builtin_processors(None)["facade"](site, site.cameras[0])
    assert processor.decode_mode == HALF_COLOR
    outputs = []
    for i, (t, image) in enumerate(frames(110, drop(6.0, 22.5, t0=1.0))):  # 640x480 = the half-size decode
        headers = FrameHeaders(camera="cam-f", ts=T0 + t, seq=i, width=1280, height=960)
        outputs += processor.process(DecodedFrame(headers, site.camera("cam-f"), image, image.nbytes, scale=2))
    (alert,) = [o for o in outputs if isinstance(o, Alert)]
    (small_alert,) = [o for o in full_run if isinstance(o, Alert)]
    assert (alert.details["floor"], alert.details["column"]) == (8, 2)
    assert alert.details["image_size"] == [1280, 960]
    doubled = [(2 * x, 2 * y) for _, x, y in small_alert.details["trajectory"]]
    got = [(x, y) for _, x, y in alert.details["trajectory"]]
    assert len(got) == len(doubled) and all(abs(a - b) <= 0.25 for p, q in zip(got, doubled) for a, b in zip(p, q))


def test_office_clip_through_the_workers_decode_gives_the_falls(tmp_path: Path, data_dir: Path) -> None:
    """The real clip, JPEG-encoded and taken in as the worker does (half-size decode): the two falls, floor 4."""
    import cv2

    from pipeline.frames import intake_frame, to_kafka_headers
    from tests.conftest import REPO_ROOT

    calibration = json.loads((REPO_ROOT / "tests" / "fixtures" / "facades" / "office1.json").read_text())
    (tmp_path / "office.json").write_text(json.dumps({**calibration, "camera": "cam-o"}))
    site = Site.model_validate({"site": {"id": "s1"}, "base_dir": tmp_path, "cameras": [
        {"id": "cam-o", "source": "x.mp4", "fps": 29.97, "role": "facade", "calibration": "office.json"}]})
    processor = builtin_processors(tmp_path / "evidence")["facade"](site, site.cameras[0])
    capture = cv2.VideoCapture(str(data_dir / "video" / "facade-office1.mp4"))
    alerts, i = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        headers = to_kafka_headers(FrameHeaders(camera="cam-o", ts=T0 + i / 29.97, seq=i, width=1280, height=720))
        frame = intake_frame(site, b"cam-o", headers, jpeg, lambda _c: processor.decode_mode, now=T0 + 60)
        alerts += [o for o in processor.process(frame) if isinstance(o, Alert)]
        i += 1
    processor.evidence.close()
    assert [(a.details["floor"], a.details["column"]) for a in alerts] == [(4, 2), (4, 2)]
    release_frames = [round((a.started_at - T0) * 29.97) for a in alerts]
    assert all(200 <= f <= 235 for f in release_frames), release_frames
    clips = [e for a in alerts for e in a.evidence if e.kind == "clip"]
    assert clips and all(cv2.VideoCapture(str(tmp_path / "evidence" / c.uri)).isOpened() for c in clips)
