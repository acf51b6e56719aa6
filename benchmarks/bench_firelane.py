"""Fire-lane core benchmark: detector latency, inferences saved by motion gating, stopped-vehicle recall.

Run: .venv/bin/python -m benchmarks.bench_firelane   (about 5 minutes on 2 cores; JSON in benchmarks/results/)
Ultralytics' own predictor on the same ONNX file is the baseline when `ultralytics` is importable
(it pulls PyTorch, so it lives in a separate venv, e.g. .venv-ultra); otherwise that row says why it is missing.
"""
from __future__ import annotations

import collections
import json
import statistics
import sys
import time
from pathlib import Path

import cv2

from benchmarks.common import DATA, RESULTS, machine, table
from pipeline.config import ZoneConfig
from pipeline.settings import REPO_ROOT
from pipeline.vision.firelane.core import FireLaneCore
from pipeline.vision.firelane.detector import YoloDetector
from pipeline.vision.firelane.evaluate import is_false_event, score, stops
from pipeline.vision.firelane.gating import MotionGate
from pipeline.vision.firelane.mot import frames as mot_frames
from pipeline.vision.firelane.mot import read_mot

MODELS = REPO_ROOT.parent / "shared" / "models"
ROADTRACK = DATA / "tracks" / "roadtrack-parking"
WHOLE = [(0, 0), (4000, 0), (4000, 4000), (0, 4000)]


def median_ms(fn, repeat: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def detector_latency() -> dict:
    image = cv2.imread(str(DATA / "images" / "bus.jpg"))
    out = {}
    for size in ("640", "320"):
        detector = YoloDetector(MODELS / f"yolov8n-coco-int8-{size}.onnx")
        out[f"int8-{size} compute"] = detector.compute
        out[f"int8-{size} 1 frame"] = median_ms(lambda: detector.detect(image))
        out[f"int8-{size} batch of 4 (per frame)"] = median_ms(lambda: detector.detect_batch([image] * 4), 8) / 4
        out[f"int8-{size} dynamic batch"] = detector.dynamic_batch
        as_stored = YoloDetector(MODELS / f"yolov8n-coco-int8-{size}.onnx", compute="model")
        out[f"int8-{size} 1 frame, int8 graph as stored"] = median_ms(lambda: as_stored.detect(image))
    return out


def ultralytics_latency() -> dict:
    try:
        from ultralytics import YOLO
    except ImportError:
        return {"skipped": "ultralytics is not importable here; run this module with a venv that has it "
                           "(python -m venv .venv-ultra && .venv-ultra/bin/pip install ultralytics -e .)"}
    image = cv2.imread(str(DATA / "images" / "bus.jpg"))
    out = {}
    for size in ("640", "320"):
        model = YOLO(str(MODELS / f"yolov8n-coco-int8-{size}.onnx"), task="detect")
        out[f"int8-{size} 1 frame"] = median_ms(lambda: model.predict(image, imgsz=int(size), verbose=False))
    return out


def read_video(path: Path, limit: int | None = None) -> tuple[list, float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while limit is None or len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames, fps


def gating_savings() -> dict:
    out = {}
    for path in sorted((DATA / "video").iterdir()):
        frames, fps = read_video(path)
        static = MotionGate([WHOLE], confirm_s=5.0)
        for i in range(len(frames)):
            static.should_run(frames[0], i / fps)
        moving = MotionGate([WHOLE], confirm_s=5.0)
        for i, image in enumerate(frames):
            moving.should_run(image, i / fps)
        out[path.name] = {"static_saved": static.saved, "clip_saved": moving.saved, "frames": len(frames)}
    return out


def roadtrack_recall(grace_s: float = 5.0) -> dict:
    zone = ZoneConfig(id="lane", kind="fire_lane", camera="cam", polygon=WHOLE, grace_s=grace_s, clear_s=10)
    totals = collections.Counter()
    delays, per_seq, frames_total, started = [], {}, 0, time.perf_counter()
    for seq in sorted(p.name for p in ROADTRACK.iterdir()):
        core = FireLaneCore("cam", [zone], fps=10.0)
        events = []
        for number, detections in mot_frames(read_mot(ROADTRACK / seq / "data" / "det" / "yolo11m_nms05.txt")):
            result = core.process_detections(detections, (number - 1) / 10.0)
            events += [_event(t.episode) for t in result.transitions if t.kind == "resolved"]
            frames_total += 1
        events += [_event(e) for e in core.open_episodes().values()]
        gt = ROADTRACK / seq / "data" / "gt" / "gt.txt"
        vehicles, never = stops(gt, 10.0)
        s = score(events, vehicles, gt, 10.0)
        false_events = sum(is_false_event(e, vehicles) for e in events)
        totals.update(vehicles=s.vehicles, found=s.found, false_objects=s.false_objects, false_events=false_events,
                      events=len(events), never_stop=never)
        delays += s.delays
        per_seq[seq] = {"vehicles": s.vehicles, "found": s.found, "false_objects": s.false_objects}
    elapsed = time.perf_counter() - started
    return {**totals, "recall": totals["found"] / totals["vehicles"], "median_delay_s": statistics.median(delays),
            "frames": frames_total, "frames_per_s": frames_total / elapsed, "grace_s": grace_s, "per_sequence": per_seq}


def _event(episode: dict) -> dict:
    def xywh(b):
        return [b[0], b[1], b[2] - b[0], b[3] - b[1]]
    return {"objects": [{"box": xywh(o["box"]), "since": o["since"], "at": o["at"]} for o in episode["objects"]],
            "t_end": episode.get("end")}


def clip_findings(every: int = 10) -> dict:
    detector = YoloDetector(MODELS / "yolov8n-coco-int8-640.onnx")
    out = {}
    for path in sorted((DATA / "video").iterdir()):
        frames, _ = read_video(path)
        counts, best = collections.Counter(), {}
        sampled = frames[::every]
        for image in sampled:
            found = detector.detect(image)
            for name, conf in zip(found.data["class_name"], found.confidence):
                counts[name] += 1
                best[name] = max(best.get(name, 0.0), float(conf))
        out[path.name] = {"frames_sampled": len(sampled),
                          "per_frame": {k: round(v / len(sampled), 2) for k, v in counts.most_common()},
                          "best_score": {k: round(v, 2) for k, v in best.items()}}
    return out


def latency_only() -> None:
    """Detector latency side by side with Ultralytics' predictor (run in a venv that has ultralytics)."""
    latency, baseline = detector_latency(), ultralytics_latency()
    rows = [("figure", "ours (ms/frame)", "ultralytics predictor (ms/frame)", "speed-up")]
    for size in ("640", "320"):
        ours, theirs = latency[f"int8-{size} 1 frame"], baseline.get(f"int8-{size} 1 frame")
        stored = latency[f"int8-{size} 1 frame, int8 graph as stored"]
        rows.append((f"int8-{size} on bus.jpg, same ONNX file, same run ({latency[f'int8-{size} compute']})",
                     f"{ours:.1f}", f"{theirs:.1f}" if theirs else "skipped", f"{theirs / ours:.2f}x" if theirs else "-"))
        rows.append((f"  ours running the int8 graph as stored", f"{stored:.1f}",
                     f"{theirs:.1f}" if theirs else "skipped", f"{theirs / stored:.2f}x" if theirs else "-"))
    print(f"machine: {machine()}\ncommand: python -m benchmarks.bench_firelane --only latency\n")
    print(table(rows))
    if "skipped" in baseline:
        print(f"\nultralytics baseline: {baseline['skipped']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "firelane-latency.json").write_text(json.dumps({"machine": machine(), "ours_ms": latency,
                                                              "ultralytics_ms": baseline}, indent=2))


def main() -> None:
    if "--only" in sys.argv and sys.argv[sys.argv.index("--only") + 1:][:1] == ["latency"]:
        latency_only()
        return
    print(f"machine: {machine()}", file=sys.stderr)
    latency = detector_latency()
    baseline = ultralytics_latency()
    gating = gating_savings()
    recall = roadtrack_recall()
    findings = clip_findings()
    command = ".venv/bin/python -m benchmarks.bench_firelane"
    rows = [("figure", "ours", "baseline", "ratio", "target")]
    for size in ("640", "320"):
        ours = latency[f"int8-{size} 1 frame"]
        theirs = baseline.get(f"int8-{size} 1 frame")
        rows.append((f"detector latency int8-{size}, ms/frame ({latency[f'int8-{size} compute']})", f"{ours:.1f}",
                     f"{theirs:.1f} (ultralytics)" if theirs else "skipped", f"{theirs / ours:.2f}x" if theirs else "-", "-"))
        stored = latency[f"int8-{size} 1 frame, int8 graph as stored"]
        rows.append(("  the int8 graph as stored, ms/frame", f"{stored:.1f}", f"{ours:.1f} (float path)",
                     f"{stored / ours:.2f}x", "-"))
        rows.append((f"  batch of 4, ms/frame (dynamic batch: {latency[f'int8-{size} dynamic batch']})",
                     f"{latency[f'int8-{size} batch of 4 (per frame)']:.1f}", f"{ours:.1f} (1 frame)",
                     f"{ours / latency[f'int8-{size} batch of 4 (per frame)']:.2f}x", "-"))
    static = min(v["static_saved"] for v in gating.values())
    rows.append(("inferences saved by gating, static scene (worst clip)", f"{static:.1%}", "0 % (no gating)", "-", ">= 90 %"))
    for name, v in gating.items():
        rows.append((f"  saved on real clip {name}", f"{v['clip_saved']:.1%}", "0 %", "-", "-"))
    rows.append((f"stopped-vehicle recall, 50 RoadTrack seqs, +-10 s (grace {recall['grace_s']:.0f} s)",
                 f"{recall['recall']:.3f} ({recall['found']}/{recall['vehicles']})", "-", "-", ">= 0.95"))
    rows.append((f"  false events (none of its objects a stopped gt vehicle), of {recall['events']}",
                 str(recall["false_events"]), "-", "-", "0"))
    rows.append(("  false objects (reported where no gt vehicle stood)", str(recall["false_objects"]), "-", "-", "-"))
    rows.append(("  median delay grace-end minus gt stop, s", f"{recall['median_delay_s']:.1f}", "-", "-", "-"))
    rows.append(("  MOT path throughput, frames/s", f"{recall['frames_per_s']:.0f}", "-", "-", "-"))
    print(f"machine: {machine()}\ncommand: {command}\n")
    print(table(rows))
    if "skipped" in baseline:
        print(f"\nultralytics baseline: {baseline['skipped']}")
    print("\ndetector (int8-640) on the sample clips, every 10th frame: mean detections per frame, best score")
    for name, v in findings.items():
        print(f"  {name}: {v['per_frame']} best {v['best_score']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"machine": machine(), "command": command, "latency_ms": latency, "ultralytics_ms": baseline,
              "gating": gating, "roadtrack": recall, "clip_findings": findings}
    (RESULTS / "firelane.json").write_text(json.dumps(result, indent=2, default=float))
    print(f"\nwrote {RESULTS / 'firelane.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
