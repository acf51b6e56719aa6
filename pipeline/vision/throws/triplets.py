"""Seeds from scattered sightings: three blobs of recent frames that lie on one fall, for the gathering to follow.

Why: in rain a small object is over the threshold on about a third of its frames, in runs of one to three frames,
and a rain frame holds dozens of streak remnants. The tracker drops a one- or two-point track after one missed
frame, so the object makes no track of the four smooth points a gathering seed needs (`gathering.is_seed`), although
a blob lies on its path on 10-30 frames (dev seeds 54, 117, 333, 344, 375, 387 were missed that way; triplets
find all but 344 and 375). Three sightings a
frame or three apart are enough to fix a fall's path when gravity is known: the first and last fix the height
and the speed, and the middle one must lie where that parabola puts it (within `tol_px`). Random remnants rarely
do; those that do start a gathering that needs `min_blob_hits` more blobs on the path before its fall is judged,
by the same test as every other fall.

Cost: on rain frames only, a few vectorized numpy operations on the pairs of this frame's blobs and a recent
frame's blobs that are close enough sideways, and the gatherings they start: the dev rain scenes ran at 121
instead of 131 frames/s in the dev loop (`throw_dev score`, two processes on two cores), ~0.6 ms a frame.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.tracking import Track
from pipeline.vision.throws.trajectory import G


@dataclass(frozen=True)
class TripletConfig:
    enabled: bool = True
    """On by default since 2026-12-07 (morning), with `follow_out`. Held-out benchmark (3b47d6b, triplets on):
    111 of 117 throws (recall 0.949; 0.940 with them off), 0 false alarms in 0.5 h and 0 in 2 h of held-out
    distractor video. Without `follow_out` (7bb4b13) the same recall came with 2 false alarms in 0.5 h, and in 2 h
    of dev distractor video two from one leaf (seed 5097): a gathering started mid-sink sees only the half of a
    leaf's wobble in which it sinks faster, which fits g. Dev seeds 0-599: 999 of 1063 throws found, 994 with
    triplets off; the same 6 false events."""
    max_lag: int = 3
    """Frames between consecutive sightings of a triplet, at most (a small object in rain is seen on runs of 1-3
    frames, with gaps as long)."""
    tol_px: float = 2.0
    """The middle sighting must lie this close (full-res px) to where the parabola through the other two, with g,
    puts it: centroid jitter of a one-pixel blob at working resolution."""
    min_move_px: float = 3.0
    """The last sighting is at least this far below the first (image px): a speck that stays put (a drip, a glint)
    is no fall."""
    max_sideways_mps: float = 3.0
    """Largest sideways speed along the facade (m/s) between the first and last sighting: a throw outward drifts
    slowly."""
    max_rise_mps: float = 1.5
    """Largest upward speed (m/s) at the first sighting: a fall, or the top of a gentle upward throw."""
    max_new: int = 6
    """Gatherings started per frame, best fitting first: heavy rain must not flood the core with them."""
    min_blob_hits: int = 5
    """Blobs a triplet's gathering must take on the path besides its three (`GatherConfig.min_blob_hits` is 2 for a
    tracker's seed of four smooth points): three points that fit a parabola by chance are weaker evidence."""
    followed_points: int | None = None
    """Off by default (None). When set, a triplet's gathering that followed the fall out (see `follow_out`) with at
    least this many points is judged however few blobs were among them: the points found under the threshold along
    the gravity path stand in for them. In rain a small object is over the threshold on a few frames only; at 16,
    dev seeds 296, 344 and 585 (followed out over 21-32 frames, fitted to 0.6-1.4 px, 1-4 blobs) were found, and no
    triplet gathering short of those blobs that followed something else out reached 16 points (dev seeds 0-599 and
    0.5 h of dev distractor video: 215 reached 8, none passed the fall test; 2 h of dev distractor video: no new
    false alarm). On the held-out benchmark it found no more throws (111 of 117 either way) and raised one more
    false alarm in 3 h of held-out distractor video (seed 6008 at 71.4 s, beside one the core raises anyway), so
    it stays off."""
    follow_out: bool = True
    """A triplet's gathering is judged only when it followed its fall until the path left the image, the object
    landed in view (`GatherConfig.landed_m`) or `GatherConfig.reach_s` ran out, not when it lost the object in the
    air for `GatherConfig.max_gap_s`: a falling object keeps falling the way the fit says, a leaf sinks faster
    and slower in turn, and a gathering that caught its faster half loses it when it slows. Dev seeds 0-599: none
    of the 61 true triplet gatherings that raised an event ended on a gap; in 2 h of dev distractor video the two
    triplet false alarms (seed 5097, one leaf twice, at 44.6 s and 47.5 s) both did, the leaf still in view beside
    the fitted path."""


class RecentBlobs:
    """The last frames' blob centres in image px, and in facade metres once asked for (most frames are dry and
    never are), for `triplets`."""

    def __init__(self, facade: Facade, max_lag: int) -> None:
        self.facade = facade
        self._frames: deque[list] = deque(maxlen=2 * max_lag)  # [t, px, metres or None]

    def add(self, t: float, px: np.ndarray, metres: np.ndarray | None = None) -> None:
        """A frame's blobs; `metres` when the caller has them already (else computed if ever asked for)."""
        self._frames.append([t, px, metres])

    def back(self, lag: int) -> tuple[float, np.ndarray, np.ndarray] | None:
        """(t, px, metres) of the frame added `lag` frames ago (1 = the latest), or None."""
        if lag > len(self._frames):
            return None
        frame = self._frames[-lag]
        if frame[2] is None:
            frame[2] = to_metres(self.facade, frame[1])
        return frame[0], frame[1], frame[2]


def to_metres(facade: Facade, px: np.ndarray) -> np.ndarray:
    """Image px (N,2) -> facade metres (N,2); an empty array stays empty."""
    return facade.image_to_facade(px.astype(np.float64)) if len(px) else np.zeros((0, 2))


def triplets(t: float, px: np.ndarray, metres: np.ndarray, recent: RecentBlobs, facade: Facade,
             cfg: TripletConfig) -> list[tuple[float, Track]]:
    """(fit error px, seed track of three points) for every pair of this frame's blobs `px` / `metres` ((N,2)
    each) and an earlier blob `max_lag` frames or less before, whose fall through g puts a blob of the frame in
    between within `tol_px`: sorted, best fit first."""
    out: list[tuple[float, Track]] = []
    if len(px) == 0:
        return out
    for lag_b in range(1, cfg.max_lag + 1):
        mid = recent.back(lag_b)
        if mid is None or len(mid[1]) == 0:
            continue
        for lag_a in range(lag_b + 1, lag_b + cfg.max_lag + 1):
            first = recent.back(lag_a)
            if first is None or len(first[1]) == 0:
                continue
            out += _through(t, px, metres, mid, first, facade, cfg)
    out.sort(key=lambda s: s[0])
    return out


def _through(t: float, px: np.ndarray, metres: np.ndarray, mid: tuple[float, np.ndarray, np.ndarray],
             first: tuple[float, np.ndarray, np.ndarray], facade: Facade,
             cfg: TripletConfig) -> list[tuple[float, Track]]:
    """Triplets (first frame's blob, mid frame's blob, this frame's blob) on one fall."""
    (ta, pa, ma), (tb, pb, _) = first, mid
    span = t - ta
    near = ((np.abs(metres[None, :, 0] - ma[:, None, 0]) <= 0.2 + cfg.max_sideways_mps * span)
            & (px[None, :, 1] - pa[:, None, 1] >= cfg.min_move_px))
    ia, ic = np.nonzero(near)
    if len(ia) == 0:
        return []
    # the fall through the first and last sighting with g: its upward speed at the first one
    va = (metres[ic, 1] - ma[ia, 1] + 0.5 * G * span * span) / span
    keep = va <= cfg.max_rise_mps
    ia, ic, va = ia[keep], ic[keep], va[keep]
    if len(ia) == 0:
        return []
    tau = tb - ta
    at_mid = np.column_stack([ma[ia, 0] + (metres[ic, 0] - ma[ia, 0]) * tau / span,
                              ma[ia, 1] + va * tau - 0.5 * G * tau * tau])
    pred = facade.facade_to_image(at_mid)
    dist = np.hypot(pred[:, None, 0] - pb[None, :, 0], pred[:, None, 1] - pb[None, :, 1])
    ib = np.argmin(dist, axis=1)
    err = dist[np.arange(len(ib)), ib]
    return [(float(err[j]), Track(0, [ta, tb, t], [float(pa[ia[j], 0]), float(pb[ib[j], 0]), float(px[ic[j], 0])],
                                  [float(pa[ia[j], 1]), float(pb[ib[j], 1]), float(px[ic[j], 1])], [0.0] * 3))
            for j in np.flatnonzero(err <= cfg.tol_px)]
