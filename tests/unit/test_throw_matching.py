"""The accuracy benchmark's scoring: an event is credited to the throw whose path it followed, not merely to
one in the air at the time (two throws overlapping in time used to swap)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks.bench_throws import match
from benchmarks.throw_scenes import Throw


def _throw(release: float, end: float, floor: int) -> Throw:
    return Throw(release_t=release, end_t=end, floor=floor, column=1, size_m=0.2, drag=False, kind="drop")


def _path(t0: float, t1: float, x: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(t0, t1, 50)
    return t, np.column_stack([np.full(50, x), 100 + 200 * (t - t0) ** 2])


def _event(path: tuple[np.ndarray, np.ndarray], t0: float, t1: float, release: float) -> SimpleNamespace:
    t, px = path
    ts = np.linspace(t0, t1, 20)
    traj = [(float(s), float(np.interp(s, t, px[:, 0])), float(np.interp(s, t, px[:, 1])) + 1.0) for s in ts]
    return SimpleNamespace(t_start=t0, t_end=t1, release_t=release, trajectory=traj)


def test_event_goes_to_the_throw_it_followed():
    a, b = _throw(4.7, 8.4, floor=19), _throw(5.6, 10.0, floor=21)
    paths = [_path(4.7, 8.4, x=500.0), _path(5.6, 10.0, x=900.0)]
    # seen late on a's path: its release estimate (5.6) is nearer b's release than a's
    ev = _event(paths[0], 6.1, 8.3, release=5.6)
    assert match([(8.5, ev)], [a, b], paths)[0][2] is a
    assert match([(8.5, ev)], [a, b])[0][2] is b  # time alone credits the wrong throw


def test_event_off_every_path_is_false():
    a = _throw(2.0, 5.0, floor=10)
    paths = [_path(2.0, 5.0, x=500.0)]
    ev = _event(_path(2.0, 5.0, x=700.0), 2.5, 4.5, release=2.1)  # same time, 200 px away
    assert match([(5.0, ev)], [a], paths)[0][2] is None
