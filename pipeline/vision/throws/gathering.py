"""Curve-guided gathering: the rest of a fall collected from the frames' blobs along the path gravity predicts.

Why: in rain, at night or against a wall of its own colour a small object is in the mask on a third of the frames
of its fall, scattered: the dev misses in rain had a blob within 6 px of the object on 10-70 frames, but never
enough of them in a row for the tracker (which loses a track after `max_miss` frames) to make one track of 8
points and 3 m of drop. What the tracker does keep is a short piece near the release, where the object is slow.
That piece fixes the release point and the start speed, and gravity fixes the rest: the object's position at
every later frame is known to a few pixels, so a blob there is the object far more often than chance (a rain
frame has 20-40 blobs over ~0.9 Mpx: a 4 px circle holds one of them by chance on 1 frame in 500). The points
gathered that way go to the same fall test as a track, held to a tighter fit (2 px).

Online: a seed is made when the tracker ends its piece (a few frames after the last sighting; those frames' blobs
are kept and gone through first), then each frame looks in the window around the prediction for a blob and,
failing that, for a change under the threshold (`Foreground.faint_near`), until the path leaves the image or
nothing was on it for `max_gap_s`. Cost: a few numpy operations a frame for each fall being gathered.
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
    """Blobs kept this long (the frames between a piece's last sighting and the tracker ending it are gone through
    when the seed is made); reported falls are remembered this much longer than `duplicate_window_s`."""
    seed_min_points: int = 4
    seed_min_travel_px: float = 3.0
    """A seed is a piece that is no fall, has this many points, moved down this much (or, over the top of an
    upward throw, this much from its highest point, and is moving down at its end) ..."""
    seed_max_rmse_px: float = 1.5
    """... and fits a quadratic in time this well (a smooth start, not jitter in one place)."""
    reach_s: float = 2.0
    """How far past the seed's end the path is followed (at most: it stops when the path leaves the image)."""
    max_gap_s: float = 0.6
    """The gathering stops after this long without a blob on the path."""
    landed_m: float = 1.0
    """... and when its last point was this low (fitted height, m), the object has landed rather than been lost
    (where the ground is in view): see `TripletConfig.follow_out`."""
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
    faint_share: float = 0.5
    """A change under the threshold (see `Hypothesis`) must lie in this share of the window: the strongest change
    in a wide window is noise often enough to spoil the fit (a test scene: points 4-6 px off the path)."""
    min_blob_hits: int = 2
    """A gathered fall needs this many points from blobs besides its seed: the search under the threshold finds
    what the path predicts too readily - along a vertical edge during an exposure change it found a 'fall' of 15
    faint points behind a 4-point seed that had not moved down (dev seed 42)."""
    strong_seed_points: int = 8
    """... unless its seed alone had this many points: a seed of 8 smooth points fixes the path well enough that
    points under the threshold along it are the object (dev seeds 0-599: 2 more throws, no more false events;
    seed 42's false fall had a seed of 4)."""
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
    max_rmse_share: float = 0.008
    """...or to this share of the path's height in the image, when that is more (see `rmse_limit_px`)."""
    seed_window: int = 30
    """Only a piece's first this-many points are looked at for a seed: a seed is a start."""
    back_min_points: int = 8
    back_min_travel_px: float = 10.0
    back_max_rmse_px: float = 2.5
    """A piece that is no fall is followed back in time (see `gather_back`) when its first `seed_window` points
    are this many, moved down this much and fit a quadratic this well."""
    back_fit_points: int = 16
    """Going back, the path is fitted to the earliest this-many points: a long fall with drag is no quadratic
    over its whole length, and its start is what predicts where the object was before."""


class BlobHistory:
    """The blob centres (full-res px) of the last frames, with their times."""

    def __init__(self, fps: float, span_s: float) -> None:
        self._frames: deque[tuple[float, np.ndarray]] = deque(maxlen=max(2, int(round(fps * span_s))))

    def add(self, t: float, centres: np.ndarray) -> None:
        self._frames.append((t, centres))

    def after(self, t: float) -> list[tuple[float, np.ndarray]]:
        return [(ft, c) for ft, c in self._frames if ft > t]

    def before(self, t: float) -> list[tuple[float, np.ndarray]]:
        return [(ft, c) for ft, c in self._frames if ft < t]


def quadratic_rmse(track: Track) -> float:
    """RMS px of quadratics in time fitted to x and y, the worse of the two: how far the track is from one smooth
    ballistic-looking curve."""
    ts = np.asarray(track.ts) - track.ts[0]
    worst = 0.0
    for v in (np.asarray(track.xs), np.asarray(track.ys)):
        coef = np.polyfit(ts, v, 2)
        worst = max(worst, float(np.sqrt(np.mean((np.polyval(coef, ts) - v) ** 2))))
    return worst


def rmse_limit_px(track: Track, cfg: GatherConfig) -> float:
    """How loosely a gathered fall may fit its points (RMS image px): `max_rmse_px`, or `max_rmse_share` of the
    path's height in the image when that is more. The core's own cap for every fall (`stitch_max_rmse_px`, 3 px,
    in `ThrowCore._passes`) still holds: the share matters for paths of 250-375 px.

    Why: a long fast fall is a streak tens of px long on its last frames, and the centroid of a streak cut by wall
    bands, or merged with a rain remnant, is off by a few px; what a chance path fails on is its residual against
    its own size. Dev seed 593: a 34 cm drop from floor 26 gathered over 459 px fit to 2.65 px (0.6 %, g 9.9) and
    was lost; the gathered paths that were no throw at the limit of 3 px fit to 1.1-3 % of their 80-265 px (dev
    seeds 32, 74, 538)."""
    return max(cfg.max_rmse_px, cfg.max_rmse_share * float(max(track.ys) - min(track.ys)))


def is_seed(track: Track, cfg: GatherConfig) -> bool:
    """A short smooth piece moving down, or over the top of an upward throw: the start of a fall the tracker
    lost."""
    if len(track) < cfg.seed_min_points or quadratic_rmse(track) > cfg.seed_max_rmse_px:
        return False
    if track.ys[-1] - track.ys[0] >= cfg.seed_min_travel_px:
        return True
    ts = np.asarray(track.ts) - track.ts[0]
    c2, c1, _ = np.polyfit(ts, np.asarray(track.ys), 2)
    return bool(c2 > 0 and (track.ys[-1] - min(track.ys)) >= cfg.seed_min_travel_px and 2 * c2 * ts[-1] + c1 > 0)


class _Path:
    """A fall in facade metres through a track's points: height with g (or its own acceleration once there are
    enough points), sideways drift linear."""

    def __init__(self, facade: Facade, cfg: GatherConfig, last: int | None = None) -> None:
        self.facade, self.cfg, self._last = facade, cfg, last
        self._t0 = 0.0
        self._coef_x = self._coef_h = np.zeros(3)

    def refit(self, track: Track) -> None:
        """Fit to the track's points (its last `last` of them, when set)."""
        k = 0 if self._last is None else max(0, len(track) - self._last)
        self._t0 = track.ts[k]
        ts = np.asarray(track.ts[k:]) - self._t0
        m = self.facade.image_to_facade(np.column_stack([track.xs[k:], track.ys[k:]]).astype(np.float64))
        x, h = m[:, 0], m[:, 1]
        basis1 = np.column_stack([np.ones_like(ts), ts])
        self._coef_x = np.append(np.linalg.lstsq(basis1, x, rcond=None)[0], 0.0)
        a = -G
        if len(ts) >= self.cfg.refit_points:
            c = np.polyfit(ts, h, 2)
            a = float(np.clip(2 * c[0], -12.0, -3.0))
        coef = np.linalg.lstsq(basis1, h - 0.5 * a * ts * ts, rcond=None)[0]
        self._coef_h = np.array([coef[0], coef[1], 0.5 * a])

    def height(self, t: float) -> float:
        """Fitted height (m above the ground) at t."""
        tau = t - self._t0
        return float(self._coef_h[0] + self._coef_h[1] * tau + self._coef_h[2] * tau * tau)

    def climb_speed(self, t: float) -> float:
        """Upward speed (m/s) of the fitted height at t."""
        return float(self._coef_h[1] + 2 * self._coef_h[2] * (t - self._t0))

    def predict(self, t: float) -> np.ndarray:
        tau = t - self._t0
        x = self._coef_x[0] + self._coef_x[1] * tau
        h = self._coef_h[0] + self._coef_h[1] * tau + self._coef_h[2] * tau * tau
        return self.facade.facade_to_image(np.array([[x, h]]))[0]


class Hypothesis:
    """A seed's fall being gathered, frame by frame: where the object should be now, and the points found so far.

    Run online, so that on each frame where no blob lies on the path the core can look for the object under the
    threshold there (`Foreground.faint_near`), as it does for tracks: in rain a small object is over the threshold
    on about a third of its frames and under it but clear of the noise on many more."""

    def __init__(self, seed: Track, facade: Facade, cfg: GatherConfig, backward: bool = False,
                 from_triplet: bool = False) -> None:
        """from_triplet: seeded by three scattered sightings (see `triplets`), a weaker seed, which the core holds
        to stricter terms (`TripletConfig`)."""
        self.from_triplet = from_triplet
        self.ended: str | None = None  # why `predict` ended it: "reach", "gap", "landed" or "left" (the image)
        self.cfg, self.seed_end, self._bottom = cfg, seed.ts[-1], facade.image_size[1] + 5
        self.backward = backward
        self.track = Track(seed.id, list(seed.ts), list(seed.xs), list(seed.ys), list(seed.areas))
        self.path = _Path(facade, cfg, cfg.back_fit_points if backward else None)
        self.path.refit(self.track)
        self._last_t, self._last_xy = seed.ts[-1], np.array([seed.xs[-1], seed.ys[-1]])
        self.blob_hits = 0  # points gathered from blobs (over the threshold), not from the search under it
        self.seed_points = len(seed)

    def predict(self, t: float) -> np.ndarray | None:
        """The object's predicted position at t (full-res px), or None when the gathering is over: the path left
        the image, `reach_s` passed since the seed, or nothing was on the path for `max_gap_s`."""
        cfg = self.cfg
        if t - self.seed_end > cfg.reach_s:
            self.ended = "reach"
            return None
        if t - self._last_t > cfg.max_gap_s:  # lost: on the ground (seen down to it) or in the air
            self.ended = "landed" if self.path.height(self._last_t) <= cfg.landed_m else "gap"
            return None
        pred = self.path.predict(t)
        if self.backward:
            # time runs backwards: the path climbs back to where the object was let go (its speed there is nil)
            return None if pred[1] < -5 or self.path.climb_speed(t) <= 0 else pred
        if pred[1] > self._bottom:
            self.ended = "left"
            return None
        return pred

    def window(self, pred: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """Scaled distance of each point from the prediction: 1 at the edge of the long narrow window."""
        cfg = self.cfg
        motion = float(np.hypot(*(pred - self._last_xy)))
        dx, dy = (pts - pred).T
        along = cfg.tol_px + np.where(dy > 0, cfg.tol_down, cfg.tol_up) * motion
        return np.maximum(np.abs(dx) / (cfg.tol_px + cfg.tol_side * motion), np.abs(dy) / along)

    def reach_px(self, pred: np.ndarray) -> float:
        """Half-size of a square that holds the window (for a search under the threshold)."""
        motion = float(np.hypot(*(pred - self._last_xy)))
        return self.cfg.faint_share * (self.cfg.tol_px + max(self.cfg.tol_down, self.cfg.tol_side) * motion)

    def follow(self, frames: list[tuple[float, np.ndarray]]) -> None:
        """Take the blob on the path from each of `frames` (time order; blob centres) until the gathering is over:
        for frames already gone by, where there is no search under the threshold."""
        for t, centres in frames:
            pred = self.predict(t)
            if pred is None:
                return
            self.take(t, pred, centres)

    def take(self, t: float, pred: np.ndarray, pts: np.ndarray, share: float = 1.0) -> bool:
        """Add the point of `pts` nearest the prediction if it is inside the window (scaled by `share`); whether
        one was."""
        if len(pts) == 0:
            return False
        d = self.window(pred, pts)
        i = int(np.argmin(d))
        if d[i] > share:
            return False
        x, y = float(pts[i, 0]), float(pts[i, 1])
        self.track.add(t, x, y, 0.0)
        self.blob_hits += share >= 1.0
        self.path.refit(self.track)
        self._last_t, self._last_xy = t, np.array([x, y])
        return True


def gather(seed: Track, frames: list[tuple[float, np.ndarray]], facade: Facade, cfg: GatherConfig) -> Track:
    """The seed followed by the blobs nearest its predicted path in `frames` (time order, after the seed), one per
    frame, until the gathering is over (see `Hypothesis.predict`)."""
    hyp = Hypothesis(seed, facade, cfg)
    hyp.follow(frames)
    return hyp.track


def gather_back(piece: Track, frames: list[tuple[float, np.ndarray]], facade: Facade,
                cfg: GatherConfig) -> tuple[Track, int]:
    """The blobs nearest the path before `piece` started, followed back towards the release, one per frame of
    `frames` (the frames before the piece, time order), then the piece; and how many blobs were added.

    Why: a light object reaches its drag-limited speed within a second, and in rain or against a wall of its own
    colour the tracker may first hold it after that: a steady sink, which the fall test cannot tell from a
    gliding bird or a leaf (dev seed 584: 68 points 1 s after the release, fitted at 1.3 m/s^2). The blobs of
    that first second are in the recent frames, scattered; gravity's path run backwards from the piece's start
    says where. The same `Hypothesis`, in negated time (a fall's path is the same parabola run backwards)."""
    hyp = Hypothesis(piece.reversed_in_time(), facade, cfg, backward=True)
    hyp.follow([(-t, centres) for t, centres in reversed(frames)])
    return hyp.track.reversed_in_time(), hyp.blob_hits
