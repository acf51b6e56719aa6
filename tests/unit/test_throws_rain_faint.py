"""An object under the threshold on many frames, in rain: the faint search follows it there too, skipping streak
pixels and serving only tracks that fall, so its sightings make one fall instead of pieces; a still track is not
kept alive by streak remnants."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from benchmarks.bench_throws import match
from benchmarks.throw_scenes import generate
from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.core import ThrowConfig, ThrowCore
from pipeline.vision.throws.foreground import _on_streak
from pipeline.vision.throws.gathering import GatherConfig
from pipeline.vision.throws.tracking import Tracker
from tests.unit.test_throws_helpers import FPS


def _found_in_rain(config: ThrowConfig) -> list[bool]:
    """Dev scene 81 (a day in heavy rain, 90-96 blobs a frame, one 37 cm drop from floor 4): for each throw, was
    it found? The object passes over wall of nearly its own grey on a third of its frames."""
    scene = generate(81)
    assert "rain" in scene.distractors and len(scene.throws) == 1
    core = ThrowCore(Facade.from_dict(scene.calibration), scene.fps, config)
    events = []
    for i, frame in enumerate(scene.frames()):
        events += [(i / scene.fps, e) for e in core.process(frame, i / scene.fps)]
    end = scene.n_frames / scene.fps
    events += [(end, e) for e in core.flush(end)]
    matched = {id(th) for _, _, th in match(events, scene.throws, scene.truth_paths()) if th is not None}
    assert len(events) == len(matched)  # no false event either way
    return [id(th) in matched for th in scene.throws]


def test_fall_under_the_threshold_in_heavy_rain_is_found():
    assert _found_in_rain(ThrowConfig()) == [True]


def test_without_the_rain_search_it_comes_out_in_pieces():
    """The same scene with the search off on rain frames (as it was before): the test above shows that search.
    Gathering is off too: it follows the first piece's curve on and finds the fall without the search."""
    off = ThrowConfig(follow_faint_in_rain=False, gather=replace(GatherConfig(), enabled=False))
    assert _found_in_rain(off) == [False]


def test_streak_pixels_are_told_from_a_compact_blob():
    passing = np.zeros((1, 13, 13), bool)
    passing[0, 1:10, 2] = True       # a streak 9 px long...
    passing[0, 5:8, 3] = True        # ...slanting one column over half-way
    passing[0, 9:12, 8:11] = True    # a 3x3 object
    on = _on_streak(passing, 6)[0]
    assert on[1:10, 2].all() and on[5:8, 3].all()
    assert not on[9:12, 8:11].any()


def test_in_rain_only_falling_tracks_are_searched_for():
    """A still track (a speck that stayed) is not looked for under the threshold in rain; a falling one is."""
    tr = Tracker(480, FPS)
    for i in range(6):
        tr.update(i / FPS, np.array([[100.0, 200.0], [300.0, 100.0 + 2.0 * i * i]]), np.array([9.0, 9.0]))
    asked: list[np.ndarray] = []

    def faint(points: np.ndarray, radii: np.ndarray):
        asked.append(points.copy())
        return np.zeros(len(points), bool), np.zeros((len(points), 2)), np.zeros(len(points))
    tr.update(6 / FPS, np.zeros((0, 2)), np.zeros(0), faint, 1.0)
    assert len(asked) == 1 and len(asked[0]) == 1
    assert asked[0][0][0] > 200  # the falling track at x = 300
    asked.clear()
    tr.update(7 / FPS, np.zeros((0, 2)), np.zeros(0), faint)  # no fall needed: both are searched for
    assert len(asked[0]) == 2
