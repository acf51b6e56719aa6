"""A track that ended on a stray blob: its last point is dropped before the piece is kept, so the track that
found the object again joins it and the fall is reported from its real start (the window it came from)."""
from __future__ import annotations

import numpy as np

from pipeline.vision.throws.core import ThrowCore, trim_tail
from pipeline.vision.throws.tracking import Track
from tests.unit.test_throws_helpers import FACADE, FPS, drop


def _fall_points(frames: range) -> list[tuple[float, float, float]]:
    """(t, x px, y px) of an object dropped from 25.5 m (floor 9), 6 m from the left edge (column 2)."""
    fall = drop(6.0, 25.5, t0=0.0)
    out = []
    for i in frames:
        t = i / FPS
        x, y = FACADE.facade_to_image(np.array([fall(t)]))[0]
        out.append((t, float(x), float(y)))
    return out


def _track(tid: int, points: list[tuple[float, float, float]]) -> Track:
    ts, xs, ys = (list(v) for v in zip(*points))
    return Track(tid, ts, xs, ys, [9.0] * len(ts))


def test_stray_last_point_is_trimmed():
    points = _fall_points(range(1, 12))
    t_last = points[-1][0] + 2 / FPS
    stray = (t_last, points[-1][1] + 55.0, points[-1][2] - 10.0)  # a rain remnant aside and above
    trimmed = trim_tail(_track(1, points + [stray]), 3.0)
    assert len(trimmed) == len(points)
    assert trimmed.ys == [p[2] for p in points]


def test_clean_track_is_left_whole():
    track = _track(1, _fall_points(range(1, 30)))
    assert trim_tail(track, 3.0) is track


def test_piece_ending_on_a_stray_blob_is_joined_to_the_rest_of_the_fall():
    """The object was seen from its release for 0.4 s (too little drop to be a fall on its own), lost for three
    frames - on one of them the track took a blob 55 px aside - and found again by a new track."""
    core = ThrowCore(FACADE, FPS)
    first = _fall_points(range(1, 11))
    stray = (12 / FPS, first[-1][1] + 55.0, first[-1][2] - 10.0)
    rest = _fall_points(range(14, 40))
    assert core._judge([_track(1, first + [stray])], 15 / FPS) == []
    events = core._judge([_track(2, rest)], 41 / FPS)
    assert len(events) == 1
    assert events[0].t_start == first[0][0]  # joined: the fall starts at the release, not 0.5 s later
    assert (events[0].origin_floor, events[0].origin_column) == (9, 2)
