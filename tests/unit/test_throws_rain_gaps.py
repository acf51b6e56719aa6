"""ThrowCore in rain and across gaps: streaks are filtered out (a fall in rain is found, rain alone raises
nothing), and a fall lost for a few frames is stitched back into one event with the right window."""
from __future__ import annotations

import cv2
import numpy as np

from pipeline.vision.throws.core import ThrowCore
from pipeline.vision.throws.tracking import Tracker
from tests.unit.test_throws_helpers import FACADE, drop, frames, run


def rain(seed: int = 7, n: int = 220, level: int = 70):
    """Fresh near-vertical one-pixel streaks every frame, 12-30 px long, brighter than the wall."""
    rng = np.random.default_rng(seed)

    def edit(i: int, img: np.ndarray) -> np.ndarray:
        layer = np.zeros_like(img)
        x = rng.uniform(0, 640, n)
        y = rng.uniform(-30, 480, n)
        ln = rng.uniform(12, 30, n)
        for x0, y0, l in zip(x, y, ln):
            cv2.line(layer, (int(x0), int(y0)), (int(x0 + 0.15 * l), int(y0 + l)), level, 1)
        return cv2.add(img, layer)
    return edit


def test_fall_in_rain_is_found_with_its_window():
    events = run(ThrowCore(FACADE, 25.0), frames(110, drop(6.0, 22.5, t0=1.0), edit=rain()))
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(8, 2)]


def test_rain_alone_raises_nothing():
    core = ThrowCore(FACADE, 25.0)
    assert run(core, frames(150, edit=rain(seed=11))) == []
    assert core.foreground.rain  # the streaks were seen as rain, not as a scene change


def test_fall_lost_for_a_few_frames_is_one_event_from_its_window():
    fall = drop(6.0, 22.5, t0=1.0)

    def hidden(t: float):
        # invisible for 8 frames (0.32 s) after 0.3 s: a dark object over dark glass, a busy patch
        return None if 1.3 <= t < 1.62 else fall(t)
    events = run(ThrowCore(FACADE, 25.0), frames(110, hidden))
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(8, 2)]
    assert events[0][1].t_start < 1.3  # the piece before the gap is part of the event


def test_fall_keeps_its_blobs_against_a_longer_track_it_passes():
    """A blob that sat still for a second (a lit window edge) and vanished: its long track, coasting on misses
    with a widening gate, must not take the blobs of a fall passing beside it (longest-first did)."""
    tr = Tracker(480, 25.0)
    for i in range(30):
        tr.update(i / 25, np.array([[300.0, 200.0]]), np.array([9.0]))
    for k, i in enumerate(range(30, 40)):
        tr.update(i / 25, np.array([[306.0, 170.0 + 6.0 * k]]), np.array([9.0]))
    fall = [t for t in tr.tracks if t.ts[0] == 30 / 25][0]
    assert len(fall) == 10
