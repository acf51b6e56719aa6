"""ThrowCore: frames of one facade camera in, thrown-object events out (no I/O besides optional evidence).

Per frame: foreground blobs -> tracker; every track that ends (object landed, left the view or was lost for a
few frames) is judged in facade metres by `trajectory.assess`; a fall becomes a ThrowEvent unless it repeats a
fall just reported (a track broken in two by an occlusion, or two blobs of one object). An event is therefore
out `max_miss + 1` frames (~0.15 s) after the object is last seen. A track that is no fall but starts like one
seeds a gathering along gravity's path (`gathering`); its event is out when that path leaves the image or has
been empty for `GatherConfig.max_gap_s` (0.6 s).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.foreground import Foreground, ForegroundConfig
from pipeline.vision.throws.gathering import (BlobHistory, GatherConfig, Hypothesis, gather_back, is_seed,
                                              quadratic_rmse, rmse_limit_px)
from pipeline.vision.throws.tracking import FaintSearch, Track, Tracker, TrackerConfig
from pipeline.vision.throws.trajectory import Fit, TrajectoryConfig, Verdict, assess
from pipeline.vision.throws.triplets import RecentBlobs, TripletConfig, to_metres, triplets

if TYPE_CHECKING:
    from pipeline.vision.throws.evidence import EvidenceSink

EVENT_TYPE = "thrown_object"


@dataclass(frozen=True)
class ThrowEvent:
    t_start: float
    t_end: float
    release_t: float
    origin_floor: int
    origin_column: int
    origin_m: tuple[float, float]
    confidence: float
    trajectory: list[tuple[float, float, float]]
    fit: dict
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"type": EVENT_TYPE, "t_start": round(self.t_start, 3), "t_end": round(self.t_end, 3),
                "release_t": round(self.release_t, 3),
                "origin": {"floor": self.origin_floor, "column": self.origin_column,
                           "x_m": round(self.origin_m[0], 2), "y_m": round(self.origin_m[1], 2)},
                "confidence": self.confidence,
                "trajectory": [[round(t, 3), round(x, 1), round(y, 1)] for t, x, y in self.trajectory],
                "fit": self.fit, "evidence": self.evidence}


@dataclass(frozen=True)
class ThrowConfig:
    foreground: ForegroundConfig = field(default_factory=ForegroundConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    gather: GatherConfig = field(default_factory=GatherConfig)
    """Pieces that look like the start of a fall are followed along gravity's path (see `gathering`)."""
    triplets: TripletConfig = field(default_factory=TripletConfig)
    """On rain frames, falls are also gathered from three scattered sightings on one path (see `triplets`)."""
    follow_faint: bool = True
    """Follow a track through frames where its object is under the threshold but above a share of it, close to
    the prediction (see `Foreground.faint_near`): a small object at night is in the mask on a few frames of its
    fall only, and came out as pieces too short to judge."""
    follow_faint_in_rain: bool = True
    """...on rain frames too, off rain streaks (see `ForegroundConfig.faint_streak_run`)."""
    rain_faint_min_fall_px: float = 1.0
    """On rain frames a track is looked for under the threshold only when it is predicted to move down at least
    this much (full-res px) since its last sighting: there the search finds streak remnants often enough to keep
    a still track alive for seconds, and a still track takes the blobs of the fall that passes it (dev seeds
    111, 139: without this rule 3 throws were lost that the rain search without it had found)."""
    start_with_trail: bool = False
    """On rain frames a track started from a one-pixel speck starts with the speck's two earlier sightings (see
    `Foreground.speck_trail`). Off: on dev seeds 0-599 it found 7 more of the 317 rain throws (268 -> 275, 3 more
    false events, fragments of true falls, 0 false alarms in 0.5 h of dev distractor video), but on the held-out
    benchmark (9081e05, 2026-12-06 23:00 UTC) it found no throw more (110 of 117) and raised 1 false alarm in
    the 0.5 h of held-out distractor video where there had been none."""
    min_confidence: float = 0.2
    """Falls scoring lower are dropped: a barely-passing short track is more often an artefact than a throw."""
    duplicate_m: float = 1.2
    """A fall whose points lie within this (median, facade metres) of a reported fall's fitted curve is the same
    object: a track broken by an occlusion or a second blob of one object."""
    duplicate_window_s: float = 4.0
    """How long a reported fall is remembered for that comparison."""
    follow_gap_s: float | None = 2.0
    """A fall that starts no more than this after a reported fall's last sighting (or while it was still seen),
    within `follow_side_m` sideways of where that one was last seen, not more than `follow_up_m` above it and coming
    in at `follow_speed_share` of its speed or more, is the rest of that fall, not a new one (see
    `ThrowCore._follows_reported`; None: off). Dev seeds 0-599: false events 6 -> 4 (both removed were the later
    part of a reported fall seen again 1.1-1.4 s after it, 17-23 m lower), throws found 999 as before."""
    follow_side_m: float = 1.5
    follow_up_m: float = 3.0
    follow_speed_share: float = 0.5
    """...and only when it comes in at least this share of the speed the reported fall had when last seen: an object
    let go from a lower window of the same column, just as the first passed it, starts slow (dev seeds 7, 36, 412:
    a second throw where the first was last seen, 0.1-1.3 s later)."""
    stitch_gap_s: float = 0.6
    """A track that ends without being a fall is kept as a piece; a later track starting within this of the
    piece's end, below it, is judged joined to it (see `_stitch`). An object passing over a patch of its own
    colour (dark glass), a masked busy area or a shaken frame is lost for a few frames, and the tracker
    (max_miss 3) ends its track: the fall came out in pieces, each too short or, after the object reached its
    drag-limited speed, without the acceleration of a fall; the piece that was reported started late, and
    the release - the window - was read too low."""
    stitch_gap_moving_s: float = 1.0
    """...or within this when the piece was moving down at its end (`stitch_moving_pxps`): a small object at
    night passing dark windows is lost for up to a second and its track resumes on the curve the piece was on
    (dev seeds 0-599: 2 more throws than at 0.6 s). Any piece at this gap also joined still blobs above a fall
    to it, and the window was read from the still blob (a 1 s early start in the processor test, and a
    false start in the office2 clip)."""
    stitch_moving_pxps: float = 25.0
    """Downward speed (full-res px/s, over the piece's last 4 points) that makes a piece 'moving down'."""
    stitch_rmse_px: float = 2.0
    """Pieces join into a longer piece (before either is a fall) when a quadratic in time fits both image
    coordinates of the joint points this well (or 2 % of the joint drop): one object, one smooth curve."""
    stitch_max_rmse_px: float = 3.0
    """A joint fall must fit its points this well in the image (RMS px): true falls in the dev scenes fit to
    0.7 px (median), 2.5 px (95th percentile); joints of a swaying tree's or a walking person's pieces, which
    the metric residual of `assess` (0.25 m + 3 % of the drop) lets through near the ground, fit to 10-30 px."""
    continue_max_rmse_px: float = 6.0
    """A track that, joined behind a fall just reported, is still a fall fitting this well (RMS px) is the rest
    of that fall and no new event. Looser than `stitch_max_rmse_px`: here a miss costs a duplicate alert, not
    a false one, and the last, fastest part of a long fall, seen again after a gap, fits the joint curve to
    3-4 px (dev seed 1: a second event, floor 9, for a fall from floor 16)."""
    short_max_points: int = 19
    """A fall of this many points or fewer must fit them to `stitch_max_rmse_px` in the image, as joints must. A
    short track that fits loosely is noise or rain remnants strung together: false alarms in the 2 h runs of
    dev distractor video were 8 and 11 points fitting to 8.6 and 6.5 px (seeds 5024, 5087), while the 51 true
    falls of 19 points or fewer found in dev seeds 0-599 fit to 2.4 px at most. Longer true falls do fit worse (up to 6.6 px in the dev
    seeds, 5.3 px for the second fall of the office1 clip, 35 points): a long track collects more of the
    centroid's wander, so the cap is not applied to them."""
    stitch_min_travel_px: float = 4.0
    """Pieces pre-join only when the joint moves down at least this much: jitter in one place (a tree, a lit
    window edge) fits a quadratic too."""
    stitch_candidates: int = 4
    """Pieces tried per track (closest in time first)."""
    salvage_min_travel_px: float = 20.0
    """A track that is no fall but spans at least this much height in the image is cut where it leaves its own
    smooth curve, and its smooth start or end is judged (see `_salvage`)."""
    salvage_min_points: int = 12
    """A part cut out of a track must have this many points (the fall test's own minimum is 8): a track that
    wandered over noise offers many parts, and short ones pass by chance (a dev night distractor scene)."""
    head_s: float = 2.0
    """A track longer than this that is no fall as a whole is judged on its first this-many seconds too (see
    `_salvage`): a light object (a bag, an empty box: terminal speed 5-9 m/s) is a free fall for its first
    second and then sinks at a near-constant speed for seconds; the linear-drag curve fitted to the whole track
    follows the long constant part and starts it already fast - a mean acceleration under 2 m/s^2, like a
    gliding bird's (dev seeds 343, 594: 8-10 cm objects seen from release for 5-8 s)."""
    salvage_tol_px: float = 3.0
    """A point is off the curve when it is further than this (plus 4 robust sigmas of the fit and 30 % of the
    curve's motion since the last point on it) from where the quadratic through the earlier points on the
    curve puts it; two in a row end the smooth part (see `smooth_prefix`)."""


@dataclass
class _Reported:
    fit: Fit
    t_end: float
    track: Track | None = None


def _joined(a: Track, b: Track) -> Track:
    """Track a's points followed by track b's (a ended before b started), under b's id."""
    return Track(b.id, a.ts + b.ts, a.xs + b.xs, a.ys + b.ys, a.areas + b.areas)


def _on_curve(ts: np.ndarray, xy: np.ndarray, good: np.ndarray, k: int, tol_px: float) -> bool:
    """Point k is within tol_px (plus 4 robust sigmas of the fit and 30 % of the curve's motion since the last
    good point: a fast object's centroid wanders more) of the quadratic in time through the points `good`."""
    basis = np.column_stack([np.ones(len(good)), ts[good], ts[good] ** 2])
    coef, *_ = np.linalg.lstsq(basis, xy[good], rcond=None)
    spread = 1.4826 * float(np.median(np.hypot(*(basis @ coef - xy[good]).T)))
    pred = np.array([1.0, ts[k], ts[k] ** 2]) @ coef
    motion = float(np.hypot(*(pred - xy[good[-1]])))
    return float(np.hypot(*(xy[k] - pred))) <= tol_px + 4 * spread + 0.3 * motion


def smooth_prefix(track: Track, min_points: int, tol_px: float) -> Track | None:
    """The track up to the first point where it leaves the smooth curve of the points before it, or None when it
    never does (or leaves it too early to leave min_points).

    Why: in rain, at night or over a busy patch the object is lost for a few frames, and the tracker's gate -
    wide for a fast object - takes a rain remnant or a noise blob instead; from there the track follows the
    wrong thing, climbs back up or flies sideways, and the whole track fails the fall test although its first
    30-90 points were a clean fall (dev scenes: 4 of the 18 misses). Each point is compared with the quadratic
    in time fitted to the points before it that were on the curve; a single point off it is left out (the
    fall test drops such outliers too), two in a row end the prefix."""
    n = len(track)
    if n < min_points + 2:
        return None
    ts = np.asarray(track.ts) - track.ts[0]
    xy = np.column_stack([track.xs, track.ys])
    good = list(range(min_points))
    first_off = None
    for k in range(min_points, n):
        if _on_curve(ts, xy, np.asarray(good), k, tol_px):
            good.append(k)
            first_off = None
        elif first_off is None:
            first_off = k
        else:
            keep = [i for i in good if i < first_off]
            if len(keep) < min_points:
                return None
            return Track(track.id, [track.ts[i] for i in keep], [track.xs[i] for i in keep],
                         [track.ys[i] for i in keep], [track.areas[i] for i in keep])
    return None


def trim_tail(track: Track, tol_px: float, max_drop: int = 2, window: int = 12) -> Track:
    """The track without its last points (up to max_drop) that leave the smooth curve of the points before them.

    Why: a track ends after the object was lost for a few frames, and on one of them the gate - wide after
    misses - often took a rain remnant or a noise blob: the track's last point is then tens of pixels aside or
    above the object. Kept as a piece and joined to the track that found the object again, that point spoils
    the joint's fit and the "starts below where the piece ended" test (dev seed 111: a 9-point piece ending on a remnant 58 px
    aside was never joined). Each last point is compared with the quadratic through the `window` points before
    it (local: a long fall with drag is no quadratic over its whole length), as in `smooth_prefix`."""
    n = len(track)
    cut = n
    ts = np.asarray(track.ts) - track.ts[0]
    xy = np.column_stack([track.xs, track.ys])
    for _ in range(max_drop):
        # cut < 7: a quadratic through fewer than 6 points says little about the next one
        if cut < 7 or _on_curve(ts, xy, np.arange(max(0, cut - 1 - window), cut - 1), cut - 1, tol_px):
            break
        cut -= 1
    if cut == n:
        return track
    return track.first(cut)


def _head(track: Track, span_s: float, min_points: int) -> Track | None:
    """The track's first `span_s` seconds, or None when the track is no longer than that or the head has fewer
    than `min_points` points."""
    n = int(np.searchsorted(np.asarray(track.ts), track.ts[0] + span_s, side="right"))
    if n >= len(track) or n < min_points:
        return None
    return track.first(n)


def _smooth_suffix(track: Track, min_points: int, tol_px: float) -> Track | None:
    """`smooth_prefix` of the track run backwards: its end, back to where it joined the object."""
    part = smooth_prefix(track.reversed_in_time(), min_points, tol_px)
    return None if part is None else part.reversed_in_time()


def _moving_down(track: Track, min_pxps: float) -> bool:
    """The track's last (up to 4) points move down at least `min_pxps` (px/s) on average."""
    k = max(0, len(track) - 4)
    span = track.ts[-1] - track.ts[k]
    return span > 0 and (track.ys[-1] - track.ys[k]) / span >= min_pxps


def _near(point: np.ndarray, others: list, radius: float) -> bool:
    """Whether any of `others` ((x, y) pairs or arrays) lies within `radius` px of `point`."""
    return bool(others) and float(np.hypot(*(np.asarray(others, np.float64) - point).T).min()) < radius


def _smooth(track: Track, max_rmse_px: float) -> bool:
    """A quadratic in time fits both image coordinates: one body on one ballistic-looking curve."""
    ys = np.asarray(track.ys)
    return quadratic_rmse(track) <= max(max_rmse_px, 0.02 * float(ys.max() - ys.min()))


class ThrowCore:
    """One camera, one facade. `process` per frame; `flush` at end of stream."""

    def __init__(self, facade: Facade, fps: float, config: ThrowConfig | None = None,
                 evidence: "EvidenceSink | None" = None) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.facade = facade
        self.fps = float(fps)
        self.cfg = config or ThrowConfig()
        self.evidence = evidence
        if evidence is not None:
            evidence.start(facade.camera, self.fps)
        self.foreground = Foreground(facade, facade.image_size, self.cfg.foreground, self.cfg.start_with_trail)
        self._faint_in_rain = partial(self.foreground.faint_near, in_rain=True)
        self.tracker = Tracker(facade.image_size[1], self.fps, self.cfg.tracker)
        self._reported: list[_Reported] = []
        self._pieces: list[Track] = []  # ended tracks that were no fall, for `_stitch`
        self._history = BlobHistory(self.fps, self.cfg.gather.history_s)
        self._gathering: list[Hypothesis] = []  # seeds' falls being gathered, see `gathering`
        self._recent = RecentBlobs(facade, self.cfg.triplets.max_lag)
        self.rejected: list[tuple[int, Verdict]] = []  # (track id, verdict) of judged non-falls, for tuning
        self.keep_rejected = False
        self.frames = 0

    def process(self, frame: np.ndarray, t: float) -> list[ThrowEvent]:
        """frame: HxWx3 uint8 BGR or HxW grey, of the calibrated image size; t in seconds."""
        h, w = frame.shape[:2]
        if (w, h) != self.facade.image_size:
            raise ValueError(f"frame is {w}x{h}, the facade calibration is for "
                             f"{self.facade.image_size[0]}x{self.facade.image_size[1]}")
        self.frames += 1
        if self.evidence is not None:
            self.evidence.add_frame(frame, t)
        blobs = self.foreground.process(frame)
        if self.cfg.gather.enabled:
            self._history.add(t, blobs.centres)
        faint, min_fall = self._faint_search(blobs.status)
        trail = self.foreground.speck_trail if self.cfg.start_with_trail and self.foreground.rain else None
        ended = self.tracker.update(t, blobs.centres, blobs.areas, faint, min_fall, trail)
        events = self._judge(ended, t) if ended else []
        if self._gathering:
            events += self._gather(t, blobs.centres, faint)
        if self.cfg.triplets.enabled and self.cfg.gather.enabled:
            metres = None
            if self.foreground.rain and len(blobs.centres):
                metres = to_metres(self.facade, blobs.centres)
                self._seed_triplets(t, blobs.centres, metres)
            self._recent.add(t, blobs.centres, metres)
        return events

    def _seed_triplets(self, t: float, centres: np.ndarray, metres: np.ndarray) -> None:
        """Rain frame: gatherings from three sightings on one fall that ends at a blob of this frame (see
        `triplets`), except where a gathering or a track of 4+ points is already at that blob."""
        cfg = self.cfg.triplets
        seeds = triplets(t, centres, metres, self._recent, self.facade, cfg)
        if not seeds:
            return
        followed = [p for p in (h.predict(t) for h in self._gathering) if p is not None]
        held = [(tr.xs[-1], tr.ys[-1]) for tr in self.tracker.tracks if len(tr) >= 4 and tr.ts[-1] == t]
        started: list[tuple[float, float]] = []
        for _, seed in seeds:
            end = np.array([seed.xs[-1], seed.ys[-1]])
            if (_near(end, followed, 6.0) or _near(end, held, 2.0) or _near(end, started, 2.0)):
                continue
            self._gathering.append(Hypothesis(seed, self.facade, self.cfg.gather, from_triplet=True))
            started.append((end[0], end[1]))
            if len(started) >= cfg.max_new:
                return

    def _gather(self, t: float, centres: np.ndarray, faint: FaintSearch | None) -> list[ThrowEvent]:
        """One frame for every fall being gathered: the blob in its window, else (where the frame allows a search
        under the threshold) the strongest faint change there; the gatherings that are over are judged."""
        over, want, preds = [], [], []
        for hyp in self._gathering:
            pred = hyp.predict(t)
            if pred is None:
                over.append(hyp)
            elif not hyp.take(t, pred, centres) and faint is not None:
                want.append(hyp)
                preds.append(pred)
        if want:
            radii = np.array([h.reach_px(p) for h, p in zip(want, preds)])
            found, at, _ = faint(np.array(preds), radii)
            for j in np.flatnonzero(found):
                want[j].take(t, preds[j], at[j:j + 1], self.cfg.gather.faint_share)
        if not over:
            return []
        self._gathering = [h for h in self._gathering if h not in over]
        return [e for e in (self._gathered(h) for h in over) if e is not None]

    def _gathered(self, hyp: Hypothesis) -> ThrowEvent | None:
        """The event for a gathered fall, or None (too short, too few blobs, no fall, too loose a fit, or one
        already reported)."""
        track = hyp.track
        g = self.cfg.gather
        tri = self.cfg.triplets
        if len(track) < g.min_points:
            return None
        if hyp.from_triplet and hyp.ended == "gap" and tri.follow_out:
            return None
        need = tri.min_blob_hits if hyp.from_triplet else g.min_blob_hits
        followed_out = (hyp.from_triplet and tri.follow_out and tri.followed_points is not None
                        and hyp.ended in ("left", "reach", "landed") and len(track) >= tri.followed_points)
        if hyp.blob_hits < need and hyp.seed_points < g.strong_seed_points and not followed_out:
            return None
        return self._report_gathered(track) or self._from_before(track)

    def _report_gathered(self, track: Track) -> ThrowEvent | None:
        """The event for a gathered track that is a fall fitting within `rmse_limit_px` and not one already reported."""
        verdict = self._assess(track)
        if not self._passes(verdict) or verdict.rmse_px > rmse_limit_px(track, self.cfg.gather):
            return None
        ts, pts = np.asarray(track.ts), np.column_stack([track.xs, track.ys])
        if (self._shares_points(track) or self._continues_reported(track)
                or self._is_duplicate(ts, pts, float(ts[-1])) or self._overlaps_reported(track)):
            return None
        self._reported.append(_Reported(verdict.fit, float(ts[-1]), track))
        return self._event(ts, pts, verdict)

    def _overlaps_reported(self, track: Track) -> bool:
        """A reported fall was, during the time they share, within `overlap_px` (median) of `track`'s path
        (interpolated between its points): the same object. A gathered path that starts earlier than a piece of
        the same fall reported while it waited covers that piece, and neither `_is_duplicate` (the piece's own
        short fit extrapolates poorly) nor `_shares_points` (a gathered path picks its own blobs) need see it."""
        ts = np.asarray(track.ts)
        for r in self._reported:
            if r.track is None:
                continue
            rts = np.asarray(r.track.ts)
            inside = (rts >= ts[0]) & (rts <= ts[-1])
            if inside.sum() < 3:
                continue
            d = np.hypot(np.interp(rts[inside], ts, track.xs) - np.asarray(r.track.xs)[inside],
                         np.interp(rts[inside], ts, track.ys) - np.asarray(r.track.ys)[inside])
            if float(np.median(d)) <= self.cfg.gather.overlap_px:
                return True
        return False

    def _shares_points(self, track: Track, min_shared: int = 3) -> bool:
        """`track` has `min_shared` points (same frame, within 3 px) in common with a fall already reported: a
        gathered path that took up blobs of a fall reported while it waited. `_is_duplicate` compares with the
        reported fall's fitted curve, which a short reported piece extrapolates poorly."""
        ts = np.asarray(track.ts)
        xy = np.column_stack([track.xs, track.ys])
        for r in self._reported:
            if r.track is None:
                continue
            rts = np.asarray(r.track.ts)
            common, i, j = np.intersect1d(ts, rts, return_indices=True)
            if len(common) < min_shared:
                continue
            rxy = np.column_stack([r.track.xs, r.track.ys])
            if int((np.hypot(*(xy[i] - rxy[j]).T) <= 3.0).sum()) >= min_shared:
                return True
        return False

    def _faint_search(self, status: str) -> tuple[FaintSearch | None, float | None]:
        """This frame's search for objects under the threshold (None: no search), and the least fall (px) a track
        must be predicted to make to be searched for (None: any track).

        None on frames the foreground did not see whole (warm-up, re-baseline). In rain the search skips streaks
        and serves falling tracks only (see `rain_faint_min_fall_px`)."""
        cfg = self.cfg
        if not cfg.follow_faint or status not in ("ok", "gain", "shift", "rain"):
            return None, None
        if not self.foreground.rain:
            return self.foreground.faint_near, None
        if not cfg.follow_faint_in_rain:
            return None, None
        return self._faint_in_rain, cfg.rain_faint_min_fall_px

    def flush(self, t: float) -> list[ThrowEvent]:
        """End of stream: judge every open track; evidence clips are finished with the frames there are."""
        events = self._judge(self.tracker.finish(), t)
        events += [e for e in (self._gathered(h) for h in self._gathering) if e is not None]
        self._gathering = []
        if self.evidence is not None:
            self.evidence.close(t)
        return events

    def _judge(self, tracks: list[Track], now: float) -> list[ThrowEvent]:
        cfg = self.cfg
        # kept `history_s` longer than `duplicate_window_s`: a gathered fall is judged after it, up to `reach_s` late
        self._reported = [r for r in self._reported
                          if now - r.t_end <= cfg.duplicate_window_s + cfg.gather.history_s]
        # a piece can precede a track that started up to stitch_gap_s after it ended; a track is at most
        # max_points long, so older pieces can never be used again
        horizon = max(cfg.stitch_gap_s, cfg.stitch_gap_moving_s) + cfg.tracker.max_points / self.fps
        self._pieces = [p for p in self._pieces if now - p.ts[-1] <= horizon][-256:]
        events = []
        for track in sorted(tracks, key=lambda tr: tr.ts[0]):
            if len(track) < 3:
                continue
            if self._continues_reported(track):
                continue
            verdict, track = self._stitch(track)
            if not self._accepted(verdict, track):
                if self.keep_rejected and verdict is not None:
                    self.rejected.append((track.id, verdict))
                # kept without a last point that went astray: it would spoil the joint and `_candidates`
                piece = trim_tail(track, cfg.salvage_tol_px)
                if cfg.gather.enabled:
                    event = self._from_before(piece)
                    if event is not None:
                        events.append(event)
                        continue
                self._pieces.append(piece)
                seed = self._seed_of(piece) if cfg.gather.enabled else None
                if seed is not None:
                    self._gathering.append(self._catch_up(seed, now))
                continue
            ts, pts = np.asarray(track.ts), np.column_stack([track.xs, track.ys])
            if self._is_duplicate(ts, pts, now) or self._overlaps_reported(track):
                continue
            self._reported.append(_Reported(verdict.fit, float(ts[-1]), track))
            events.append(self._event(ts, pts, verdict))
        return events

    def _from_before(self, piece: Track) -> ThrowEvent | None:
        """The fall `piece` is the later part of, followed back through the recent frames to its release (see
        `gathering.gather_back`), when that is a fall; else None."""
        g = self.cfg.gather
        n = min(len(piece), g.seed_window)
        start = piece.first(n)
        if n >= g.back_min_points and quadratic_rmse(start) > g.back_max_rmse_px:
            # it left the object's curve early on: its smooth start, alone
            start = smooth_prefix(start, g.back_min_points, self.cfg.salvage_tol_px)
            if start is None or quadratic_rmse(start) > g.back_max_rmse_px:
                return None
            piece, n = start, len(start)
        if n < g.back_min_points or start.ys[-1] - start.ys[0] < g.back_min_travel_px:
            return None
        back, hits = gather_back(start, self._history.before(piece.ts[0]), self.facade, g)
        if hits < g.min_blob_hits:
            return None
        k = len(back) - n
        whole = _joined(back.first(k), piece)
        return self._report_gathered(whole) or (self._report_gathered(back) if n < len(piece) else None)

    def _catch_up(self, seed: Track, now: float) -> Hypothesis:
        """A gathering started from `seed`, fed the blobs of the frames between the seed's end and `now` (the
        frames the tracker waited through before it ended the track)."""
        hyp = Hypothesis(seed, self.facade, self.cfg.gather)
        hyp.follow([(t, c) for t, c in self._history.after(seed.ts[-1]) if t < now])
        return hyp

    def _seed_of(self, piece: Track) -> Track | None:
        """The piece, or its start up to where it left its smooth curve (the tracker took a rain remnant or a noise
        blob after losing the object), when that is the start of a fall to gather (see `gathering.is_seed`)."""
        g = self.cfg.gather
        if len(piece) < g.seed_min_points:
            return None
        if len(piece) > g.seed_window:
            n = g.seed_window
            piece = piece.first(n)
        for part in (piece, smooth_prefix(piece, g.seed_min_points, self.cfg.salvage_tol_px)):
            if part is not None and is_seed(part, g):
                return part
        return None

    def _accepted(self, verdict: Verdict | None, track: Track) -> bool:
        """The verdict on `track` is a fall to report: confident enough, and, when short, fitting as tightly as
        a joint must (`_passes`)."""
        if len(track) <= self.cfg.short_max_points:
            return self._passes(verdict)
        return verdict is not None and verdict.fall and verdict.confidence >= self.cfg.min_confidence

    def _assess(self, track: Track) -> Verdict | None:
        if len(track) < self.cfg.trajectory.min_points:
            return None
        return assess(np.asarray(track.ts), np.column_stack([track.xs, track.ys]), self.facade, self.cfg.trajectory)

    def _candidates(self, track: Track, pool: list[Track]) -> list[Track]:
        """Pieces that ended shortly before `track` started, not far above-and-aside of its first point."""
        cfg = self.cfg
        t0, x0, y0 = track.ts[0], track.xs[0], track.ys[0]
        found = []
        for p in pool:
            gap = t0 - p.ts[-1]
            limit = cfg.stitch_gap_moving_s if _moving_down(p, cfg.stitch_moving_pxps) else cfg.stitch_gap_s
            if 0 < gap <= limit and p.ys[-1] <= y0 + 8 and abs(p.xs[-1] - x0) <= 12 + 150 * gap:
                found.append((gap, p))
        found.sort(key=lambda gp: gp[0])
        return [p for _, p in found[: self.cfg.stitch_candidates]]

    def _stitch(self, track: Track) -> tuple[Verdict | None, Track]:
        """The verdict on `track`, or on `track` joined behind an earlier piece of the same fall.

        Joined is preferred when it is a fall (an earlier start names the window better; more points fit
        better). When nothing is a fall, a piece that continues smoothly from an earlier piece replaces it by the
        joint piece, so a fall lost three times still comes together."""
        own = self._assess(track)
        best: tuple[Verdict | None, Track] = (own, track)
        smooth_join = None
        for piece in self._candidates(track, self._pieces):
            joint = _joined(piece, track)
            v = self._assess(joint)
            if self._passes(v):
                self._pieces.remove(piece)
                return v, joint
            if (smooth_join is None and joint.ys[-1] - joint.ys[0] >= self.cfg.stitch_min_travel_px
                    and _smooth(joint, self.cfg.stitch_rmse_px)):
                smooth_join = (piece, v, joint)
        if smooth_join is not None and not (own is not None and own.fall):
            piece, v, joint = smooth_join
            self._pieces.remove(piece)
            if v is not None and v.fall:
                # a fall only as loose as `_passes` refused above: the joint stays a piece
                v = replace(v, fall=False, reason=f"joint fits to {v.rmse_px:.1f} px")
            return v, joint
        if own is not None and not own.fall:
            salvaged = self._salvage(track)
            if salvaged is not None:
                return salvaged
        return best

    def _salvage(self, track: Track) -> tuple[Verdict, Track] | None:
        """A fall inside a track that is none as a whole, or None: its smooth start (the track went astray at the
        end), else its smooth end (it started on something else and took the object over, e.g. after the
        object's own track was lost), else its first `head_s` seconds (a light object: a fall, then a steady
        sink); each joined behind an earlier piece first (an earlier start names the window better). See
        `smooth_prefix`. A head that is a fall stands for the whole track (the event's trajectory and evidence
        show all of it)."""
        cfg = self.cfg
        if max(track.ys) - min(track.ys) < cfg.salvage_min_travel_px:
            return None
        n_min = max(cfg.salvage_min_points, cfg.trajectory.min_points)
        parts = ((smooth_prefix(track, n_min, cfg.salvage_tol_px), None),
                 (_smooth_suffix(track, n_min, cfg.salvage_tol_px), None),
                 (_head(track, cfg.head_s, n_min), track))
        for part, whole in parts:
            if part is None:
                continue
            whole = part if whole is None else whole
            for piece in self._candidates(part, self._pieces):
                v = self._assess(_joined(piece, part))
                if self._passes(v):
                    self._pieces.remove(piece)
                    return v, _joined(piece, whole)
            v = self._assess(part)
            if self._passes(v):
                return v, whole
        return None

    def _passes(self, v: Verdict | None) -> bool:
        return (v is not None and v.fall and v.confidence >= self.cfg.min_confidence
                and v.rmse_px <= self.cfg.stitch_max_rmse_px)

    def _continues_reported(self, track: Track) -> bool:
        """`track` is the rest of a fall already reported (it was lost and found again): joined behind it, the
        points still make a fall."""
        reported = [r.track for r in self._reported if r.track is not None]
        for prev in self._candidates(track, reported):
            v = self._assess(_joined(prev, track))
            if v is not None and v.fall and v.rmse_px <= self.cfg.continue_max_rmse_px:
                return True
        return False

    def _is_duplicate(self, ts: np.ndarray, pts_px: np.ndarray, now: float) -> bool:
        """The points lie on (median within `duplicate_m` of) the fitted curve of a fall reported up to
        `duplicate_window_s` before `now`, or they go on from where one was last seen (`_follows_reported`)."""
        if not self._reported:
            return False
        pts_m = self.facade.image_to_facade(pts_px)
        if self._follows_reported(ts, pts_m):
            return True
        for r in self._reported:
            if now - r.t_end > self.cfg.duplicate_window_s:
                continue
            tau = ts - r.fit.t_first
            model = np.column_stack([r.fit.x(tau), r.fit.height(tau)])
            if float(np.median(np.hypot(*(model - pts_m).T))) < self.cfg.duplicate_m:
                return True
        return False

    def _follows_reported(self, ts: np.ndarray, pts_m: np.ndarray) -> bool:
        """The fall whose points (facade metres) are `pts_m` starts where a reported fall was last seen, soon after:
        below it (within `follow_up_m`), within `follow_side_m` sideways, at most `follow_gap_s` later.

        Why: the rest of a fall seen again after a gap was reported a second time when the reported piece's fitted
        curve, which may have no drag, missed it by more than `duplicate_m` further down, or when the gap outlasted
        `duplicate_window_s` (a light object sinking slowly). Where the reported fall was still seen when this one
        starts, its first sighting at or after this one's start stands for 'last seen'."""
        gap_s = self.cfg.follow_gap_s
        if gap_s is None:
            return False
        t0, (x0, y0) = float(ts[0]), pts_m[0]
        v_in = -float(np.polyfit(ts - t0, pts_m[:, 1], 2)[1]) if len(ts) >= 3 else 0.0  # downward speed at the start
        for r in self._reported:
            if r.track is None or not (r.track.ts[0] < t0 <= r.track.ts[-1] + gap_s):
                continue
            rts = np.asarray(r.track.ts)
            i = min(int(np.searchsorted(rts, t0)), len(rts) - 1)
            rx, ry = self.facade.image_to_facade(np.array([[r.track.xs[i], r.track.ys[i]]], np.float64))[0]
            v_out = -float(r.fit.speed(float(rts[i]) - r.fit.t_first))
            if (abs(x0 - rx) <= self.cfg.follow_side_m and y0 <= ry + self.cfg.follow_up_m
                    and v_in >= self.cfg.follow_speed_share * v_out):
                return True
        return False

    def _event(self, ts: np.ndarray, pts: np.ndarray, v: Verdict) -> ThrowEvent:
        """The event for a fall. Its release time counts from the fit's first point, not the track's: the fall test
        drops stray points (a noise blob the track began on), and the fit starts after them."""
        fit = v.fit
        event = ThrowEvent(
            t_start=float(ts[0]), t_end=float(ts[-1]), release_t=float(fit.t_first + v.release_tau),
            origin_floor=v.window[0], origin_column=v.window[1],
            origin_m=(round(v.release_m[0], 3), round(v.release_m[1], 3)), confidence=v.confidence,
            trajectory=[(float(t), float(x), float(y)) for t, (x, y) in zip(ts, pts)],
            fit={"g_mps2": round(fit.g, 2), "drag": fit.drag, "rmse_px": round(v.rmse_px, 2),
                 "rmse_m": round(fit.rmse_y_m, 3), "drop_m": round(v.drop_m, 2),
                 "v0_mps": round(fit.v0, 2), "vx_mps": round(fit.vx, 2), "points": int(len(ts))})
        if self.evidence is not None:
            event = replace(event, evidence=self.evidence.record(event, self.facade))
        return event
