"""The common-recipe baseline: it must really find a plain falling object (else the side-by-side is a strawman)
and be deterministic (else the benchmark's baseline column would wander between runs)."""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.throw_baseline import BaselineDetector
from benchmarks.throw_scenes import generate

FPS = 25.0
# A 640x360 view of a 4-column, 10-floor facade seen square-on: 20 px per metre everywhere.
CALIBRATION = {"camera": "flat", "fps": FPS, "image_size": [640, 360],
               "facade": {"floors": 10, "floor_height_m": 3.0, "columns": 4, "column_width_m": 4.0,
                          "corners_px": {"bottom_left": [160, 620], "bottom_right": [480, 620],
                                         "top_right": [480, 20], "top_left": [160, 20]}}}


def _run(det: BaselineDetector, frames, fps: float) -> list:
    events = []
    for i, frame in enumerate(frames):
        events += det.process(frame, i / fps)
    return events + det.flush(len(frames) / fps)


def _blob_clip(accel_px_s2: float, v0_px_s: float, seconds: float = 4.0, start_s: float = 2.0) -> list[np.ndarray]:
    """Grey textured wall with a dark blob starting at (300, 40) after start_s: y = y0 + v0 t + a t^2 / 2."""
    rng = np.random.default_rng(0)
    wall = cv2.GaussianBlur(rng.integers(120, 160, (360, 640, 3), dtype=np.uint8), (5, 5), 0)
    frames = []
    for i in range(int(seconds * FPS)):
        img = cv2.add(wall, rng.normal(0, 2, wall.shape).astype(np.int16), dtype=cv2.CV_8U)
        t = i / FPS - start_s
        if t >= 0:
            y = 40 + v0_px_s * t + 0.5 * accel_px_s2 * t * t
            if y < 350:
                cv2.circle(img, (300, int(round(y))), 3, (20, 20, 20), -1)
        frames.append(img)
    return frames


def test_finds_a_falling_blob_and_names_its_window() -> None:
    g_px = 9.81 * 20  # 20 px per metre
    events = _run(BaselineDetector(CALIBRATION, FPS), _blob_clip(g_px, 0.0), FPS)
    assert len(events) == 1
    ev = events[0]
    assert abs(ev.release_t - 2.0) < 0.15
    # (300, 40) is 7 m from the left (column 2) and 29 m up (floor 10)
    assert (ev.origin_floor, ev.origin_column) == (10, 2)


def test_ignores_something_sinking_at_constant_speed() -> None:
    """A leaf or a descending bird moves down without accelerating: the parabola test must say no."""
    assert _run(BaselineDetector(CALIBRATION, FPS), _blob_clip(0.0, 150.0), FPS) == []


def test_finds_a_clean_synthetic_drop() -> None:
    scene = generate(24, n_throws=1, distractors=[], night=False, duration_s=6.0)
    throw = scene.throws[0]
    events = _run(BaselineDetector(scene.calibration, scene.fps), list(scene.frames()), scene.fps)
    assert len(events) == 1
    ev = events[0]
    assert ev.t_start <= throw.end_t and ev.t_end >= throw.release_t
    assert (ev.origin_floor, ev.origin_column) == (throw.floor, throw.column)


def test_deterministic() -> None:
    scene = generate(20, n_throws=1, distractors=["birds", "laundry"], night=False, duration_s=6.0)
    frames = list(scene.frames())
    first = _run(BaselineDetector(scene.calibration, scene.fps), frames, scene.fps)
    second = _run(BaselineDetector(scene.calibration, scene.fps), frames, scene.fps)
    assert first  # a run that finds nothing would make this test vacuous
    assert [(e.t_start, e.t_end, e.origin_floor, e.origin_column, e.confidence) for e in first] == \
           [(e.t_start, e.t_end, e.origin_floor, e.origin_column, e.confidence) for e in second]
