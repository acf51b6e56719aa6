"""A small object at night: its change is under the threshold on most frames of its fall. The tracker follows
it below the threshold, close to where the track predicts it, so its sightings make one fall, not pieces."""
from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from pipeline.vision.throws.core import ThrowConfig, ThrowCore
from pipeline.vision.throws.foreground import Foreground, ForegroundConfig
from tests.unit.test_throws_helpers import FACADE, FPS, drop, run

NIGHT = 40.0  # dark wall, little texture, quiet sensor: a change of 14 grey levels is the threshold here
USUAL = ForegroundConfig(dry_min_diff=None)
"""The usual threshold only: the lower one off rain frames (`dry_min_diff`) would put this object in the mask, and
what these tests show is the search under the threshold."""


def night_frames(n: int, fall, faint: float, bright: float, bright_frames: set[int]) -> Iterator[tuple[float, np.ndarray]]:
    """(t, frame): the object changes its pixels by `faint` grey levels (under the threshold), by `bright` on
    `bright_frames` (passing in front of a lit window)."""
    rng = np.random.default_rng(5)
    base = NIGHT + cv2.GaussianBlur(rng.normal(0, 4, (480, 640)).astype(np.float32), (0, 0), 2.0)
    first = None
    for i in range(n):
        t = i / FPS
        img = base + rng.normal(0, 1.2, base.shape).astype(np.float32)
        pos = fall(t)
        if pos is not None:
            first = i if first is None else first
            x, y = FACADE.facade_to_image(np.array([pos]))[0]
            level = bright if i in bright_frames or i - first < 2 else faint
            cv2.circle(img, (int(round(x)), int(round(y))), 2, NIGHT + level, -1)
        yield t, cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def _scene():
    # from floor 8 (21.5 m), column 2, at t = 1 s; seen brightly at the start and on two frames further down
    return night_frames(110, drop(6.0, 22.5, t0=1.0), faint=11.0, bright=30.0, bright_frames={45, 46, 60, 61})


def test_faint_object_at_night_is_followed_into_one_fall():
    events = run(ThrowCore(FACADE, FPS, ThrowConfig(foreground=USUAL)), _scene())
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(8, 2)]
    assert len(events[0][1].trajectory) >= 30  # the faint frames are in it, not only the bright ones


def test_without_following_the_pieces_are_no_fall():
    """The same scene with the faint search off: what the test above shows is that search, not the mask."""
    core = ThrowCore(FACADE, FPS, ThrowConfig(foreground=USUAL, follow_faint=False))
    assert run(core, _scene()) == []


def test_faint_search_finds_the_object_near_the_prediction_only():
    fg = Foreground(FACADE, FACADE.image_size, USUAL)
    scene = night_frames(40, lambda t: (6.0, 22.5) if t >= 39 / FPS else None, faint=11.0, bright=11.0,
                         bright_frames=set())
    for _, frame in scene:
        fg.process(frame)
    at = FACADE.facade_to_image(np.array([[6.0, 22.5]]))[0]
    found, centres, _ = fg.faint_near(np.array([at + 3.0, at + 60.0]), np.array([8.0, 8.0]))
    assert found.tolist() == [True, False]  # near the prediction: the object; 60 px away: nothing but noise
    assert np.hypot(*(centres[0] - at)) < 2.0
