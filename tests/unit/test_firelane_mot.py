"""`sca analyze fire-lane` on real RoadTrack detections (stopped vehicles on an expressway) and a real video."""
import json

import pytest
from click.testing import CliRunner

from pipeline.analyze.firelane import fire_lane_command
from pipeline.settings import REPO_ROOT
from pipeline.vision.firelane.evaluate import is_false_event, score, stops

FPS = 10.0
# A sample of the 50 sequences (the benchmark runs all): one small vehicle far away, two side by side,
# a big one close to the camera.
SEQUENCES = ["04-12_09_K221_1953", "04-15_11_K295_3", "04-12_15_K295_1087"]
WHOLE_FRAME = [[0, 0], [4000, 0], [4000, 4000], [0, 4000]]


def zones_file(tmp_path, polygon=WHOLE_FRAME, **extra):
    path = tmp_path / "zones.json"
    zone = {"id": "lane-1", "camera": "cam-1", "polygon": polygon, "grace_s": 5, "rebroadcast_s": 20,
            "max_broadcasts": 2, "clear_s": 10, **extra}
    path.write_text(json.dumps({"zones": [zone]}))
    return path


def analyze(*args):
    result = CliRunner().invoke(fire_lane_command, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def events_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("seq", SEQUENCES)
def test_stopped_vehicles_are_found_near_their_stop(data_dir, tmp_path, seq):
    root = data_dir / "tracks" / "roadtrack-parking" / seq / "data"
    out = tmp_path / "events.jsonl"
    result = analyze("--detections", root / "det" / "yolo11m_nms05.txt", "--fps", FPS,
                     "--zones", zones_file(tmp_path), "--out", out)
    events = events_of(out)
    vehicles, _ = stops(root / "gt" / "gt.txt", FPS)
    found = score(events, vehicles, root / "gt" / "gt.txt", FPS)
    assert found.recall == 1.0 and all(d <= 5 + 10 for d in found.delays)
    assert found.false_objects == 0  # nothing reported where no stopped vehicle stood
    first = events[0]
    assert first["type"] == "fire_lane_occupied" and first["zone"] == "lane-1"
    assert first["broadcasts"][0] == first["t_start"] and first["object"]["class"] in {"car", "truck", "bus"}
    assert len(first["object"]["box"]) == 4 and "frames/s" in result.output


def test_moving_traffic_alone_raises_nothing(data_dir, tmp_path):
    """Sequence 1087: the stopped car stands at the right (x > 440); the lanes at the left carry moving traffic."""
    root = data_dir / "tracks" / "roadtrack-parking" / "04-12_15_K295_1087" / "data"
    out = tmp_path / "events.jsonl"
    left = [[0, 0], [400, 0], [400, 4000], [0, 4000]]
    analyze("--detections", root / "det" / "yolo11m_nms05.txt", "--fps", FPS,
            "--zones", zones_file(tmp_path, left), "--out", out, "--grace-s", 3)
    assert events_of(out) == []


def test_event_is_judged_over_its_span_not_at_the_moment_it_was_reported(data_dir, tmp_path):
    """Sequence 506: the car stands at its place from ~23 s, its ground-truth track begins only at 29.9 s."""
    root = data_dir / "tracks" / "roadtrack-parking" / "04-15_16_K295_506" / "data"
    out = tmp_path / "events.jsonl"
    analyze("--detections", root / "det" / "yolo11m_nms05.txt", "--fps", FPS, "--zones", zones_file(tmp_path), "--out", out)
    (event,) = events_of(out)
    vehicles, _ = stops(root / "gt" / "gt.txt", FPS)
    assert event["t_start"] < vehicles[0].stop_s  # reported before the annotation starts
    assert score([event], vehicles, root / "gt" / "gt.txt", FPS).found == 1
    assert not is_false_event(event, vehicles)
    elsewhere = {**event, "objects": [{**o, "box": [o["box"][0] + 200, *o["box"][1:]]} for o in event["objects"]]}
    assert is_false_event(elsewhere, vehicles)
    over_before_the_stop = {**event, "t_end": vehicles[0].stop_s - 1}
    assert is_false_event(over_before_the_stop, vehicles)


def test_resolution_and_escalation_times(data_dir, tmp_path):
    root = data_dir / "tracks" / "roadtrack-parking" / "04-16_09_K287_0" / "data"  # the car leaves at ~28 s
    out = tmp_path / "events.jsonl"
    analyze("--detections", root / "det" / "yolo11m_nms05.txt", "--fps", FPS,
            "--zones", zones_file(tmp_path, rebroadcast_s=8), "--out", out, "--grace-s", 2, "--clear-s", 2)
    (event, *_) = events_of(out)
    assert event["t_start"] < 10 and event["t_end"] is not None and 27 < event["t_end"] < 33
    assert event["broadcasts"] == pytest.approx([event["t_start"], event["t_start"] + 8], abs=0.01)
    assert event["escalated_at"] == pytest.approx(event["t_start"] + 16, abs=0.01)


def test_video_through_the_detector(data_dir, tmp_path):
    """Cars only drive through this parking aisle: no occupancy, and gating skipped most inferences."""
    out = tmp_path / "events.jsonl"
    result = analyze(data_dir / "video" / "parking-aisle-overhead.mp4", "--zones", zones_file(tmp_path),
                     "--out", out, "--model", REPO_ROOT.parent / "shared" / "models" / "yolov8n-coco-int8-320.onnx")
    assert events_of(out) == [] and "detector ran on" in result.output


def test_clear_errors(tmp_path, data_dir):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"zones": [{"id": "x", "polygon": [[0, 0], [1, 1]]}]}))
    det = data_dir / "tracks" / "roadtrack-parking" / SEQUENCES[0] / "data" / "det" / "yolo11m_nms05.txt"
    result = CliRunner().invoke(fire_lane_command, ["--detections", str(det), "--fps", "10", "--zones", str(bad),
                                                    "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "zones[0]: polygon" in result.output
    result = CliRunner().invoke(fire_lane_command, ["--detections", str(det), "--zones", str(zones_file(tmp_path)),
                                                    "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "--fps" in result.output
