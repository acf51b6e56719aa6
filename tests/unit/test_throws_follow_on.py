"""The rest of a reported fall, seen again lower down after a gap, is no second event; a second object let go from a
lower window of the same column just as the first passed it is one (`ThrowCore._follows_reported`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.vision.throws.core import ThrowConfig, ThrowCore, _Reported
from pipeline.vision.throws.trajectory import fit_fall
from pipeline.vision.throws.tracking import Track
from tests.unit.test_throws_helpers import FACADE, FPS


def _points(x: float, y0: float, t0: float, t_from: float, t_to: float) -> tuple[np.ndarray, np.ndarray]:
    """(ts, facade metres) of an object dropped from (x, y0) at t0, seen from t_from to t_to."""
    ts = np.arange(round(t_from * FPS), round(t_to * FPS) + 1) / FPS
    return ts, np.column_stack([np.full(len(ts), x), y0 - 0.5 * 9.81 * (ts - t0) ** 2])


def _core_with_a_reported_fall(config: ThrowConfig | None = None) -> ThrowCore:
    """A fall from 27 m at x = 6 m, released at 0 s and reported from its sightings over its first second."""
    core = ThrowCore(FACADE, FPS, config)
    ts, pts_m = _points(6.0, 27.0, 0.0, 0.04, 1.0)
    px = FACADE.facade_to_image(pts_m)
    track = Track(1, ts.tolist(), px[:, 0].tolist(), px[:, 1].tolist(), [9.0] * len(ts))
    core._reported.append(_Reported(fit_fall(ts, pts_m, (0.0,)), float(ts[-1]), track))
    return core


def _repeats(core: ThrowCore, ts: np.ndarray, pts_m: np.ndarray) -> bool:
    return core._is_duplicate(ts, FACADE.facade_to_image(pts_m), float(ts[-1]))


def test_the_rest_of_a_reported_fall_is_no_new_event():
    later = _points(6.3, 27.0, 0.0, 1.5, 2.0)  # the same object, 0.5 s after it was last seen, 5-10 m lower
    later[1][:, 1] += 1.5  # drag slowed it: above where the reported drag-free curve puts it, beyond `duplicate_m`
    assert _repeats(_core_with_a_reported_fall(), *later)
    off = replace(ThrowConfig(), follow_gap_s=None)
    assert not _repeats(_core_with_a_reported_fall(off), *later)


def test_an_object_let_go_below_as_the_first_passed_is_a_new_event():
    second = _points(6.0, 10.5, 1.1, 1.1, 1.6)  # floor 4 of the same column, dropped 0.1 s after the last sighting
    assert not _repeats(_core_with_a_reported_fall(), *second)


def test_a_fall_in_another_column_or_long_after_is_a_new_event():
    aside = _points(10.0, 27.0, 0.0, 1.5, 2.0)  # the same speed and height, 4 m aside
    assert not _repeats(_core_with_a_reported_fall(), *aside)
    ts, pts_m = _points(6.0, 27.0, 0.0, 1.5, 2.0)
    assert not _repeats(_core_with_a_reported_fall(), ts + 1.6, pts_m)  # 2.1 s after the last sighting
