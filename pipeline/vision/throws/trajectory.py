"""Is a track a fall? Fit gravity with drag in facade metres; find the release point.

Model: height with linear drag, dv/dt = -g - c v, so with tau = t - t_first
    Y(tau) = Y0 + v0 E + (g / c) (E - tau),   E = (1 - exp(-c tau)) / c      (c -> 0: Y0 + v0 tau - g tau^2 / 2)
For a fixed c this is linear in (Y0, v0, g); c is searched on a small grid, so the fit is a handful of 3-column
least squares. Linear drag is a simplification of the quadratic drag of real objects; over the 1-4 s we see a
fall it bends the curve the same way (acceleration fading with speed), which is what separates a box (g near
9.8, little drag) from a leaf or a bag (terminal speed of a few m/s: c beyond the grid, no good fit).

Release point (documented choice): the fitted curve is followed back from the first sighting to where the
vertical speed is zero - the release of a dropped object or the top of an upward throw - but never more than
`max_backtrack_s` (objects thrown downward never reach v = 0 backwards; long extrapolation is guesswork). Where
that limit stops it, the release is put no lower than the speed at the first sighting says it must be: gravity
needs (v^2 - u^2) / 2g metres to bring a throw's downward speed u to v, and drag only adds to that. An
object already rising at its first sighting was thrown upward: the window is at or below that sighting, so
the first sighting is taken. A release up to `roof_margin_floors` above the roof line counts as the top floor
(things thrown from the roof or a parapet), one up to `side_margin_columns` beside the facade as the edge
column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pipeline.vision.throws.calibration import Facade

G = 9.81


@dataclass(frozen=True)
class TrajectoryConfig:
    min_points: int = 8
    """Sightings needed: fewer cannot tell acceleration from centroid noise."""
    min_duration_s: float = 0.25
    """Time span needed: a 1-floor fall of a dropped object takes ~0.8 s; rain streaks live a few frames."""
    min_drop_m: float = 3.0
    """Fitted height lost over the track: birds flutter, leaves drift, a stationary blob loses nothing. One
    storey: at 2 m, night noise and rain remnants strung into short tracks passed as falls of 2-3 m (4 of the
    dev distractor scenes 5030-5099); one true fall of the dev throw scenes was seen over less than 3 m."""
    min_drop_low_m: float = 1.5
    """...or only this much when the track ends at the bottom of the view (see `_ends_low`): a fall from floor 2
    is seen over its last 1.5-3 m only when the frame's lower edge cuts the facade a storey or two above the
    ground (dev seeds 104, 125, 42: the object leaves the frame 20-40 px after it appears). Such a short fall
    must also fit its points to `low_max_rmse_px` in the image."""
    low_edge_px: float = 12.0
    """A track ends at the bottom of the view when its last point is this close to the frame's lower edge..."""
    low_ground_m: float = 1.0
    """...or this close to the ground line of the facade (it landed)."""
    low_max_rmse_px: float = 1.5
    """Image residual (RMS px) a fall shorter than `min_drop_m` must fit to: the true short falls of the dev
    scenes fit to 0.4-0.6 px; a still blob stitched to another still blob a few storeys lower (dev seed 168,
    a lit window edge) fits to 2.5 px."""
    accel_range: tuple[float, float] = (2.0, 14.5)
    """Mean downward acceleration over the track (fitted speed gained / time), m/s^2. Free fall is 9.81 less
    drag; the band is wide because a hand-measured calibration easily mis-scales heights by 30-40 %. A
    constant-speed mover (bird gliding down, lift, a drifting leaf) has ~0; an upward mover is negative. The
    lower end was 3.5: a light object (a 7 cm bag, dev seed 50) followed from its release reaches its
    drag-limited speed within a second, and the linear-drag curve fitted to its quadratic-drag fall gives it
    2.7 over the first 1.5 s (g 8.4 at the largest drag rate). `g_min` keeps the constant-speed movers out.
    The upper end was 13.0: a large object thrown outward from a low floor comes toward the camera, in front
    of the facade plane its points are mapped to, and its image falls faster than gravity allows there (dev
    seeds 54, 125, 381: 13.1-14.3 m/s^2 over clean 9-13 point tracks). At 14.5 the dev seeds 0-599 gave 3 more
    throws and 1 more false event (a short 3.7 m 'fall' at 14.0); at 16, 4 more throws and 4 more false
    events, all short drops fitted at g 14-16."""
    accel_window_s: float = 1.5
    """The mean acceleration is taken over the first this-many seconds of the track: a light or large object
    (a box, a bag) reaches its drag-limited speed within 1-2 s, and over a 5 s fall its mean acceleration is a
    fraction of g although it started as a free fall."""
    g_min: float = 6.0
    """Smallest fitted g: 9.81 with the calibration's heights 40 % too small. The mean acceleration may be lower
    (a light object soon flies at its drag-limited speed), but the curve that fits it must still start as a
    fall; a leaf, a diving bird or a rain remnant that happens to speed up fits a g of 3-5 (dev distractor
    scenes: every false fall had g < 5.5, every true one g > 7.5)."""
    g_max: float = 30.0
    """Largest fitted g of the drag curve: with drag, g and the drag rate trade off on a short track, so g alone
    is only a sanity bound (and feeds the confidence)."""
    drag_grid: tuple[float, ...] = (0.0, 0.15, 0.3, 0.5, 0.75, 1.0, 1.3)
    """Drag rates tried (1/s); 0 (the plain parabola) must be among them. The largest, 1.3, is a terminal speed of ~7.5 m/s: lighter things are not hazards
    this detector is for, and a wider grid lets a constant-speed mover pass as 'at terminal speed'."""
    drag_gain: float = 0.15
    """Share by which a drag curve must beat the parabola's residual to be preferred (see fit_fall)."""
    max_rmse_m: float = 0.25
    max_rmse_rel: float = 0.03
    """Height residual allowed: max_rmse_m + max_rmse_rel x drop (centroids of blurred blobs wobble)."""
    max_outliers: int = 2
    outlier_k: float = 4.0
    outlier_min_m: float = 0.3
    """Up to `max_outliers` points further than max(outlier_k robust sigma, outlier_min_m) from the first fit
    are dropped and the track refitted: at a crossing the tracker may grab the other object's blob once."""
    max_outlier_share: float = 0.15
    """...or up to this share of the points, when that is more: in rain the tracker starts a fall on a streak
    remnant or two and, after the object is lost near the ground, ends it on a few more (dev seed 63: 45
    points, 2 wrong at the start and 4 at the end, a height residual of 0.82 m against the 0.79 allowed)."""
    outlier_rounds: int = 2
    """Fit, drop outliers, refit - this many times at most. Six wrong points pull the first fit so far that
    some of them are within 4 sigma of it; the second round, against the fit to the good points, finds them."""
    min_lower_points: int = 3
    """Sightings needed in the lower half of the fitted drop. A fall is seen all the way down; a stationary
    blob (a lit window edge) joined to a few scattered blobs after a gap, of which the outlier step drops
    all but one, fits a parabola through that one point perfectly (dev distractor scene 5075: 8 points in
    one place and one 100 px below, 'a 3.8 m fall', before this check)."""
    lower_gap_share: float = 0.4
    """One sighting fewer in the lower half is enough when the sightings leave no gap in height larger than
    this share of the drop: a short fall from floor 2 crosses its lower half in 5-7 frames, and an object the
    colour of the wall there is seen on two of them (dev seed 68: 14 points, 2 in the lower half, gaps of at
    most 0.3 of the drop); the still-blob-and-one-point case has a gap of the whole drop."""
    max_rise_m: float = 0.35
    """After the top of the curve a fall never climbs: a step up larger than this (noise included) is a bird.
    That step is taken between 3-point running medians of the heights: one centroid pulled up by a rain remnant
    merged with the object's blob is not a climb (dev seed 139: a 35-point fall rejected for one point 6 px
    above its neighbours), a bird's climb lasts many frames."""
    max_rise_steps: float = 0.1
    """...and at most this share of steps may go up at all by more than half of it."""
    max_vx_mps: float = 4.0
    """Mean horizontal speed along the facade over the track: things thrown or dropped drift slowly sideways (and
    drag slows the drift), birds fly."""
    max_horizontal_ratio: float = 1.0
    """Sideways displacement / drop: a fall goes more down than sideways. Not 0.6 (until 2026-12-07): a throw
    sideways at 2.5 m/s and up at 2 m/s is seen over its first second falling 2.9 m and going 2.5 m aside (0.86),
    and a throw from floor 2 is seen for about a second only; dev seed 233 (19 points, g 9.9, 0.06 m residual) was
    lost at 0.67. Dev seeds 0-599 at 0.8 and at 1.0: that throw found, no other event changed, 0 false alarms in
    0.5 h of dev distractor video. `max_vx_mps` bounds the sideways speed of longer tracks."""
    max_rmse_x_m: float = 0.35
    """Sideways wobble allowed around a straight drift (erratic flight fails)."""
    max_backtrack_s: float = 0.5
    """Longest back-extrapolation from the first sighting to the release (see module doc). Chosen on the dev
    scenes (82 matched falls): floor exact 0.915 with no extrapolation (the first sighting, as the baseline
    does), 0.927 at 0.1 s, 0.951 at 0.3 s, 0.976 from 0.4 to 1.0 s: a small or camouflaged object is often
    first seen a few tenths of a second after it left the hand, already lower."""
    max_throw_down_mps: float = 3.0
    """Fastest downward throw assumed when an object first seen late in its fall is placed no lower than the height
    its speed needs (see `_least_release`)."""
    roof_margin_floors: float = 1.5
    side_margin_columns: float = 0.5


@dataclass(frozen=True)
class Fit:
    g: float
    drag: float
    y0: float
    v0: float
    rmse_y_m: float
    vx: float
    x0: float
    rmse_x_m: float
    t_first: float

    def height(self, tau: np.ndarray | float) -> np.ndarray:
        return self.y0 + self.v0 * _e(self.drag, tau) + self.g * _k(self.drag, tau)

    def x(self, tau: np.ndarray | float) -> np.ndarray:
        """Position along the facade: the same drag slows the sideways drift (vx is its initial speed)."""
        return self.x0 + self.vx * _e(self.drag, tau)

    def speed(self, tau: np.ndarray | float) -> np.ndarray:
        """Vertical velocity (m/s, up positive)."""
        tau = np.asarray(tau, np.float64)
        if self.drag == 0:
            return self.v0 - self.g * tau
        vt = self.g / self.drag
        return (self.v0 + vt) * np.exp(-self.drag * tau) - vt

    def apex_tau(self) -> float:
        """tau where the vertical speed is zero (may be negative: before the first sighting; -inf: never)."""
        if self.g <= 0:
            return -math.inf
        if self.drag == 0:
            return self.v0 / self.g
        ratio = 1 + self.v0 * self.drag / self.g
        return math.log(ratio) / self.drag if ratio > 0 else -math.inf


@dataclass(frozen=True)
class Verdict:
    fall: bool
    reason: str
    fit: Fit | None = None
    drop_m: float = 0.0
    release_tau: float = 0.0
    release_m: tuple[float, float] = (0.0, 0.0)
    window: tuple[int, int] | None = None
    confidence: float = 0.0
    rmse_px: float = 0.0
    details: dict = field(default_factory=dict)


def _e(c: float, tau):
    tau = np.asarray(tau, np.float64)
    return tau if c == 0 else (1 - np.exp(-c * tau)) / c


def _k(c: float, tau):
    """Coefficient of g in Y(tau)."""
    tau = np.asarray(tau, np.float64)
    return -0.5 * tau * tau if c == 0 else (_e(c, tau) - tau) / c


def fit_fall(ts: np.ndarray, pts_m: np.ndarray, drag_grid: tuple[float, ...], drag_gain: float = 0.15) -> Fit:
    """Least squares for height (drag on a grid) and a straight sideways drift.

    Drag must earn its place: over a short track a curve with drag and a larger g fits about as well as the
    plain parabola, so a drag rate is only taken when it cuts the residual by `drag_gain` (15 %).
    """
    tau = ts - ts[0]
    y, x = pts_m[:, 1], pts_m[:, 0]
    fits = []
    for c in drag_grid:
        a = np.column_stack([np.ones_like(tau), _e(c, tau), _k(c, tau)])
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        fits.append((float(np.sqrt(np.mean((a @ coef - y) ** 2))), c, coef))
    plain = next((f for f in fits if f[1] == 0.0), None)
    best = min(fits, key=lambda f: f[0])
    if plain is not None and best[0] > (1 - drag_gain) * plain[0]:
        best = plain
    rmse, c, (y0, v0, g) = best
    # the drag that slows the fall slows the sideways drift too: a light object thrown outward drifts on a curve
    # that levels off, and a straight line through it leaves a wobble the sideways test would call flight
    xa = np.column_stack([np.ones_like(tau), _e(c, tau)])
    (x0, vx), *_ = np.linalg.lstsq(xa, x, rcond=None)
    rmse_x = float(np.sqrt(np.mean((xa @ np.array([x0, vx]) - x) ** 2)))
    return Fit(g=float(g), drag=float(c), y0=float(y0), v0=float(v0), rmse_y_m=rmse, vx=float(vx), x0=float(x0),
               rmse_x_m=rmse_x, t_first=float(ts[0]))


def assess(ts: np.ndarray, pts_px: np.ndarray, facade: Facade, cfg: TrajectoryConfig | None = None) -> Verdict:
    """The verdict on one track: a fall (with origin window and confidence) or the first reason it is not."""
    cfg = cfg or TrajectoryConfig()
    ts = np.asarray(ts, np.float64)
    if len(ts) < cfg.min_points:
        return Verdict(False, f"{len(ts)} points < {cfg.min_points}")
    span = float(ts[-1] - ts[0])
    if span < cfg.min_duration_s:
        return Verdict(False, f"lasted {span:.2f} s < {cfg.min_duration_s}")
    pts_m = facade.image_to_facade(pts_px)
    if not np.all(np.isfinite(pts_m)):
        return Verdict(False, "points beyond the facade's horizon")
    # cheap screen before the fit: most tracks (leaves, people, noise) never lose the height of a fall
    raw_drop = float(pts_m[: 3, 1].mean() - pts_m[-3:, 1].mean())
    min_drop = cfg.min_drop_low_m if _ends_low(pts_px, pts_m, facade, cfg) else cfg.min_drop_m
    if raw_drop < 0.7 * min_drop:
        return Verdict(False, f"drop {raw_drop:.2f} m < {min_drop}", drop_m=raw_drop)
    fit = fit_fall(ts, pts_m, cfg.drag_grid, cfg.drag_gain)
    kept = _inliers(ts, pts_m, fit, cfg)
    if kept is not None:
        keep, fit = kept
        ts, pts_px, pts_m = ts[keep], pts_px[keep], pts_m[keep]
        span = float(ts[-1] - ts[0])
    tau_end = span
    drop = float(fit.height(0.0) - fit.height(tau_end))
    side = float(fit.x(span) - fit.x0)  # sideways travel over the track (mean speed: drag slows the start's)
    early = min(span, cfg.accel_window_s)
    mean_accel = float(fit.speed(0.0) - fit.speed(early)) / early
    details = {"drop_m": round(drop, 2), "mean_accel": round(mean_accel, 2), "g": round(fit.g, 2),
               "drag": fit.drag, "rmse_y_m": round(fit.rmse_y_m, 3), "vx": round(fit.vx, 2)}
    lower = int(np.count_nonzero(pts_m[:, 1] <= fit.height(0.0) - drop / 2))
    if lower == cfg.min_lower_points - 1 and _largest_height_gap(pts_m[:, 1]) <= cfg.lower_gap_share * drop:
        lower = cfg.min_lower_points
    checks = [
        (drop >= min_drop, f"drop {drop:.2f} m < {min_drop}"),
        (lower >= cfg.min_lower_points, f"{lower} sightings in the lower half of the drop < {cfg.min_lower_points}"),
        (cfg.accel_range[0] <= mean_accel <= cfg.accel_range[1],
         f"mean acceleration {mean_accel:.1f} m/s2 outside {cfg.accel_range}"),
        (cfg.g_min <= fit.g <= cfg.g_max, f"fitted g {fit.g:.1f} outside ({cfg.g_min}, {cfg.g_max})"),
        (fit.rmse_y_m <= cfg.max_rmse_m + cfg.max_rmse_rel * drop, f"height residual {fit.rmse_y_m:.2f} m"),
        (abs(side) <= cfg.max_vx_mps * span, f"sideways speed {side / span:.1f} m/s"),
        (abs(side) <= cfg.max_horizontal_ratio * max(drop, 1e-6), "more sideways than down"),
        (fit.rmse_x_m <= cfg.max_rmse_x_m, f"sideways wobble {fit.rmse_x_m:.2f} m"),
    ]
    for ok, reason in checks:
        if not ok:
            return Verdict(False, reason, fit=fit, drop_m=drop, details=details)
    rising = _rises_after_apex(ts, pts_m[:, 1], fit, cfg)
    if rising:
        return Verdict(False, rising, fit=fit, drop_m=drop, details=details)
    verdict = _released(ts, pts_px, pts_m, fit, drop, facade, cfg, details)
    if verdict.fall and drop < cfg.min_drop_m and verdict.rmse_px > cfg.low_max_rmse_px:
        return Verdict(False, f"short fall fits to {verdict.rmse_px:.1f} px", fit=fit, drop_m=drop, details=details)
    return verdict


def _ends_low(pts_px: np.ndarray, pts_m: np.ndarray, facade: Facade, cfg: TrajectoryConfig) -> bool:
    """The track's last point is at the frame's lower edge or on the ground: the fall went on out of view,
    so the short drop seen is all the camera could see of it, not an object that stopped in mid-air."""
    return bool(pts_px[-1, 1] >= facade.image_size[1] - cfg.low_edge_px or pts_m[-1, 1] <= cfg.low_ground_m)


def _inliers(ts: np.ndarray, pts_m: np.ndarray, fit: Fit,
             cfg: TrajectoryConfig) -> tuple[np.ndarray, Fit] | None:
    """(points to keep, the fit to them) after dropping gross outliers (another object's blob grabbed at a
    crossing, rain remnants at a track's ends), or None when none is dropped.

    Points further than max(`outlier_k` robust sigmas, `outlier_min_m`) from the fit are dropped, at most
    max(`max_outliers`, `max_outlier_share` of the points), and the rest refitted; up to `outlier_rounds`
    times, each against the last refit. The refit must still have `min_points`.
    """
    limit = max(cfg.max_outliers, int(cfg.max_outlier_share * len(ts)))
    keep = None
    for _ in range(cfg.outlier_rounds):
        err = np.hypot(pts_m[:, 1] - fit.height(ts - fit.t_first), pts_m[:, 0] - fit.x(ts - fit.t_first))
        # sigma of the points the current fit was made on: the outliers it left out would inflate it
        sigma = 1.4826 * float(np.median(err if keep is None else err[keep])) + 1e-6
        bad = err > max(cfg.outlier_k * sigma, cfg.outlier_min_m)
        n_bad = int(bad.sum())
        if n_bad == 0 or n_bad > limit or len(ts) - n_bad < cfg.min_points:
            break
        if keep is not None and np.array_equal(keep, ~bad):
            break
        keep = ~bad
        fit = fit_fall(ts[keep], pts_m[keep], cfg.drag_grid, cfg.drag_gain)
    return None if keep is None else (keep, fit)


def _largest_height_gap(heights: np.ndarray) -> float:
    """Largest difference between consecutive sighting heights, sorted (m)."""
    return float(np.max(np.diff(np.sort(heights)))) if len(heights) > 1 else 0.0


def _rises_after_apex(ts: np.ndarray, y: np.ndarray, fit: Fit, cfg: TrajectoryConfig) -> str | None:
    """A climb after the top: one large step up (a single-point spike aside), or frequent small ones."""
    after = (ts - ts[0]) >= max(fit.apex_tau(), 0.0)
    steps = np.diff(y[after])
    if steps.size == 0:
        return None
    smooth_steps = np.diff(_running_median3(y[after]))
    if smooth_steps.max() > cfg.max_rise_m:
        return f"climbs {smooth_steps.max():.2f} m in one step after the top"
    # on the raw steps: a track that hops up and down, one noise blob after another, is no fall either
    # (the running median would hide every hop of a single frame: dev distractor scene 5011 at night in rain)
    if np.mean(steps > cfg.max_rise_m / 2) > cfg.max_rise_steps:
        return "climbs too often after the top"
    return None


def _running_median3(y: np.ndarray) -> np.ndarray:
    """3-point running median, the end points kept: removes single-point spikes, keeps sustained motion."""
    if len(y) < 3:
        return y
    inner = np.median(np.stack([y[:-2], y[1:-1], y[2:]]), axis=0)
    return np.concatenate([y[:1], inner, y[-1:]])


def _released(ts, pts_px, pts_m, fit: Fit, drop: float, facade: Facade, cfg: TrajectoryConfig,
              details: dict) -> Verdict:
    apex = fit.apex_tau()
    tau_r = float(np.clip(apex, -cfg.max_backtrack_s, 0.0))
    rx, ry = float(fit.x(tau_r)), float(fit.height(tau_r))
    if apex < -cfg.max_backtrack_s:
        tau_least, y_least = _least_release(fit, cfg)
        # the column stays where the curve was at the limit: a sideways drift extrapolated further is guesswork
        if y_least > ry:
            tau_r, ry = min(tau_r, tau_least), min(y_least, facade.height_m - 1e-9)
    window = origin_window(facade, rx, ry, cfg)
    if window is None:
        return Verdict(False, f"release ({rx:.1f}, {ry:.1f}) m is off the facade", fit=fit, drop_m=drop,
                       details=details)
    model = np.column_stack([fit.x(ts - ts[0]), fit.height(ts - ts[0])])
    rmse_px = float(np.sqrt(np.mean(np.sum((facade.facade_to_image(model) - pts_px) ** 2, axis=1))))
    conf = confidence(len(ts), fit, drop)
    return Verdict(True, "fall", fit=fit, drop_m=drop, release_tau=tau_r, release_m=(rx, ry), window=window,
                   confidence=conf, rmse_px=rmse_px, details=details)


def _least_release(fit: Fit, cfg: TrajectoryConfig) -> tuple[float, float]:
    """(tau, height): the latest and lowest the object can have been let go, given its downward speed v at the first
    sighting. Gravity alone (drag only slows a fall) takes (v - u) / g seconds and (v^2 - u^2) / 2g metres to bring
    it from a throw's downward speed u (at most `max_throw_down_mps`) to v.

    Why: an object first seen well down its fall was placed `max_backtrack_s` above its first sighting, too low.
    Dev seeds 0-599: 17 origin floors better and none worse (wrong floors 24 -> 8); 15 of them had been one floor
    low, and two objects first seen at 21-30 m/s, after passing over a busy, masked patch, 7 and 11 floors low."""
    u = cfg.max_throw_down_mps
    v = max(-float(fit.speed(0.0)), u)
    return -(v - u) / G, float(fit.height(0.0)) + (v * v - u * u) / (2 * G)


def origin_window(facade: Facade, x: float, y: float, cfg: TrajectoryConfig) -> tuple[int, int] | None:
    """window_of with the roof and side margins folded onto the top floor / edge columns."""
    mx = cfg.side_margin_columns * facade.column_width_m
    if not (-mx <= x < facade.width_m + mx and 0 <= y < facade.height_m + cfg.roof_margin_floors * facade.floor_height_m):
        return None
    x = min(max(x, 0.0), facade.width_m - 1e-9)
    y = min(y, facade.height_m - 1e-9)
    return facade.window_of(x, y)


def confidence(n: int, fit: Fit, drop: float) -> float:
    """0..1: more sightings, a tighter fit and a gravity nearer 9.81 each raise it."""
    s_len = min(1.0, n / 20.0)
    s_fit = math.exp(-fit.rmse_y_m / (0.1 + 0.02 * drop))
    s_g = math.exp(-0.5 * ((fit.g - G) / 4.0) ** 2)
    return round(s_len * (0.4 + 0.6 * s_fit) * (0.5 + 0.5 * s_g), 3)
