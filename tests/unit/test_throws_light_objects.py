"""A light object (a bag, an empty box) falls freely for a second and then sinks at its drag-limited speed for
seconds: it is a fall, judged on its first seconds, and it names its window; a thing that only ever sinks at a
steady speed (a gliding bird, a lift) still is none."""
from __future__ import annotations

import math
from dataclasses import replace

from pipeline.vision.throws.core import ThrowConfig, ThrowCore
from pipeline.vision.throws.gathering import GatherConfig
from tests.unit.test_throws_helpers import FACADE, FPS, Mover, frames, linear, run


def sink(x0: float, y0: float, t0: float, terminal_mps: float, g: float = 9.81) -> Mover:
    """Dropped at t0 from (x0, y0) metres with quadratic drag: y = y0 - (vt^2/g) ln cosh(g t / vt)."""
    def at(t: float) -> tuple[float, float] | None:
        if t < t0:
            return None
        y = y0 - terminal_mps ** 2 / g * math.log(math.cosh(g * (t - t0) / terminal_mps))
        return (x0, y) if y > 0 else None
    return at


def _events(mover: Mover, config: ThrowConfig | None = None, seconds: float = 7.0) -> list:
    core = ThrowCore(FACADE, FPS, config)
    return [e for _, e in run(core, frames(int(seconds * FPS), mover, radius_m=0.3))]


def test_light_object_sinking_for_seconds_is_a_fall_from_its_window():
    # floor 10, column 2; 6 m/s terminal speed: ~1 s to reach it, then ~4 s of steady sinking to the ground
    events = _events(sink(6.0, 28.5, 0.8, terminal_mps=6.0))
    assert len(events) == 1
    assert (events[0].origin_floor, events[0].origin_column) == (10, 2)
    assert events[0].t_end - events[0].t_start > 4.0  # the alert's trajectory covers the whole descent


def test_judged_as_a_whole_the_same_descent_is_missed():
    """Without judging the head of a long track: the whole track's fit starts already fast (the reason the
    head is judged at all). Gathering is off here: it follows the head's curve on and finds the fall too."""
    no_gather = replace(GatherConfig(), enabled=False)
    assert _events(sink(6.0, 28.5, 0.8, terminal_mps=6.0), ThrowConfig(head_s=1e9, gather=no_gather)) == []


def test_steady_sink_without_a_free_fall_start_is_no_fall():
    assert _events(linear(6.0, 28.5, 0.8, vx=0.0, vy=-6.0, duration=4.6)) == []
