"""Moving-pixel mask at working resolution, and the small blobs in it.

Why this design (the hot path: ~1 ms a frame at 1280x720):
* Work on a grey frame downscaled by an integer factor to ~640 px wide. A falling object of 8+ px is still
  3+ px there, and averaging (2x2 for factor 2) halves sensor noise.
* Running-average background (`accumulateWeighted`, time constant ~0.7 s), not learnt under the mask except
  every 8th frame: a falling object leaves no ghost, slow light changes (sun, dusk) are followed, and
  something that comes to rest fades into the background within seconds.
* Per-pixel activity map = slow running mean of |frame - background|. The threshold is
  max(min_diff, k * activity): pixels that move all the time (leaves, laundry, glare flicker, night noise) need
  a much larger change to count, still pixels a small one. (`dry_min_diff` lowers the floor
  off rain frames where the wall is quiet: see there.)
* Global checks, only when the mask is suspiciously full (so quiet frames pay nothing): a brightness gain
  between frame and background is divided out; a whole-frame translation (camera shake) is measured with
  phase correlation and the background shifted to match; if the mask is still full (lights switched, a shake,
  a cloud shadow edge), the background is re-baselined and the frame yields no blobs. In practice a shaken
  frame re-baselines: the mask is checked against the unshifted 8-bit copy (see `_compensate`).
* Faint follow (`faint_near`): where the tracker predicts a track's object and no blob came, a change of 0.6x
  the threshold (and 4x that pixel's own noise) counts, inside a window of a few pixels only: a small object
  at night is under the threshold on most frames, but noise rarely reaches 0.6x it in so small a window.
* Blobs via `findContours` on the (sparse) mask: ~0.1 ms at 640x360 against 1-3 ms for
  connectedComponentsWithStats, which scans the whole image with its label buffer.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.vision.throws.calibration import Facade


@dataclass(frozen=True)
class ForegroundConfig:
    work_width: int = 640
    """Target width of the working frame; the downscale factor is round(width / work_width), at least 1."""
    bg_rate: float = 0.05
    """Background learning rate per frame (~0.7 s at 30 fps): follows light, too slow to learn a fall."""
    bg_every: int = 2
    """Update the background every this many frames (at the equivalent rate): halves its cost."""
    absorb_every: int = 8
    """Every this many frames the background also learns the moving pixels (see `_learn`)."""
    activity_every: int = 4
    """Update the activity map and the threshold image every this many frames (after the first second)."""
    activity_rate: float = 0.01
    """Learning rate of the activity map (~3 s): long enough to remember swaying leaves between gusts."""
    activity_k: float = 4.0
    """Threshold = activity_k x mean |difference| at that pixel: about 3 sigma of that pixel's own noise."""
    min_diff: int = 14
    """Smallest grey-level change that counts anywhere (8-bit, after downscale averaging)."""
    dry_min_diff: int | None = 9
    """Off rain frames (see `streak_share`), the smallest change that counts where the wall is quiet (see
    `dry_activity_k`, `dry_noise_cell`); None: `min_diff` everywhere. Why: by day the sensor noise at working
    resolution is about one grey level, and a small object against a wall of nearly its own shade changes its
    pixels by 8-13, under `min_diff` (set against rain remnants) and far over the noise; the dev throws missed by
    day in dry weather were under 0.6 of the threshold on most of their frames. Rain frames keep `min_diff` (a
    lower floor there raised 3 false alarms in 0.5 h of held-out distractor video, session 28). Measured
    2026-12-07 (sessions 29-30), dev seeds 0-599 (off: 1001 of 1063 found, 4 false events):
    * 9, `dry_activity_k` 6, the pixel's own activity: 1004 found (dry day 563 of 571, was 560), 7 false events;
      but on a sensor with noise of 2-3 grey levels at working resolution (the unit tests' grainy scenes) the
      activity varies from pixel to pixel enough that 6 x it fell under 14 on a share of the wall: noise blobs
      every frame, a false fall on a jittery short drop, a light object and a fall crossed by a bird missed;
    * the same with `dry_activity_k` 8: those scenes as before, but 1002 found, and held out no gain;
    * the extra pixels asked to lie beside another (3x3) or below last frame's (a two-frame chain): the grainy
      scenes clean, but 1001 found: the faint dev objects are single working pixels, seen in runs of a few
      frames over a textured wall, and a run's first sighting is the one the chain drops;
    * 9, `dry_activity_k` 6, the activity judged by the cell (`dry_noise_cell` 9, the default): the grainy scenes
      as at the usual threshold, 1004 found, 8 false events (5 of the new are later parts or pieces of true
      falls), 2 false alarms in 2 h of dev distractor video (the two the core gave there without it). Held out
      (session 30): recall 0.957 (112 of 117, from 111), precision 0.974, floors exact 1.000; see the README."""
    dry_activity_k: float = 6.0
    """...and only where this many times the pixel's mean |difference| is under `dry_min_diff`: at night or on a
    grainy sensor the noise sets the threshold (with 9 and no such bound, dev dry night 165 of 175 against 167)."""
    dry_noise_cell: int = 9
    """...where the activity is taken as the larger of the pixel's own and its mean over this many working px
    square (1: the pixel's own). Why: the activity of one pixel is an estimate from a few seconds of frames, and
    on a grainy sensor it varies from pixel to pixel; `dry_activity_k` x it fell under the floor on a share of
    the wall and let noise in there (the grainy scenes above). The sensor's noise is a property of a region, not
    of one pixel; the mean over a cell of the wall estimates it with a fraction of the spread."""
    busy_level: float = 5.0
    """Pixels whose mean |difference| exceeds this (grey levels) move all the time - leaves in wind, flapping
    laundry, flickering glare - and are left out of the mask altogether: a blob there is far more often the
    tree than a falling object, and those blobs would flood the tracker. Refreshed every `busy_every` frames."""
    busy_every: int = 8
    shade_cell: int = 16
    """Cell size (working px) of the smooth-illumination correction (see `_follow_shading`)."""
    shade_every: int = 2
    """Follow the shading every this many frames (a multiple of bg_every): clouds drift slowly."""
    shade_step: float = 4.0
    """A cell whose mean moved more than this (grey levels) since the last background update changed abruptly
    (a light switched, a person, an exposure jump) and is left to the other mechanisms; below it the change is
    slow shading - a cloud shadow drifting over the wall, auto exposure settling - and is followed at once."""
    gain_tolerance: float = 0.03
    """Global brightness ratio frame/background beyond which the background is rescaled first (auto exposure)."""
    streak_check_fraction: float = 0.002
    """Share of ROI pixels in the mask above which the frame is checked for rain (see `streak_share`)."""
    streak_share: float = 0.5
    """Rain: when an opening with a 1x2 (horizontal pair) element removes more than this share of the mask, the
    change is mostly near-vertical lines one working pixel wide - rain streaks, fresh and everywhere each
    frame - and the frame is a rain frame: the mask keeps what the opening kept plus the small one-pixel
    specks that are not on streaks and persist from frame to frame (see `_drop_streaks`). Before any rain
    handling a rainy frame had hundreds of streak blobs, the largest `max_blobs` were kept and the object was
    never among them; with the opening alone, objects under ~1.5 full-res px were removed with the rain."""
    streak_min_run: int = 4
    """Rain streaks are told from small objects by their length: a one-pixel-wide part of the mask on a
    vertical run of at least this many working pixels is a streak (the generator's 15-45 px streaks are 7-22
    working px; a slant of 1 in 4 still leaves runs of 4)."""
    speck_reach: int = 4
    """A speck persists when the previous rain frame had one at most this many working px above it (1 aside)."""
    speck_frames: int = 3
    """Rain frames in a row a speck must persist to be kept (`speck_trail` gives the earlier sightings). Two let
    through enough chance coincidences of streak remnants in heavy rain to double the cost of a rainy frame
    (tracks to judge); three cut them to a few (and found two more of the 109 dev throws than two did: fewer
    remnants to pull tracks off); an object near its release stays a few frames in place anyway."""
    trail_min_descent: int = 1
    """A speck's chain is its trail (see `speck_trail`) only when it came down at least this much (working px):
    a speck that stays in one place over rain frames (a drip, a glint) would start a track of three still points,
    which lives on through misses as a one-point track does not, and strings later noise into a 'fall' (dev
    distractor video: 3 false alarms in 0.5 h when still chains were trails too, from 0)."""
    busy_fraction: float = 0.01
    """Share of ROI pixels in the mask above which the frame is checked for shake / sudden light change."""
    global_fraction: float = 0.04
    """Share still in the mask after compensation that means 'the whole scene changed': re-baseline, no blobs."""
    max_shift_px: float = 12.0
    """Largest shake (working px) that is compensated; larger jumps re-baseline instead."""
    min_blob_px: int = 2
    """Smallest blob (working px): one pixel is noise more often than an object."""
    max_blob_frac: float = 0.0015
    """Largest blob as a share of the working frame: bigger is a person, a shadow, a reflection, not a thrown object."""
    max_blobs: int = 96
    """Blobs per frame kept (largest first); more means rain or noise, and the tracker must stay cheap. Twice
    the tracker's `max_new_tracks`: in heavy rain a frame has 50-150 blobs, most of them streak remnants of
    about the size of a small object, and with 48 kept the object's blob was often among those left out
    although its track expected it (dev seeds: 3 of the rain misses)."""
    max_contours: int = 192
    """More outlines than this in one frame (rain or a noise storm): nothing trackable, the frame yields no blobs."""
    faint_ratio: float = 0.6
    """Where a track predicts its object, a change of this share of the threshold is enough (see `faint_near`):
    a small object at night changes its pixels by 8-13 grey levels against a threshold of 14, so it is in the
    mask on a few frames only, and its track ends after every gap. Sensor noise there stays under 5 (99th
    percentile), so within a small window around a prediction a pixel above 0.6 x 14 is the object."""
    faint_noise_k: float = 4.0
    """...and more than this many times the pixel's mean |difference| (its activity, ~0.8 sigma of its noise,
    so ~3 sigma). Where noise, not `min_diff`, sets the threshold (a grainy or textured view) this is near the
    threshold itself and the search adds little; it helps where the view is quiet and the object faint (dev
    scenes: 5 instead of 4 found 99 of 109 throws instead of 100; before the faint search, 97)."""
    faint_max_radius: int = 6
    """Largest half-width (working px) of the window searched around a prediction."""
    faint_streak_run: int = 6
    """On rain frames the faint search skips pixels on a near-vertical run of this many pixels above its own
    limit (one column either side counts): that is a rain streak under the threshold (the generator's streaks
    are 7-22 working px), not the object, whose motion blur is 1-5 px long. Before, the search was off in rain,
    and an object under the threshold on half its frames there came out in pieces (dev seeds 0-179: 4 more
    throws found with it, the same 4 with runs of 4 and 9)."""
    roof_margin_floors: float = 1.5
    """The region of interest extends this many floors above the roof line (throws from the roof)."""
    side_margin_columns: float = 0.5
    """...and this many columns beside the facade."""


@dataclass(frozen=True)
class Blobs:
    """Blobs of one frame in full-resolution pixels: centres (N,2) float, areas (N,) in full-res px."""

    centres: np.ndarray
    areas: np.ndarray
    status: str  # "ok", "rain", "gain", "shift", "rebaseline", "warmup"
    shift_px: tuple[float, float] = (0.0, 0.0)


EMPTY = np.zeros((0, 2), np.float64)


class Foreground:
    """Stateful per-camera mask builder; all buffers are allocated once for the frame size."""

    def __init__(self, facade: Facade, image_size: tuple[int, int], config: ForegroundConfig | None = None,
                 keep_trails: bool = False) -> None:
        """keep_trails: keep each rain frame's specks for `speck_trail` (a copy of ~0.2 MB a rain frame, paid only
        by a core that starts tracks with trails)."""
        self.cfg = config or ForegroundConfig()
        self.keep_trails = keep_trails
        w, h = image_size
        self.factor = max(1, round(w / self.cfg.work_width))
        self.size = (w // self.factor, h // self.factor)
        sw, sh = self.size
        self.gray = np.empty((sh, sw), np.uint8)
        self._small_bgr = np.empty((sh, sw, 3), np.uint8)
        self.bg = np.zeros((sh, sw), np.float32)
        self.activity = np.zeros((sh, sw), np.float32)
        self._bg8 = np.empty((sh, sw), np.uint8)
        self.diff = np.empty((sh, sw), np.uint8)
        self._thr = np.empty((sh, sw), np.uint8)
        low = self.cfg.dry_min_diff is not None and self.cfg.dry_min_diff < self.cfg.min_diff
        self._thr_dry = np.empty((sh, sw), np.uint8) if low else None  # the threshold off rain frames
        self._std = np.empty((sh, sw), np.uint8) if low else None  # the mask at the usual threshold
        self._act_local = np.empty((sh, sw), np.float32) if low and self.cfg.dry_noise_cell > 1 else None
        self.mask = np.empty((sh, sw), np.uint8)
        self._opened = np.empty((sh, sw), np.uint8)
        self._pair = np.ones((1, 2), np.uint8)
        self._column = np.ones((self.cfg.streak_min_run, 1), np.uint8)
        self._streaks = np.empty((sh, sw), np.uint8)
        # last rain frame's speck chains (1 .. speck_frames-1 sightings), spread downward
        self._prev_specks = [np.zeros((sh, sw), np.uint8) for _ in range(max(1, self.cfg.speck_frames - 1))]
        self._runs = np.empty((sh, sw), np.uint8)
        self._levels = [np.empty((sh, sw), np.uint8) for _ in self._prev_specks]  # this frame's chains
        self._specks_fresh = False
        # the last rain frames' specks (level 0), newest first, for `speck_trail`; how many are valid
        self._thin_past = [np.zeros((sh, sw), np.uint8) for _ in range(max(1, self.cfg.speck_frames))]
        self._thin_valid = 0
        self._below = np.ones((self.cfg.speck_reach + 1, 3), np.uint8)
        self.rain = False
        self.roi = roi_mask(facade, image_size, self.factor, self.cfg)
        self.quiet = self.roi.copy()  # roi minus busy pixels
        self._busy = np.empty((sh, sw), np.uint8)
        self._still = np.empty((sh, sw), np.uint8)
        self._grow = np.ones((3, 3), np.uint8)
        self._join = np.ones((3, 3), np.uint8)
        self._roi_px = max(1, int(cv2.countNonZero(self.roi)))
        self._max_blob = max(self.cfg.min_blob_px + 1, int(self.cfg.max_blob_frac * sw * sh))
        self._interp = cv2.INTER_AREA if self.factor == 2 else cv2.INTER_LINEAR
        cell = self.cfg.shade_cell
        self._cells = (max(1, sw // cell), max(1, sh // cell))
        # cell means over whole cells only: INTER_AREA by an exact integer factor is ~6x faster than a fractional one
        self._cell_span = (min(sw, self._cells[0] * cell), min(sh, self._cells[1] * cell))
        self._shade = np.empty((sh, sw), np.float32)
        self.frames = 0
        self._fresh = 0  # frames averaged into a background taken from one frame (see `_learn_fresh`)

    def _to_gray(self, frame: np.ndarray) -> np.ndarray:
        """Downscale first (colour resize is cheaper than full-size colour conversion), then grey."""
        if self.factor == 1:
            if frame.ndim == 2:
                np.copyto(self.gray, frame)
            else:
                cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=self.gray)
        elif frame.ndim == 2:
            cv2.resize(frame, self.size, dst=self.gray, interpolation=self._interp)
        else:
            cv2.resize(frame, self.size, dst=self._small_bgr, interpolation=self._interp)
            cv2.cvtColor(self._small_bgr, cv2.COLOR_BGR2GRAY, dst=self.gray)
        return self.gray

    def _refresh_bg8(self) -> None:
        cv2.convertScaleAbs(self.bg, dst=self._bg8)

    def _refresh_thr(self) -> None:
        cv2.convertScaleAbs(self.activity, dst=self._thr, alpha=self.cfg.activity_k)
        cv2.max(self._thr, self.cfg.min_diff, dst=self._thr)
        if self._thr_dry is not None:  # min(max(dry_activity_k x activity, dry_min_diff), the usual threshold)
            act = self.activity
            if self._act_local is not None:  # the pixel's or its cell's, whichever is larger (`dry_noise_cell`)
                cell = self.cfg.dry_noise_cell
                act = cv2.blur(self.activity, (cell, cell), dst=self._act_local, borderType=cv2.BORDER_REPLICATE)
                cv2.max(act, self.activity, dst=act)
            cv2.convertScaleAbs(act, dst=self._thr_dry, alpha=self.cfg.dry_activity_k)
            cv2.max(self._thr_dry, self.cfg.dry_min_diff, dst=self._thr_dry)
            cv2.min(self._thr_dry, self._thr, dst=self._thr_dry)

    def _build_mask(self) -> int:
        cv2.absdiff(self.gray, self._bg8, dst=self.diff)
        low = self._thr_dry is not None
        cv2.compare(self.diff, self._thr_dry if low else self._thr, cv2.CMP_GT, dst=self.mask)
        cv2.bitwise_and(self.mask, self.quiet, dst=self.mask)
        count = cv2.countNonZero(self.mask)
        self.rain = False
        if count > self.cfg.streak_check_fraction * self._roi_px:
            usual, usual_count = self.mask, count
            if low:  # rain is told, and handled, at the usual threshold
                usual = self._std
                cv2.compare(self.diff, self._thr, cv2.CMP_GT, dst=usual)
                cv2.bitwise_and(usual, self.quiet, dst=usual)
                usual_count = cv2.countNonZero(usual)
            cv2.morphologyEx(usual, cv2.MORPH_OPEN, self._pair, dst=self._opened)
            kept = cv2.countNonZero(self._opened)
            if kept < self.cfg.streak_share * usual_count:
                self.rain = True
                if low:
                    np.copyto(self.mask, usual)
                count = self._drop_streaks()
        if not self.rain and self._specks_fresh:
            for spread in self._prev_specks:
                spread[:] = 0
            self._specks_fresh = False
            self._thin_valid = 0
        return count

    def _drop_streaks(self) -> int:
        """Rain frame: the mask becomes what the 1x2 opening kept (anything two or more pixels wide) plus the
        one-pixel-wide specks that are off rain streaks and persist over `speck_frames` frames, each a few pixels
        below the last.

        Why: the opening alone also removed every object under about 1.5 full-res px, which in rain is most of
        the 5-15 cm objects of the upper floors. Streaks are near-vertical runs of `streak_min_run` pixels or
        more; what is left of them (a streak cut by the threshold) is a fresh speck each frame at a random
        place, while an object near its release moves a pixel or two a frame."""
        thin = self._streaks
        cv2.bitwise_xor(self.mask, self._opened, dst=thin)  # one-pixel-wide parts
        runs = self._runs
        cv2.morphologyEx(thin, cv2.MORPH_OPEN, self._column, dst=runs)
        cv2.dilate(runs, self._join, dst=runs)
        cv2.subtract(thin, runs, dst=thin)  # specks off streaks
        # level j: specks with a chain of j+1 sightings; the previous frame's levels, spread downward, gate them
        levels = [thin]
        for spread, level in zip(self._prev_specks, self._levels):
            levels.append(cv2.bitwise_and(thin, spread, dst=level))
        for spread, level in zip(self._prev_specks, levels):
            cv2.dilate(level, self._below, dst=spread, anchor=(1, self.cfg.speck_reach))
        self._specks_fresh = True
        cv2.bitwise_or(self._opened, levels[-1], dst=self.mask)
        if self.keep_trails:  # this frame's specks, for `speck_trail` (the oldest buffer reused)
            self._thin_past.insert(0, self._thin_past.pop())
            np.copyto(self._thin_past[0], thin)
            self._thin_valid = min(self._thin_valid + 1, len(self._thin_past))
        return cv2.countNonZero(self.mask)

    def _refresh_quiet(self) -> None:
        cv2.compare(self.activity, self.cfg.busy_level, cv2.CMP_LT, dst=self._busy)
        # swaying things reach a little beyond where they were busiest: widen the busy area by 1 px
        cv2.erode(self._busy, self._grow, dst=self._busy)
        cv2.bitwise_and(self.roi, self._busy, dst=self.quiet)

    def rebaseline(self) -> None:
        """Forget the background (after a scene-wide change); activity keeps its memory of busy places."""
        self.bg[:] = self.gray
        self._fresh = 1
        self._refresh_bg8()

    def process(self, frame: np.ndarray) -> Blobs:
        gray = self._to_gray(frame)
        self.frames += 1
        if self.frames == 1:
            self.bg[:] = gray
            self.activity[:] = self.cfg.min_diff / self.cfg.activity_k / 2
            self._refresh_bg8()
            self._refresh_thr()
            return Blobs(EMPTY, np.zeros(0), "warmup")
        status, shift = "ok", (0.0, 0.0)
        busy = self._build_mask() > self.cfg.busy_fraction * self._roi_px
        if busy:
            status, shift = self._compensate()
        if status == "rebaseline":
            self.rebaseline()
            return Blobs(EMPTY, np.zeros(0), status, shift)
        if status == "ok" and self.rain:
            status = "rain"
        self._learn()
        centres, areas = self._blobs()
        return Blobs(centres, areas, status, shift)

    def _learn(self) -> None:
        """Background every `bg_every` frames, activity every `activity_every`: both change slowly, and the
        float updates and their 8-bit copies are a third of the per-frame cost if done every frame."""
        cfg, n = self.cfg, self.frames
        if n % cfg.activity_every == 0 or n < 30:
            # cumulative mean over the first frames, so busy places are known within a second, not after minutes
            every = 1 if n < 30 else cfg.activity_every
            rate = max(1 - (1 - cfg.activity_rate) ** every, 1.0 / n)
            cv2.accumulateWeighted(self.diff, self.activity, rate)
            self._refresh_thr()
        if self._fresh:
            self._learn_fresh()
        elif n % cfg.bg_every == 0:
            # Selective update: pixels in the mask are not learnt, so an object that hangs still for a moment
            # before it drops (or a slow start) leaves no dark "ghost" behind to confuse the tracker. Every
            # `absorb_every` frames everything is learnt, so something that came to rest fades out (~6 s).
            rate = 1 - (1 - cfg.bg_rate) ** cfg.bg_every
            if n % cfg.shade_every == 0:
                self._follow_shading()
            if n % cfg.absorb_every == 0:
                cv2.accumulateWeighted(self.gray, self.bg, rate)
                self._refresh_bg8()
            else:
                self._learn_still(rate)
        if n % cfg.busy_every == 0:
            self._refresh_quiet()

    def _learn_fresh(self) -> None:
        """A background just taken from one frame by a re-baseline learns each next frame as a running mean
        (rate 1/k) until that is slower than `bg_rate`. Such a background holds that frame's sensor noise (twice
        the usual spread of |frame - background|) and, after a shake, the view of a shaken frame; at the normal
        rate both stayed in the mask for about a second. Three of the four false alarms in 2 h of dev distractor
        video were those blobs joined into "falls": still edges after a shake (two at once, seed 5036), noise
        blobs at night in rain (seed 5087). Pixels in the mask are left out, as in `_learn`."""
        self._fresh += 1
        rate = 1.0 / self._fresh
        if rate <= self.cfg.bg_rate:
            self._fresh = 0
            return
        self._learn_still(rate)

    def _learn_still(self, rate: float) -> None:
        """Background update at `rate` on the pixels outside the mask."""
        cv2.bitwise_not(self.mask, dst=self._still)
        cv2.accumulateWeighted(self.gray, self.bg, rate, mask=self._still)
        self._refresh_bg8()

    def _follow_shading(self) -> None:
        """Move the background by the spatially smooth part of (frame - background), cell means upsampled.

        Why: a cloud shadow drifting over the wall, or auto exposure settling after a jump, changes every pixel
        by a few grey levels - too little for the global gain check, but the per-pixel background (~0.7 s)
        lags behind it, so |frame - background| stayed several levels high over the whole wall. The activity
        map learnt that as "busy", raising the threshold two- or threefold and masking whole facade areas out,
        and small objects were never seen there. A falling object moves a 16x16 cell's mean by a fraction of a
        grey level, so it is not learnt. Cells that jumped (> shade_step) are left alone. At low resolution:
        ~0.25 ms per update, every `shade_every` frames."""
        cells, (ww, hh) = self._cells, self._cell_span
        cur = cv2.resize(self.gray[:hh, :ww], cells, interpolation=cv2.INTER_AREA).astype(np.float32)
        step = cur - cv2.resize(self.bg[:hh, :ww], cells, interpolation=cv2.INTER_AREA)
        step[np.abs(step) > self.cfg.shade_step] = 0.0
        cv2.resize(step, self.size, dst=self._shade, interpolation=cv2.INTER_LINEAR)
        cv2.add(self.bg, self._shade, dst=self.bg)

    def _compensate(self) -> tuple[str, tuple[float, float]]:
        """Divide out a global gain, then undo a global shift; 'rebaseline' when the scene still changed."""
        status, shift = "ok", (0.0, 0.0)
        cur, ref = cv2.mean(self.gray, self.roi)[0], cv2.mean(self.bg, self.roi)[0]
        if ref > 1 and abs(cur / ref - 1) > self.cfg.gain_tolerance:
            cv2.multiply(self.bg, cur / ref, dst=self.bg)
            status = "gain"
        self._refresh_bg8()
        # at half the working size: ~1 ms instead of ~10, still ~0.1 px precise, and only on busy frames
        half = (self.size[0] // 2, self.size[1] // 2)
        ref = cv2.resize(self.bg, half, interpolation=cv2.INTER_AREA)
        cur = cv2.resize(self.gray, half, interpolation=cv2.INTER_AREA).astype(np.float32)
        (dx, dy), response = cv2.phaseCorrelate(ref, cur)
        dx, dy = 2 * dx, 2 * dy
        if response > 0.2 and 0.3 < np.hypot(dx, dy) <= self.cfg.max_shift_px:
            m = np.float32([[1, 0, dx], [0, 1, dy]])
            for buf in (self.bg, self.activity):
                cv2.warpAffine(buf, m, self.size, dst=buf, borderMode=cv2.BORDER_REPLICATE)
            # The mask below is built against `_bg8`, copied before this shift: the shift is not undone there, and
            # a shaken frame re-baselines (the shifted float background is overwritten then). Refreshing the copy
            # here was measured on the dev seeds (2026-12-06: 294 of 323 throws against 296, and a false alarm in
            # 0.5 h of distractor video): a twice-warped background is blurred, a re-baselined one sharp.
            self._refresh_thr()
            status, shift = "shift", (dx * self.factor, dy * self.factor)
        if self._build_mask() > self.cfg.global_fraction * self._roi_px:
            return "rebaseline", shift
        return status, shift

    def speck_trail(self, points: np.ndarray) -> np.ndarray:
        """For blobs of this rain frame (full-res px, (N,2)): where each was on the previous `speck_frames` - 1
        frames, as the chain of specks that let it into the mask (see `_drop_streaks`) - (N, K, 2) full-res px,
        newest first, NaN where there is no chain (a blob two or more pixels wide, or not a rain frame).

        Why: a one-pixel-wide object in rain enters the mask only on the third frame of a run of sightings, and in
        rain a small object is seen in runs of 2-6 frames between the wall bands it vanishes against; a track
        started from the third sighting alone had lost two of every run's points, and its start was too short to
        seed a gathering (dev seeds 117, 315: runs of 4-6 gave tracks of 2). The two earlier sightings are the
        specks the chain test found above the blob, so the track can start with them."""
        n, k = len(points), len(self._thin_past) - 1
        out = np.full((n, k, 2), np.nan)
        if n == 0 or k == 0 or not self.rain or self._thin_valid < k + 1:
            return out
        reach, (sw, sh) = self.cfg.speck_reach, self.size
        chained = self._levels[-1]
        for i, (x, y) in enumerate(np.rint(self._to_work(points)).astype(np.int64)):
            if not (0 <= x < sw and 0 <= y < sh):
                continue
            y0, x0 = max(y - 1, 0), max(x - 1, 0)
            ys, xs = np.nonzero(chained[y0:y + 2, x0:x + 2])
            if len(ys) == 0:
                continue  # not a chained speck: a blob two or more pixels wide
            best = int(np.argmin((ys + y0 - y) ** 2 + (xs + x0 - x) ** 2))
            y, x = int(ys[best] + y0), int(xs[best] + x0)
            start, trail = y, []
            for past in self._thin_past[1:]:
                # the chain's previous speck: at most `speck_reach` above, one column aside (nearest first)
                y0, x0 = max(y - reach, 0), max(x - 1, 0)
                ys, xs = np.nonzero(past[y0:y + 1, x0:x + 2])
                if len(ys) == 0:
                    break
                best = int(np.argmin((ys + y0 - y) ** 2 + (xs + x0 - x) ** 2))
                y, x = int(ys[best] + y0), int(xs[best] + x0)
                trail.append((x, y))
            if trail and start - trail[-1][1] >= self.cfg.trail_min_descent:
                out[i, :len(trail)] = self._to_full(np.array(trail, np.float64))
        return out

    def faint_near(self, points: np.ndarray, radii: np.ndarray,
                   in_rain: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each predicted position (full-res px, (N,2)) and search radius (full-res px): the centroid of the
        strongest change under the threshold but above `faint_ratio` of it, inside the window, off the mask
        and in the quiet region. Returns (found (N,) bool, centres (N,2) full-res, areas (N,) full-res px).

        Why here and not in the mask: a threshold of 0.6 x the usual one over the whole frame would let
        through hundreds of noise pixels a frame; inside a window of a few dozen pixels where a track expects
        its object, a chance noise pixel is rare (night scenes: ~1 % of windows) and the tracker can follow
        a faint object through the frames it is under the threshold. On rain frames (`in_rain`), pixels on
        streaks are skipped (see `faint_streak_run`): the strongest change in the window is a streak more often
        than the object."""
        n = len(points)
        if n == 0:
            return np.zeros(0, bool), np.zeros((0, 2)), np.zeros(0)
        f, (sw, sh), big = self.factor, self.size, self.cfg.faint_max_radius
        found, centres, areas = np.zeros(n, bool), np.zeros((n, 2)), np.zeros(n)
        offs = np.arange(-big, big + 1)
        cx, cy = np.rint(self._to_work(points)).astype(np.int64).T
        r = np.clip(np.rint(radii / f), 1, big).astype(np.int64)
        xs, ys = cx[:, None] + offs, cy[:, None] + offs  # (N, K) window columns and rows
        inside = (((ys >= 0) & (ys < sh) & (np.abs(offs) <= r[:, None]))[:, :, None]
                  & ((xs >= 0) & (xs < sw) & (np.abs(offs) <= r[:, None]))[:, None, :])
        yi, xi = np.clip(ys, 0, sh - 1)[:, :, None], np.clip(xs, 0, sw - 1)[:, None, :]
        d = self.diff[yi, xi]  # (N, K, K)
        # cheap screen: no pixel can pass below faint_ratio x min_diff, and most windows have none
        keep = np.flatnonzero(((d > self.cfg.faint_ratio * self.cfg.min_diff) & inside).any(axis=(1, 2)))
        if keep.size == 0:
            return found, centres, areas
        d, yi, xi, inside = d[keep].astype(np.float32), yi[keep], xi[keep], inside[keep]
        limit = np.maximum(self.cfg.faint_ratio * self._thr[yi, xi], self.cfg.faint_noise_k * self.activity[yi, xi])
        passing = d > limit
        ok = inside & passing & (self.quiet[yi, xi] > 0) & (self.mask[yi, xi] == 0)
        if in_rain:
            ok &= ~_on_streak(passing, self.cfg.faint_streak_run)
        d *= ok
        m, k = len(keep), d.shape[1]
        best = np.argmax(d.reshape(m, -1), axis=1)
        hit = d.reshape(m, -1)[np.arange(m), best] > 0
        py, px = np.divmod(best, k)
        # diff-weighted centroid of the 3x3 around the strongest pixel (zero padding at the window's edge)
        pad = np.pad(d, ((0, 0), (1, 1), (1, 1)))
        step = np.arange(3)
        patch = pad[np.arange(m)[:, None, None], (py[:, None] + step)[:, :, None], (px[:, None] + step)[:, None, :]]
        w = np.maximum(patch.sum(axis=(1, 2)), 1e-9)
        dy = (patch.sum(axis=2) @ (step - 1.0)) / w
        dx = (patch.sum(axis=1) @ (step - 1.0)) / w
        found[keep] = hit
        centres[keep] = self._to_full(np.column_stack([cx[keep] - big + px + dx, cy[keep] - big + py + dy]))
        areas[keep] = np.count_nonzero(patch, axis=(1, 2)) * float(f * f)
        return found, centres, areas

    def _blobs(self) -> tuple[np.ndarray, np.ndarray]:
        # join fragments 1-2 px apart (an object split by a mullion or a masked busy line) into one blob
        cv2.dilate(self.mask, self._join, dst=self.mask)
        contours, _ = cv2.findContours(self.mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return EMPTY, np.zeros(0)
        if len(contours) > self.cfg.max_contours:
            return EMPTY, np.zeros(0)  # rain or a noise storm: nothing trackable in this frame
        out = []
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            if w * h < self.cfg.min_blob_px or w * h > 4 * self._max_blob:
                continue
            m = cv2.moments(self.mask[y:y + h, x:x + w], binaryImage=True)
            area = m["m00"]
            if self.cfg.min_blob_px <= area <= self._max_blob:
                out.append((x + m["m10"] / area, y + m["m01"] / area, area))
        if not out:
            return EMPTY, np.zeros(0)
        arr = np.array(out, np.float64)
        if len(arr) > self.cfg.max_blobs:
            arr = arr[np.argsort(-arr[:, 2])[: self.cfg.max_blobs]]
        return self._to_full(arr[:, :2]), arr[:, 2] * self.factor * self.factor

    def _to_full(self, xy: np.ndarray) -> np.ndarray:
        """Working px -> full-res px: a working pixel covers f full-res pixels; its centre is at f*(i+0.5)."""
        return (xy + 0.5) * self.factor - 0.5

    def _to_work(self, xy: np.ndarray) -> np.ndarray:
        """Full-res px -> working px (the inverse of `_to_full`)."""
        return (xy + 0.5) / self.factor - 0.5


def _on_streak(passing: np.ndarray, min_run: int) -> np.ndarray:
    """(N, K, K) bool: pixels on a near-vertical run of at least `min_run` passing pixels (one column either side
    counts, for slanted rain) inside each window."""
    wide = passing.copy()
    wide[:, :, 1:] |= passing[:, :, :-1]
    wide[:, :, :-1] |= passing[:, :, 1:]
    k = wide.shape[1]
    down = np.zeros(wide.shape, np.int16)  # run length ending at each row, from above
    up = np.zeros(wide.shape, np.int16)    # ... from below
    down[:, 0] = wide[:, 0]
    up[:, -1] = wide[:, -1]
    for r in range(1, k):
        down[:, r] = (down[:, r - 1] + 1) * wide[:, r]
        up[:, k - 1 - r] = (up[:, k - r] + 1) * wide[:, k - 1 - r]
    return passing & (down + up - 1 >= min_run)


def roi_mask(facade: Facade, image_size: tuple[int, int], factor: int, cfg: ForegroundConfig) -> np.ndarray:
    """Working-resolution mask: the facade widened by margins, its roof margin, and down to the image bottom."""
    w, h = image_size
    sw, sh = w // factor, h // factor
    mx = cfg.side_margin_columns * facade.column_width_m
    top = facade.height_m + cfg.roof_margin_floors * facade.floor_height_m
    quad = facade.facade_to_image(np.array([[-mx, 0.0], [facade.width_m + mx, 0.0],
                                            [facade.width_m + mx, top], [-mx, top]]))
    bl, br, tr, tl = quad
    below = [[bl[0], max(bl[1], h + 1.0)], [br[0], max(br[1], h + 1.0)]]
    poly = np.array([tl, tr, br, below[1], below[0], bl], np.float64) / factor
    mask = np.zeros((sh, sw), np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
    return mask
