"""Heavy rain: a frame holds more blobs than the tracker may start tracks for. A small object whose track
expects it must not be dropped with the surplus of streak remnants."""
from __future__ import annotations

import numpy as np

from pipeline.vision.throws.foreground import Foreground
from pipeline.vision.throws.tracking import Tracker
from tests.unit.test_throws_helpers import FACADE


def _remnants(n: int, seed: int = 3) -> np.ndarray:
    """n blob centres (full-res px) spread over the frame, away from x = 300."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.choice(np.r_[20:250, 350:620], n), rng.uniform(20, 460, n)]).astype(np.float64)


def test_falling_object_keeps_its_track_among_more_remnants_than_new_tracks_allowed():
    tr = Tracker(480, 25.0)
    for i in range(8):
        tr.update(i / 25, np.array([[300.0, 100.0 + 0.5 * i * i]]), np.array([12.0]))
    rain = _remnants(80)
    i = 8
    centres = np.vstack([rain, [[300.0, 100.0 + 0.5 * i * i]]])
    areas = np.r_[np.full(80, 16.0), 8.0]  # the object is the smallest blob of the frame
    tr.update(i / 25, centres, areas)
    fall = [t for t in tr.tracks if t.ts[0] == 0.0][0]
    assert len(fall) == 9  # continued with its small blob
    assert len(tr.tracks) == 1 + tr.cfg.max_new_tracks  # the remnants start at most max_new_tracks tracks


def test_rain_frame_keeps_more_blobs_than_new_tracks_allowed():
    """The foreground hands the tracker up to max_blobs (more than max_new_tracks): the surplus is what
    tracks that expect a small object may need."""
    fg = Foreground(FACADE, FACADE.image_size)
    fg.mask[:] = 0
    ys, xs = np.mgrid[10:230:22, 10:310:22]  # 10 x 14 = 140 two-pixel specks, apart after the 3x3 join
    for y, x in zip(ys.ravel(), xs.ravel()):
        fg.mask[y, x:x + 2] = 255
    centres, _ = fg._blobs()
    assert len(centres) == fg.cfg.max_blobs > Tracker(480, 25.0).cfg.max_new_tracks
