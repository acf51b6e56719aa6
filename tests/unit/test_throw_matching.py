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


def test_recall_is_split_by_weather_and_light():
    from benchmarks.bench_throws import recall_by_condition, report
    rows = [{"seed": 1, "distractors": ["rain", "night"], "core": {"found": [True, False]},
             "baseline": {"found": [False, False]}},
            {"seed": 2, "distractors": ["birds"], "core": {"found": [True]}, "baseline": {"found": [True]}},
            {"seed": 3, "distractors": ["rain", "leaves"], "core": {"found": [False, True, True]},
             "baseline": {"found": [False, False, True]}}]
    core = recall_by_condition(rows, "core")
    assert core["rain, night"] == {"scenes": 1, "throws": 2, "found": 1, "recall": 0.5}
    assert core["dry, day"]["recall"] == 1.0
    assert core["rain, day"]["found"] == 2 and core["rain, day"]["throws"] == 3
    assert core["dry, night"]["throws"] == 0  # no such scene: counted as none, not dropped
    assert recall_by_condition(rows, "baseline")["rain, day"]["found"] == 1
    # the report shows each condition with the number of throws it rests on
    summary = {"recall": 0.667, "precision": 1.0, "floor_exact": 1.0, "floor_within_one": 1.0, "column_exact": 1.0,
               "median_delay_s": 0.1, "p90_delay_s": 0.2, "distractor_hours": 0.1, "distractor_scenes": 1,
               "false_alarms_per_hour": 0.0, "false_alarms_distractor_scenes": 0,
               "false_alarms_per_hour_95_upper": 30.0, "throws": 6}
    acc = {"core": summary, "baseline": dict(summary), "scenes": 3, "distractor_scenes": 1, "distractor_s": 360,
           "recall_by_condition": {"core": core, "baseline": recall_by_condition(rows, "baseline")}}
    text = report(acc, {}, {}, "cmd", "dev")
    line = next(ln for ln in text.splitlines() if "recall, rain, night" in ln)
    assert "(2 throws)" in line and "0.500" in line and "0.000" in line
