"""Gated nearest-neighbour tracking of small blobs with a constant-acceleration predictor.

A frame holds a handful of blobs, so a greedy assignment on a small numpy distance matrix is enough; what
matters is the predictor: a falling object accelerates (tens of px/frame near the ground), so the gate is
centred on the constant-acceleration prediction and grows with speed.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

FaintSearch = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""(predicted positions (N,2), radii (N,)) -> (found (N,), centres (N,2), areas (N,)): see Foreground.faint_near."""
Trail = Callable[[np.ndarray], np.ndarray]
"""blob centres (N,2) -> (N, K, 2) their positions on the previous K frames, newest first, NaN where unknown: see
Foreground.speck_trail."""


@dataclass(frozen=True)
class TrackerConfig:
    max_miss: int = 3
    """Frames a track may go unseen (a blob lost against a matching background) before it ends."""
    gate_px: float = 12.0
    """Base gate radius (full-res px) around the prediction: blob-centroid jitter (a blob half hidden by a
    masked-out mullion moves its centroid by half its size) plus prediction error."""
    gate_speed: float = 0.5
    """Extra gate per px of predicted motion since the last sighting: faster means less certain."""
    first_jump: float = 0.06
    """Largest move between the first two sightings, as a share of the image height per 1/30 s."""
    max_new_tracks: int = 48
    """New tracks started per frame, from the largest blobs no track took. Every blob may continue a track; only
    the new ones are capped, so a rain frame's remnants cannot flood the tracker."""
    max_tracks: int = 96
    """Open tracks kept; in a noise storm the youngest short ones are dropped first."""
    max_points: int = 400
    """Points kept per track (~13 s at 30 fps): longer is not a fall from any building we watch."""
    faint_min_points: int = 1
    """A track this long that no blob continued is looked for under the threshold (see `update`)."""
    faint_gate: float = 0.5
    """Share of the track's gate searched for a faint continuation: the window must stay small for a chance
    noise pixel to be rare in it."""


@dataclass
class Track:
    id: int
    ts: list[float] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    areas: list[float] = field(default_factory=list)
    misses: int = 0

    def first(self, n: int) -> Track:
        """A new track of this one's first n points."""
        return Track(self.id, self.ts[:n], self.xs[:n], self.ys[:n], self.areas[:n])

    def reversed_in_time(self) -> Track:
        """A new track with time negated and the points in reverse order: its end first, run backwards."""
        return Track(self.id, [-t for t in reversed(self.ts)], self.xs[::-1], self.ys[::-1], self.areas[::-1])

    def add(self, t: float, x: float, y: float, area: float) -> None:
        self.ts.append(t)
        self.xs.append(x)
        self.ys.append(y)
        self.areas.append(area)
        self.misses = 0

    def __len__(self) -> int:
        return len(self.ts)

    def predict(self, t: float) -> tuple[float, float, float]:
        """(x, y, expected motion in px) at time t from the last three points (constant acceleration)."""
        x, y, t1 = self.xs[-1], self.ys[-1], self.ts[-1]
        dt = t - t1
        if len(self) < 2:
            return x, y, 0.0
        t0 = self.ts[-2]
        vx, vy = (x - self.xs[-2]) / (t1 - t0), (y - self.ys[-2]) / (t1 - t0)
        ax = ay = 0.0
        if len(self) >= 3:
            tm = self.ts[-3]
            vx0, vy0 = (self.xs[-2] - self.xs[-3]) / (t0 - tm), (self.ys[-2] - self.ys[-3]) / (t0 - tm)
            span = (t1 - tm) / 2
            ax, ay = (vx - vx0) / span, (vy - vy0) / span
        # vx, vy are mid-interval velocities: carry them to t1 with the acceleration, then extrapolate
        half = (t1 - t0) / 2
        px = x + (vx + ax * half) * dt + 0.5 * ax * dt * dt
        py = y + (vy + ay * half) * dt + 0.5 * ay * dt * dt
        return px, py, float(np.hypot(px - x, py - y))


class Tracker:
    """Feeds blobs frame by frame; `update` returns the tracks that ended in this frame."""

    def __init__(self, image_height: int, fps: float, config: TrackerConfig | None = None) -> None:
        self.cfg = config or TrackerConfig()
        self.first_gate_per_s = self.cfg.first_jump * image_height * 30.0
        self.fps = fps
        self.tracks: list[Track] = []
        self._next_id = 1
        self._past_t: deque[float] = deque(maxlen=8)  # times of the previous frames, newest last

    def update(self, t: float, centres: np.ndarray, areas: np.ndarray,
               faint: FaintSearch | None = None, faint_min_fall_px: float | None = None,
               trail: Trail | None = None) -> list[Track]:
        """Assign this frame's blobs; tracks no blob continued are looked for with `faint` (when given) around
        their prediction, so a faint object's track survives the frames it is under the threshold; with
        `faint_min_fall_px`, only tracks predicted to move down at least that much (px) since their last point.
        A new track starts with its blob's `trail` (when given): where the blob was on the frames before."""
        free = self._assign(t, centres, areas, faint, faint_min_fall_px)
        new = self._new_track_blobs(free, areas)
        before = trail(centres[new]) if trail is not None and len(new) else None
        for j, i in enumerate(new):
            track = Track(self._next_id)
            self._next_id += 1
            if before is not None:
                self._start_with(track, before[j])
            track.add(t, float(centres[i, 0]), float(centres[i, 1]), float(areas[i]))
            self.tracks.append(track)
        self._past_t.append(t)
        ended = [tr for tr in self.tracks if self._over(tr)]
        if ended:
            self.tracks = [tr for tr in self.tracks if not self._over(tr)]
        if len(self.tracks) > self.cfg.max_tracks:
            self.tracks.sort(key=len, reverse=True)
            del self.tracks[self.cfg.max_tracks:]
        return ended

    def _start_with(self, track: Track, before: np.ndarray) -> None:
        """Add a blob's earlier positions ((K, 2), newest first, NaN from where they are unknown) at the previous
        frames' times."""
        finite = np.isfinite(before[:, 0])
        known = min(len(before) if finite.all() else int(np.argmin(finite)), len(self._past_t))
        for k in range(known - 1, -1, -1):
            track.add(self._past_t[-1 - k], float(before[k, 0]), float(before[k, 1]), 0.0)

    def _new_track_blobs(self, free: np.ndarray, areas: np.ndarray) -> np.ndarray:
        """Indices of the free blobs that start tracks: all, or the `max_new_tracks` largest, in blob order."""
        idx = np.flatnonzero(free)
        if len(idx) > self.cfg.max_new_tracks:
            idx = np.sort(idx[np.argsort(-areas[idx], kind="stable")[: self.cfg.max_new_tracks]])
        return idx

    def _over(self, tr: Track) -> bool:
        """Lost for too long (a one- or two-point track, almost always noise, after a single miss) or too long."""
        limit = self.cfg.max_miss if len(tr) >= 3 else 1
        return tr.misses > limit or len(tr) >= self.cfg.max_points

    def finish(self) -> list[Track]:
        """End of stream: every open track ends."""
        ended, self.tracks = self.tracks, []
        return ended

    def _assign(self, t: float, centres: np.ndarray, areas: np.ndarray, faint: FaintSearch | None,
                faint_min_fall_px: float | None = None) -> np.ndarray:
        """Greedy assignment inside each track's gate, longest track first; returns the unassigned-blob mask."""
        free = np.ones(len(centres), bool)
        if not self.tracks:
            return free
        if len(centres) == 0 and faint is None:
            for tr in self.tracks:
                tr.misses += 1
            return free
        preds, gates, n_pts, last = self._predict_all(t)
        taken = self._take(t, centres, areas, preds, gates, free) if len(centres) else np.zeros(len(self.tracks), bool)
        if faint is not None:
            wanted = ~taken & (n_pts >= self.cfg.faint_min_points)
            if faint_min_fall_px is not None:
                wanted &= preds[:, 1] - last[:, 1] >= faint_min_fall_px
            want = np.flatnonzero(wanted)
            if want.size:
                got, at, area = faint(preds[want], self.cfg.faint_gate * gates[want])
                for j in np.flatnonzero(got):
                    ti = int(want[j])
                    taken[ti] = True
                    self.tracks[ti].add(t, float(at[j, 0]), float(at[j, 1]), float(area[j]))
        for ti in np.flatnonzero(~taken):
            self.tracks[ti].misses += 1
        return free

    def _take(self, t: float, centres: np.ndarray, areas: np.ndarray, preds: np.ndarray, gates: np.ndarray,
              free: np.ndarray) -> np.ndarray:
        """Blobs to tracks inside each gate (updates `free`); returns which tracks got one."""
        dist = np.hypot(preds[:, 0:1] - centres[None, :, 0], preds[:, 1:2] - centres[None, :, 1])
        dist[dist > gates[:, None]] = np.inf
        taken = np.zeros(len(self.tracks), bool)
        nearest = np.argmin(dist, axis=1)
        reach = np.isfinite(dist[np.arange(len(self.tracks)), nearest])
        if len(np.unique(nearest[reach])) == int(reach.sum()):
            # the usual case: no two tracks want the same blob
            for ti in np.flatnonzero(reach):
                ci = int(nearest[ti])
                taken[ti], free[ci] = True, False
                self.tracks[ti].add(t, float(centres[ci, 0]), float(centres[ci, 1]), float(areas[ci]))
        else:
            # Conflicts: the closest (track, blob) pairs are settled first. Tracks of one or two points (a
            # fragment of a blob split by a mullion, noise) pay a gate_px penalty, so they cannot steal the
            # continuation of an established fall; among established tracks the better prediction wins. (Longest
            # first let a long-lived stationary track - a lit window edge, a rain remnant - take a fall passing
            # within its gate, and a bird's track take the fall it crossed.)
            short = np.array([len(tr) < 3 for tr in self.tracks])
            cost = dist + np.where(short, self.cfg.gate_px, 0.0)[:, None]
            order = np.argsort(cost, axis=None)
            n_c = cost.shape[1]
            for flat in order[: int(np.isfinite(cost).sum())]:
                ti, ci = divmod(int(flat), n_c)
                if taken[ti] or not free[ci]:
                    continue
                taken[ti], free[ci] = True, False
                self.tracks[ti].add(t, float(centres[ci, 0]), float(centres[ci, 1]), float(areas[ci]))
        return taken

    def _predict_all(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Track.predict for every track at once ((N,2) positions, (N,) gate radii, (N,) track lengths, (N,2) last
        points): the hot loop of tracking."""
        hist = np.array([_last3(tr) for tr in self.tracks])  # (N, 3 points oldest first, t/x/y), padded
        n_pts = np.array([len(tr) for tr in self.tracks])
        misses = np.array([tr.misses for tr in self.tracks])
        (tm, t0, t1), p_m, p_0, p_1 = hist[:, :, 0].T, hist[:, 0, 1:], hist[:, 1, 1:], hist[:, 2, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            v1 = (p_1 - p_0) / (t1 - t0)[:, None]
            v0 = (p_0 - p_m) / (t0 - tm)[:, None]
            acc = (v1 - v0) / ((t1 - tm) / 2)[:, None]
        v1[n_pts < 2] = 0.0
        acc[n_pts < 3] = 0.0
        half, dt = ((t1 - t0) / 2)[:, None], (t - t1)[:, None]
        half[n_pts < 2] = 0.0
        preds = p_1 + (v1 + acc * half) * dt + 0.5 * acc * dt * dt
        motion = np.hypot(*(preds - p_1).T)
        gates = np.where(n_pts == 1, self.cfg.gate_px + self.first_gate_per_s * dt[:, 0],
                         self.cfg.gate_px * (1 + misses) + self.cfg.gate_speed * motion)
        return preds, gates, n_pts, p_1


def _last3(track: Track) -> list[list[float]]:
    """Three (t, x, y) samples, oldest first, spaced 2 apart once the track has 5 points (centroid jitter of one
    frame then disturbs the acceleration a quarter as much); a short track repeats its oldest point (masked by
    the caller)."""
    k = len(track)
    step = 2 if k >= 5 else 1
    return [[track.ts[i], track.xs[i], track.ys[i]] for i in (max(k - 1 - 2 * step, 0), max(k - 1 - step, 0), k - 1)]
