"""Curve-guided gathering: the rest of a fall collected from the frames' blobs along the path gravity predicts.

Why: in rain, at night or against a wall of its own colour a small object is in the mask on a third of the frames
of its fall, scattered: the dev misses in rain had a blob within 6 px of the object on 10-70 frames, but never
enough of them in a row for the tracker (which loses a track after `max_miss` frames) to make one track of 8
points and 3 m of drop. What the tracker does keep is a short piece near the release, where the object is slow.
That piece fixes the release point and the start speed, and gravity fixes the rest: the object's position at
every later frame is known to a few pixels, so a blob there is the object far more often than chance (a rain
frame has 20-40 blobs over ~0.9 Mpx: a 4 px circle holds one of them by chance on 1 frame in 500). The points
gathered that way go to the same fall test as a track, including the 3 px fit that short tracks must meet.

Cost: the blobs of the last few seconds are kept (a few kB per frame), and a piece that qualifies as a seed is
worked out once, when the object it predicts has left the view: ~1 ms a seed, a few seeds a second in heavy rain.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.tracking import Track

G = 9.81


@dataclass(frozen=True)
class GatherConfig:
    enabled: bool = True
    history_s: float = 4.0
    """Blobs kept this long: a seed's fall is gathered up to `reach_s` after the seed ended."""
    seed_min_points: int = 4
    seed_min_travel_px: float = 3.0
    """A seed is a piece that is no fall, has this many points, moved down this much ..."""
    seed_max_rmse_px: float = 1.5
    """... and fits a quadratic in time this well (a smooth start, not jitter in one place)."""
    reach_s: float = 2.0
    """How far past the seed's end the path is followed (at most: it stops when the path leaves the image)."""
    max_gap_s: float = 0.6
    """The gathering stops after this long without a blob on the path."""
    tol_px: float = 3.0
    """A blob within this sideways of the predicted position (plus `tol_side` of the predicted motion since the last
    point gathered) is on the path, ..."""
    tol_side: float = 0.05
    tol_down: float = 0.6
    tol_up: float = 0.3
    """... and within this share of that motion below or above it: where the object is along its path is less
    certain than the path's line (an object in front of the facade moves more pixels per metre than the
    facade's scale says; drag slows light ones), so the window is long and narrow."""
    refit_points: int = 8
    """From this many points the fall's own acceleration (3-12 m/s^2: drag slows light objects) replaces g."""
    min_points: int = 12
    """A gathered path shorter than this is not judged."""
    overlap_px: float = 12.0
    """A gathered fall that passed within this (median, image px) of a fall reported in the same frames is that
    fall (see `ThrowCore._overlaps_reported`)."""
    max_rmse_px: float = 2.0
    """A gathered fall must fit its points this well (RMS px; a track's limit is `stitch_max_rmse_px`, 3): the
    points were picked as the blobs nearest a predicted curve, so chance blobs fit it better than a track's do.
    Dev seeds 0-599: the gathered falls that were throws fit to 1.7 px at most, the two that were not to 2.4
    and 2.8 px."""
    seed_window: int = 30
    """Only a piece's first this-many points are looked at for a seed: a seed is a start."""


class BlobHistory:
    """The blob centres (full-res px) of the last frames, with their times."""

    def __init__(self, fps: float, span_s: float) -> None:
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max(2, int(round(fps * span_s))))

    def add(self, t: float, centres: np.ndarray) -> None:
        self._frames.append((t, centres))

    def after(self, t: float) -> list[tuple[float, np.ndarray]]:
        return [(ft, c) for ft, c in self._frames if ft > t]


def _smooth_fit(track: Track) -> float:
    """RMS px of quadratics in time fitted to x and y."""
    ts = np.asarray(track.ts) - track.ts[0]
    worst = 0.0
    for v in (np.asarray(track.xs), np.asarray(track.ys)):
        coef = np.polyfit(ts, v, 2)
        worst = max(worst, float(np.sqrt(np.mean((np.polyval(coef, ts) - v) ** 2))))
    return worst


def is_seed(track: Track, cfg: GatherConfig) -> bool:
    """A short smooth piece moving down: the start of a fall the tracker lost."""
    if len(track) < cfg.seed_min_points or track.ys[-1] - track.ys[0] < cfg.seed_min_travel_px:
        return False
    return _smooth_fit(track) <= cfg.seed_max_rmse_px


class _Path:
    """A fall in facade metres through the points so far: height with g (or its own acceleration once there are
    enough points), sideways drift linear."""

    def __init__(self, facade: Facade, cfg: GatherConfig) -> None:
        self.facade, self.cfg = facade, cfg
        self.ts: list[float] = []
        self.pts: list[tuple[float, float]] = []
        self._coef_x = self._coef_h = np.zeros(3)

    def add(self, t: float, xy: tuple[float, float]) -> None:
        self.ts.append(t)
        self.pts.append(xy)

    def refit(self) -> None:
        ts = np.asarray(self.ts) - self.ts[0]
        m = self.facade.image_to_facade(np.asarray(self.pts, np.float64))
        x, h = m[:, 0], m[:, 1]
        basis1 = np.column_stack([np.ones_like(ts), ts])
        self._coef_x = np.append(np.linalg.lstsq(basis1, x, rcond=None)[0], 0.0)
        a = -G
        if len(ts) >= self.cfg.refit_points:
            c = np.polyfit(ts, h, 2)
            a = float(np.clip(2 * c[0], -12.0, -3.0))
        coef = np.linalg.lstsq(basis1, h - 0.5 * a * ts * ts, rcond=None)[0]
        self._coef_h = np.array([coef[0], coef[1], 0.5 * a])

    def predict(self, t: float) -> np.ndarray:
        tau = t - self.ts[0]
        x = self._coef_x[0] + self._coef_x[1] * tau
        h = self._coef_h[0] + self._coef_h[1] * tau + self._coef_h[2] * tau * tau
        return self.facade.facade_to_image(np.array([[x, h]]))[0]


def gather(seed: Track, frames: list[tuple[float, np.ndarray]], facade: Facade, cfg: GatherConfig) -> Track:
    """The seed followed by the blobs nearest its predicted path in `frames` (time order, after the seed), one per
    frame, until the path leaves the image, `reach_s` passes or no blob was on it for `max_gap_s`."""
    path = _Path(facade, cfg)
    for t, x, y in zip(seed.ts, seed.xs, seed.ys):
        path.add(t, (x, y))
    path.refit()
    out = Track(seed.id, list(seed.ts), list(seed.xs), list(seed.ys), list(seed.areas))
    h = facade.image_size[1]
    last_t, last_xy = seed.ts[-1], np.array([seed.xs[-1], seed.ys[-1]])
    for t, centres in frames:
        if t - seed.ts[-1] > cfg.reach_s or t - last_t > cfg.max_gap_s:
            break
        pred = path.predict(t)
        if pred[1] > h + 5:
            break
        if len(centres) == 0:
            continue
        motion = float(np.hypot(*(pred - last_xy)))
        dx, dy = (centres - pred).T
        # scaled distance: 1 at the window's edge
        down = cfg.tol_px + np.where(dy > 0, cfg.tol_down, cfg.tol_up) * motion
        d = np.maximum(np.abs(dx) / (cfg.tol_px + cfg.tol_side * motion), np.abs(dy) / down)
        i = int(np.argmin(d))
        if d[i] > 1.0:
            continue
        cx, cy = float(centres[i, 0]), float(centres[i, 1])
        out.add(t, cx, cy, 0.0)
        path.add(t, (cx, cy))
        path.refit()
        last_t, last_xy = t, centres[i]
    return out


def deadline(seed: Track, facade: Facade, cfg: GatherConfig) -> float:
    """When the seed's predicted path has left the image, or `reach_s` after the seed's end: the time to gather."""
    path = _Path(facade, cfg)
    for t, x, y in zip(seed.ts, seed.xs, seed.ys):
        path.add(t, (x, y))
    path.refit()
    h = facade.image_size[1]
    step = 0.1
    t = seed.ts[-1]
    while t < seed.ts[-1] + cfg.reach_s:
        t += step
        if path.predict(t)[1] > h + 5:
            break
    return min(t, seed.ts[-1] + cfg.reach_s) + 0.05
