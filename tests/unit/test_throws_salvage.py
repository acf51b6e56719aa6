"""A fall inside a track that is not one as a whole: the tracker followed the object, lost it and took
something else (or started on something else and took the object over). The smooth part is cut out and
judged; a small object in rain is kept although it is as thin as a rain streak."""
from __future__ import annotations

import numpy as np

from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.core import ThrowCore, smooth_prefix
from pipeline.vision.throws.tracking import Track
from tests.unit.test_throws_helpers import FACADE, FPS, drop, frames, run
from tests.unit.test_throws_rain_gaps import rain


def _track(points: list[tuple[float, float, float]]) -> Track:
    ts, xs, ys = (list(v) for v in zip(*points))
    return Track(1, ts, xs, ys, [4.0] * len(ts))


def _parabola(n: int) -> list[tuple[float, float, float]]:
    return [(i / FPS, 300.0 + 0.5 * i, 100.0 + 0.4 * i * i) for i in range(n)]


def test_prefix_ends_where_the_track_leaves_its_curve():
    fall = _parabola(30)
    astray = [((30 + k) / FPS, 320.0 + 9 * k, fall[-1][2] - 7 * k) for k in range(1, 8)]  # up and aside
    cut = smooth_prefix(_track(fall + astray), 8, 3.0)
    assert cut is not None and len(cut) == 30
    assert cut.ys == [p[2] for p in fall]


def test_one_stray_point_is_skipped_not_a_cut():
    fall = _parabola(30)
    fall[15] = (fall[15][0], fall[15][1] + 40, fall[15][2] - 30)  # one grabbed noise blob
    assert smooth_prefix(_track(fall), 8, 3.0) is None  # nothing to cut: the fall test drops the outlier


def test_clean_fall_is_not_cut():
    assert smooth_prefix(_track(_parabola(40)), 8, 3.0) is None


def test_fall_whose_track_is_taken_by_a_bird_afterwards_is_found():
    """The object vanishes (over dark glass) just where a bird rises from the balcony below: the tracker
    carries on with the bird, and the track as a whole rises, no fall; its first part is one."""
    fall = drop(6.0, 22.5, t0=1.0)
    t_off = 2.2
    x_off, y_off = fall(t_off)

    def mover(t: float):
        if t < t_off:
            return fall(t)
        tau = t - t_off
        return (x_off + 5.0 * tau, y_off + 4.0 * tau) if tau < 1.3 else None
    events = run(ThrowCore(FACADE, FPS), frames(110, mover))
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(8, 2)]
    assert events[0][1].t_end < t_off + 0.1  # the bird is not in the event


# A tower seen whole, as the scene generator's cameras see theirs: 26 floors in 450 px, about 6 px per metre.
TOWER = Facade.from_dict({
    "camera": "synthetic-tower", "fps": FPS, "image_size": [640, 480],
    "facade": {"floors": 26, "floor_height_m": 3.0, "columns": 6, "column_width_m": 4.0,
               "corners_px": {"bottom_left": [170, 490], "bottom_right": [470, 490],
                              "top_right": [420, 40], "top_left": [220, 40]}}})


def test_small_object_in_rain_is_found():
    """A pixel wide, like the streaks: the 1x2 opening that clears rain used to remove it too."""
    fall = drop(10.0, 64.0, t0=1.0)  # from floor 22, column 3
    streaks = rain(n=220, level=30)

    def edit(i: int, img: np.ndarray) -> np.ndarray:
        pos = fall(i / FPS)
        if pos is not None:
            x, y = np.round(TOWER.facade_to_image(np.array([pos]))[0]).astype(int)
            if 0 <= y < img.shape[0] and 0 <= x < img.shape[1]:
                img[y, x] = 30
        return streaks(i, img)
    core = ThrowCore(TOWER, FPS)
    events = run(core, frames(110, edit=edit))
    assert core.foreground.rain  # the frames were judged rainy: the streak filter was on
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(22, 3)]
