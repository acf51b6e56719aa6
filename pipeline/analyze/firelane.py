"""`sca analyze fire-lane`: the fire-lane core over a video file or recorded MOT detections, events to JSONL.

Same tracker, zones and dwell machine as the worker, so a zone file can be tuned on a recording before
it goes live. Times in the output are seconds from the first frame; `t_start` is when the grace time ran out.
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import ValidationError
from tqdm import tqdm

from pipeline.config import ZoneConfig


EVENT_TYPE = "fire_lane_occupied"


class ZoneFileError(ValueError):
    """The zones file is missing or invalid; the message names the file and the field."""


def load_zones(path: Path, overrides: dict) -> list[ZoneConfig]:
    """`{"zones": [...]}` validated with ZoneConfig (kind fire_lane: camera and polygon required)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ZoneFileError(f"{path}: cannot read zones: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("zones"), list) or not raw["zones"]:
        raise ZoneFileError(f'{path}: expected {{"zones": [{{"id", "camera", "polygon": [[x, y], ...], ...}}]}}')
    zones = []
    for i, item in enumerate(raw["zones"]):
        try:
            zones.append(ZoneConfig.model_validate({"kind": "fire_lane", "camera": "offline", **item, **overrides}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                                 for e in exc.errors())
            raise ZoneFileError(f"{path}: zones[{i}]: {problems}") from None
    return zones


def event_of(zone_id: str, episode: dict, origin: float) -> dict:
    first = episode["objects"][0] if episode["objects"] else {"class": None, "box": [0, 0, 0, 0]}

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 3)

    def xywh(box: list[float]) -> list[float]:
        return [round(box[0], 1), round(box[1], 1), round(box[2] - box[0], 1), round(box[3] - box[1], 1)]

    return {"type": EVENT_TYPE, "zone": zone_id, "t_start": rel(episode["start"]), "t_end": rel(episode.get("end")),
            "broadcasts": [rel(t) for t in episode["broadcasts"]], "escalated_at": rel(episode["escalated_at"]),
            "object": {"class": first["class"], "box": xywh(first["box"])},
            "objects": [{"class": o["class"], "box": xywh(o["box"]), "since": rel(o["since"]), "at": rel(o["at"])}
                        for o in episode["objects"]]}


def run_core(core, steps: Iterator[tuple[float, object]], total: int | None, image_input: bool) -> list[dict]:
    """Feed every frame; events of resolved episodes, then those still open at the end (t_end null)."""
    events: list[dict] = []
    started = time.perf_counter()
    frames = 0
    for ts, item in tqdm(steps, total=total, unit="frame", file=sys.stderr, desc="fire-lane"):
        result = core.process_image(item, ts) if image_input else core.process_detections(item, ts)
        events += [event_of(t.zone, t.episode, 0.0) for t in result.transitions if t.kind == "resolved"]
        frames += 1
    events += [event_of(zone_id, episode, 0.0) for zone_id, episode in core.open_episodes().items()]
    elapsed = time.perf_counter() - started
    gated = f", detector ran on {core.inferences}/{frames} frames" if image_input else ""
    click.echo(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.1f} frames/s){gated}; "
               f"{len(events)} events", err=True)
    return sorted(events, key=lambda e: (e["t_start"], e["zone"]))


def video_frames(path: Path) -> tuple[Iterator[tuple[float, np.ndarray]], float, int]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise click.UsageError(f"{path}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    return
                yield index / fps, image
                index += 1
        finally:
            capture.release()

    return frames(), fps, total


def detection_frames(path: Path, fps: float):
    from pipeline.vision.firelane.mot import MotFormatError, frames, read_mot

    try:
        rows = read_mot(path)
    except (OSError, MotFormatError) as exc:
        raise click.UsageError(str(exc)) from None
    return (((number - 1) / fps, det) for number, det in frames(rows)), int(rows[:, 0].max())


@click.command("fire-lane")
@click.argument("video", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--detections", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="MOT text frame,id,x,y,w,h,conf,class (COCO class ids) instead of a video")
@click.option("--fps", type=float, help="frame rate of --detections (a video's own rate is used otherwise)")
@click.option("--zones", "zones_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"zones": [{"id", "camera", "polygon", "classes", "grace_s", ...}]}')
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="events, one JSON a line")
@click.option("--grace-s", type=float, help="override every zone's grace_s")
@click.option("--clear-s", type=float, help="override every zone's clear_s")
@click.option("--model", type=click.Path(exists=True, dir_okay=False), help="ONNX detector (else $SCA_DETECTOR_MODEL, models/)")
@click.option("--conf", type=float, default=0.25, show_default=True, help="detector score threshold")
@click.option("--no-gating", is_flag=True, help="run the detector on every frame")
def fire_lane_command(video, detections, fps, zones_path, out, grace_s, clear_s, model, conf, no_gating) -> None:
    """Fire-lane occupancy over VIDEO or --detections: one JSON line per occupancy episode."""
    from pipeline.vision.firelane.core import FireLaneCore

    if (video is None) == (detections is None):
        raise click.UsageError("give either VIDEO or --detections DET.txt (not both)")
    if detections is not None and not fps:
        raise click.UsageError("--detections needs --fps (the frame rate the detections were taken at)")
    overrides = {k: v for k, v in (("grace_s", grace_s), ("clear_s", clear_s)) if v is not None}
    try:
        zones = load_zones(zones_path, overrides)
    except ZoneFileError as exc:
        raise click.UsageError(str(exc)) from None
    if detections is not None:
        steps, total = detection_frames(detections, fps)
        core = FireLaneCore("offline", zones, fps=fps)
        events = run_core(core, steps, total, image_input=False)
    else:
        detector = _detector(model, conf, zones)
        steps, video_fps, total = video_frames(video)
        core = FireLaneCore("offline", zones, detector, fps=video_fps, gating=not no_gating)
        events = run_core(core, steps, total, image_input=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    click.echo(f"wrote {len(events)} events to {out}", err=True)


def _detector(model: str | None, conf: float, zones: list[ZoneConfig]):
    from pipeline.vision.firelane.detector import YoloDetector
    from pipeline.vision.firelane.models import ModelMismatch, ModelNotFound

    try:
        return YoloDetector(model, conf=conf, classes=sorted({c for z in zones for c in z.classes}))
    except (ModelNotFound, ModelMismatch, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
