"""Rain: a one-pixel object enters the mask on the third frame of its run of sightings (the speck chain), and
the track started there begins with the two earlier sightings (`Foreground.speck_trail`); a speck that stays in
one place gets no trail."""
from __future__ import annotations

import numpy as np

from pipeline.vision.throws.core import ThrowConfig, ThrowCore
from pipeline.vision.throws.tracking import Tracker
from tests.unit.test_throws_helpers import FACADE, frames
from tests.unit.test_throws_rain_gaps import rain

X = 300


def with_speck(rows: dict[int, int], level: int = 90):
    """Rain, plus a one-pixel bright speck at (X, rows[i]) on frame i."""
    streaks = rain(seed=5, n=160)

    def edit(i: int, img: np.ndarray) -> np.ndarray:
        img = streaks(i, img)
        if i in rows:
            img[rows[i], X] = min(255, int(img[rows[i], X]) + level)
        return img
    return edit


def feed(rows: dict[int, int], n: int) -> ThrowCore:
    """A core fed n frames of rain with the speck; its state after the last frame."""
    core = ThrowCore(FACADE, 25.0, ThrowConfig(start_with_trail=True))
    for t, frame in frames(n, noise=1.5, edit=with_speck(rows)):
        core.process(frame, t)
    return core


def test_a_falling_speck_brings_its_two_earlier_sightings():
    rows = {40: 200, 41: 202, 42: 205}
    core = feed(rows, 43)
    fg = core.foreground
    assert fg.rain
    trail = fg.speck_trail(np.array([[X, 205.0]]))
    assert np.allclose(trail[0], [[X, 202], [X, 200]], atol=0.6)


def test_a_still_speck_has_no_trail():
    core = feed({40: 200, 41: 200, 42: 200}, 43)
    trail = core.foreground.speck_trail(np.array([[X, 200.0]]))
    assert np.isnan(trail).all()


def test_a_point_on_no_chained_speck_has_no_trail():
    core = feed({40: 200, 41: 202}, 43)  # no speck on the last frame: nothing chained there
    assert np.isnan(core.foreground.speck_trail(np.array([[X, 205.0]]))).all()


def test_tracker_starts_a_track_with_its_trail_at_the_previous_frames_times():
    tr = Tracker(480, 25.0)
    tr.update(0.0, np.zeros((0, 2)), np.zeros(0))
    tr.update(0.04, np.zeros((0, 2)), np.zeros(0))

    def trail(points: np.ndarray) -> np.ndarray:
        out = np.full((len(points), 2, 2), np.nan)
        out[0] = [[100.0, 96.0], [100.0, 93.0]]  # the first blob has a trail, the second none
        return out
    tr.update(0.08, np.array([[100.0, 100.0], [400.0, 50.0]]), np.array([2.0, 2.0]), trail=trail)
    by_x = {round(t.xs[-1]): t for t in tr.tracks}
    assert by_x[100].ts == [0.0, 0.04, 0.08] and by_x[100].ys == [93.0, 96.0, 100.0]
    assert len(by_x[400]) == 1
