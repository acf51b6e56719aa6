"""`sca analyze throws`: the thrown-object core over a video file, events to JSONL.

The same ThrowCore as a live camera, so a facade calibration can be checked on a recording before it goes live.
Times are seconds from the first frame: frame_index / fps, where the calibration's fps (when given) overrides
the rate the video file claims.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import cv2
from tqdm import tqdm

from pipeline.vision.throws.calibration import Facade


def load_facade(path: Path) -> Facade:
    try:
        return Facade.load(path)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--facade") from None


def open_video(path: Path, facade: Facade) -> tuple[cv2.VideoCapture, float, int | None]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise click.BadParameter(f"{path}: cannot open video", param_hint="VIDEO")
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    if size != tuple(facade.image_size):
        capture.release()
        raise click.ClickException(f"{path} is {size[0]}x{size[1]} but the facade calibration is for "
                                   f"{facade.image_size[0]}x{facade.image_size[1]}: calibrate on this camera's frames")
    fps = facade.fps or capture.get(cv2.CAP_PROP_FPS) or 0.0
    if fps <= 0:
        capture.release()
        raise click.ClickException(f"{path}: the video has no frame rate; give \"fps\" in the facade file")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    return capture, fps, total


def run(capture: cv2.VideoCapture, core, fps: float, total: int | None) -> tuple[list[dict], int, float]:
    """Every frame through the core, then flush; events as to_json dicts in the order they were emitted."""
    events: list[dict] = []
    started = time.perf_counter()
    index = 0
    with tqdm(total=total, unit="frame", file=sys.stderr, desc="throws") as bar:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            events += [e.to_json() for e in core.process(frame, index / fps)]
            index += 1
            bar.update(1)
    events += [e.to_json() for e in core.flush(index / fps)]
    capture.release()
    return events, index, time.perf_counter() - started


@click.command("throws")
@click.argument("video", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--facade", "facade_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help='calibration JSON {"camera", "fps"?, "image_size", "facade": {floors, floor_height_m, '
                   'columns, column_width_m, corners_px}}')
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="events, one JSON a line")
@click.option("--evidence-dir", type=click.Path(file_okay=False, path_type=Path),
              help="write a clip (5 s before release to 3 s after) and an annotated image per event here")
def throws_command(video: Path, facade_path: Path, out: Path, evidence_dir: Path | None) -> None:
    """Thrown objects (高空抛物) in VIDEO of a facade: one JSON line per fall, with origin floor and column."""
    from pipeline.vision.throws.core import ThrowCore
    from pipeline.vision.throws.evidence import DirectoryEvidence

    if not video.is_file():
        raise click.BadParameter(f"{video}: no such file", param_hint="VIDEO")
    if not facade_path.is_file():
        raise click.BadParameter(f"{facade_path}: no such file", param_hint="--facade")
    facade = load_facade(facade_path)
    capture, fps, total = open_video(video, facade)
    evidence = DirectoryEvidence(evidence_dir) if evidence_dir is not None else None
    core = ThrowCore(facade, fps, evidence=evidence)
    events, frames, elapsed = run(capture, core, fps, total)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    click.echo(f"{frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-9):.0f} frames/s incl. decode"
               f"{' and evidence' if evidence else ''}); {len(events)} events -> {out}", err=True)
    for e in events:
        click.echo(f"  {e['t_start']:.2f}-{e['t_end']:.2f} s  floor {e['origin']['floor']} column "
                   f"{e['origin']['column']}  confidence {e['confidence']:.2f}", err=True)
