"""A fall the tracker sees whole only near its release - later the object shows on one frame in five (rain, a
wall of its own colour) - is still reported: its start predicts where to look, and the scattered sightings
there are gathered into one fall (`pipeline.vision.throws.gathering`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.vision.throws.core import ThrowConfig, ThrowCore
from pipeline.vision.throws.gathering import GatherConfig, gather, is_seed, rmse_limit_px
from pipeline.vision.throws.tracking import Track
from tests.unit.test_throws_helpers import FACADE, FPS, Mover, drop, frames, run
from tests.unit.test_throws_light_objects import sink


def _seen_sometimes(mover: Mover, whole_until: float, every: int) -> Mover:
    """The mover, in view on every frame until `whole_until` (s), then on one frame in `every` only."""
    def at(t: float) -> tuple[float, float] | None:
        if t > whole_until and int(round(t * FPS)) % every:
            return None
        return mover(t)
    return at


def _scene():
    # from floor 9 (25 m): 2.2 s of fall, whole for the first 0.6 s, then one frame in five
    return frames(120, _seen_sometimes(drop(10.0, 25.5, t0=1.0), whole_until=1.6, every=5))


def test_fall_seen_in_scattered_frames_is_gathered():
    events = run(ThrowCore(FACADE, FPS), _scene())
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(9, 3)]
    _, event = events[0]
    # the sightings after the gaps are in it, down to the last metres
    assert event.t_end > 2.8
    # without gathering the same scene gives nothing: the case is the one the gathering is for
    off = ThrowConfig(gather=replace(GatherConfig(), enabled=False))
    assert run(ThrowCore(FACADE, FPS, off), _scene()) == []


def test_gather_takes_the_blobs_on_the_path_not_the_ones_beside_it():
    mover = drop(10.0, 25.5, t0=0.0)
    ts = np.arange(0, 1.6, 1 / FPS)
    path = FACADE.facade_to_image(np.array([mover(t) for t in ts]))
    seed = Track(1, list(ts[:12]), list(path[:12, 0]), list(path[:12, 1]), [4.0] * 12)
    rng = np.random.default_rng(5)
    later = []
    for k in range(12, len(ts)):
        clutter = rng.uniform([0, 0], [640, 480], (30, 2))
        # a decoy 15 px beside the path on every frame, the object itself on every third
        decoy = path[k] + [15.0, 0.0]
        blobs = np.vstack([clutter, decoy] + ([path[k]] if k % 3 == 0 else []))
        later.append((float(ts[k]), blobs))
    got = gather(seed, later, FACADE, GatherConfig())
    added = np.column_stack([got.xs[12:], got.ys[12:]])
    expected = path[[k for k in range(12, len(ts)) if k % 3 == 0]]
    assert len(added) == len(expected)
    assert np.abs(added - expected).max() < 1e-6


def _piece(y_of_t, n: int = 15) -> Track:
    ts = np.arange(n) / FPS
    return Track(1, list(ts), list(300.0 + 5.0 * ts), list(y_of_t(ts)), [4.0] * n)


def test_top_of_an_upward_throw_seeds_a_gathering_but_a_climb_does_not():
    cfg = GatherConfig()
    # thrown up, over the top and falling again: it ends about where it began, yet it is a fall's start
    assert is_seed(_piece(lambda t: 100.0 - 20.0 * t + 40.0 * t * t), cfg)
    # still rising at its end (a bird climbing and slowing), rising steadily, or still: no fall begins
    assert not is_seed(_piece(lambda t: 100.0 - 40.0 * t + 30.0 * t * t), cfg)
    assert not is_seed(_piece(lambda t: 100.0 - 30.0 * t), cfg)
    assert not is_seed(_piece(lambda t: 100.0 + 0.0 * t), cfg)


def _light_object_first_seen_late():
    # a bag from floor 5, column 2 (6 m/s terminal speed), seen on one frame in four for its first 1.2 s (the
    # second in which it still speeds up), then whole while it sinks steadily to the ground
    bag = sink(6.0, 13.5, 0.8, terminal_mps=6.0)
    scattered = _seen_sometimes(bag, whole_until=0.0, every=4)
    return frames(int(5.0 * FPS), lambda t: scattered(t) if t < 2.0 else bag(t), radius_m=0.3)


def test_steady_sink_is_followed_back_to_the_window_it_fell_from():
    events = run(ThrowCore(FACADE, FPS), _light_object_first_seen_late())
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(5, 2)]
    # the alert's trajectory starts with the scattered sightings of the first second, not at the steady part
    assert events[0][1].t_start < 1.3
    # without gathering the steady part alone is no fall
    off = ThrowConfig(gather=replace(GatherConfig(), enabled=False))
    assert run(ThrowCore(FACADE, FPS, off), _light_object_first_seen_late()) == []


def test_a_piece_that_went_astray_is_followed_back_from_its_smooth_start():
    """A track that held the bag for 0.6 s of its steady sink and then took something else (in rain: a streak
    remnant) is followed back from its smooth start alone; the points after it went astray are not in the
    alert."""
    bag = sink(6.0, 13.5, 0.8, terminal_mps=6.0)
    scattered = _seen_sometimes(bag, whole_until=0.0, every=4)
    core = ThrowCore(FACADE, FPS)
    # the frames before the piece: the bag on one frame in four while it speeds up
    run(core, ((t, f) for t, f in frames(int(2.0 * FPS), scattered, radius_m=0.3)))
    ts = list(2.0 + np.arange(15) / FPS)  # 2.0 - 2.56 s
    path = FACADE.facade_to_image(np.array([bag(t) for t in ts]))
    astray = [(2.6 + k / FPS, path[-1, 0] + 25.0 * (k + 1), path[-1, 1] - 8.0 * (k + 1)) for k in range(3)]
    piece = Track(7, ts + [a[0] for a in astray], list(path[:, 0]) + [a[1] for a in astray],
                  list(path[:, 1]) + [a[2] for a in astray], [4.0] * (len(ts) + 3))
    event = core._from_before(piece)
    assert event is not None and (event.origin_floor, event.origin_column) == (5, 2)
    assert event.t_start < 1.3 and event.t_end < 2.58


def test_a_long_fast_gathered_fall_may_fit_as_loosely_as_its_size_allows():
    # a fall gathered over 460 px of image (a big object from the top floor): its streak centroids are a few px off,
    # and 2.65 px is 0.6 % of its height; a chance path of 100 px must still fit to the absolute 2 px
    def path(height_px: float) -> Track:
        ts = np.arange(26) / FPS
        return Track(1, list(ts), [300.0] * 26, list(100.0 + height_px * (ts / ts[-1]) ** 2), [4.0] * 26)
    cfg = GatherConfig()
    assert rmse_limit_px(path(460.0), cfg) > 2.65
    assert rmse_limit_px(path(100.0), cfg) == cfg.max_rmse_px
