"""The thrown-object detector built "the common open-source way", as the benchmark's baseline.

Why it exists: a speed or accuracy figure for our core means little on its own; the usual recipe found in
tutorials and open-source 高空抛物 projects is MOG2 background subtraction -> morphological opening ->
connected components -> nearest-neighbour tracking -> a parabola fit on y(t) in pixels. It is run honestly:
full resolution, OpenCV defaults where the recipe has them, thresholds a reasonable engineer would pick; it was
not tuned on the held-out seeds. Same interface as `ThrowCore` (process/flush, events with the scored fields).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class BaselineEvent:
    """The fields the benchmark scores; names match ThrowEvent's."""
    t_start: float
    t_end: float
    release_t: float
    origin_floor: int | None
    origin_column: int | None
    origin_m: tuple[float, float] | None
    confidence: float
    trajectory: list[tuple[float, float, float]] = field(default_factory=list)
    fit: dict = field(default_factory=dict)


class _Plane:
    """Image -> facade metres from the calibration's four corners (no dependency on the core's Facade)."""

    def __init__(self, calibration: dict) -> None:
        fc = calibration["facade"]
        self.floors, self.columns = int(fc["floors"]), int(fc["columns"])
        self.floor_h, self.col_w = float(fc["floor_height_m"]), float(fc["column_width_m"])
        c = fc["corners_px"]
        src = np.float32([c["bottom_left"], c["bottom_right"], c["top_right"], c["top_left"]])
        w, h = self.columns * self.col_w, self.floors * self.floor_h
        self.to_facade = cv2.getPerspectiveTransform(src, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))

    def image_to_facade(self, pts: np.ndarray) -> np.ndarray:
        return cv2.perspectiveTransform(np.asarray(pts, np.float32).reshape(-1, 1, 2), self.to_facade).reshape(-1, 2)

    def window_of(self, x: float, y: float) -> tuple[int, int] | None:
        if not (0 <= x < self.columns * self.col_w and 0 <= y < self.floors * self.floor_h):
            return None
        return int(y // self.floor_h) + 1, int(x // self.col_w) + 1


@dataclass
class _Track:
    points: list[tuple[float, float, float]]  # (t, x, y)
    missed: int = 0

    def predict(self) -> tuple[float, float]:
        if len(self.points) < 2:
            return self.points[-1][1], self.points[-1][2]
        (_, x0, y0), (_, x1, y1) = self.points[-2], self.points[-1]
        return x1 + (x1 - x0) * (1 + self.missed), y1 + (y1 - y0) * (1 + self.missed)


class BaselineDetector:
    """MOG2 + opening + connected components + nearest-neighbour tracks + quadratic fit of y(t)."""

    MIN_AREA = 2          # px: after opening, anything smaller is noise
    MAX_AREA = 2500       # px: people, lit windows, clouds
    GATE_PX = 60.0        # nearest-neighbour association radius around the predicted position
    MAX_MISSED = 3        # frames a track may go undetected before it is closed
    MIN_POINTS = 6        # points needed before a parabola fit means anything
    MAX_RMS_PX = 3.0      # residual of the quadratic fit ...
    MAX_RMS_FRACTION = 0.01  # ... or 1 % of the track's vertical span, whichever is larger
    MIN_DROP_PX = 30.0    # net downward travel

    def __init__(self, facade_or_calibration, fps: float) -> None:
        if isinstance(facade_or_calibration, dict):
            self.plane = _Plane(facade_or_calibration)
        else:  # the core's Facade: image_to_facade + window_of
            self.plane = facade_or_calibration
        self.fps = float(fps)
        self.mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=16, detectShadows=False)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.tracks: list[_Track] = []
        self._px_per_m: float | None = None

    def process(self, frame: np.ndarray, t: float) -> list[BaselineEvent]:
        mask = self.mog.apply(frame)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel)
        n, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = (areas >= self.MIN_AREA) & (areas <= self.MAX_AREA)
        dets = centroids[1:][keep]
        # if the whole frame lights up (exposure jump, shake) there is nothing to track in this frame
        if len(dets) > 200:
            dets = dets[:0]
        self._associate(dets, t)
        return self._close(t, everything=False)

    def flush(self, t: float) -> list[BaselineEvent]:
        return self._close(t, everything=True)

    def _associate(self, dets: np.ndarray, t: float) -> None:
        used = np.zeros(len(dets), bool)
        # longest tracks pick first: greedy nearest neighbour, as the usual scripts do
        for track in sorted(self.tracks, key=lambda tr: -len(tr.points)):
            if len(dets) == 0:
                track.missed += 1
                continue
            px, py = track.predict()
            d = np.hypot(dets[:, 0] - px, dets[:, 1] - py)
            d[used] = np.inf
            j = int(np.argmin(d))
            if d[j] < self.GATE_PX:
                used[j] = True
                track.points.append((t, float(dets[j, 0]), float(dets[j, 1])))
                track.missed = 0
            else:
                track.missed += 1
        for j in np.flatnonzero(~used):
            self.tracks.append(_Track(points=[(t, float(dets[j, 0]), float(dets[j, 1]))]))

    def _close(self, t: float, everything: bool) -> list[BaselineEvent]:
        events, alive = [], []
        for track in self.tracks:
            if everything or track.missed > self.MAX_MISSED:
                event = self._judge(track)
                if event is not None:
                    events.append(event)
            else:
                alive.append(track)
        self.tracks = alive
        return events

    def _judge(self, track: _Track) -> BaselineEvent | None:
        if len(track.points) < self.MIN_POINTS:
            return None
        pts = np.array(track.points)
        ts, xs, ys = pts[:, 0] - pts[0, 0], pts[:, 1], pts[:, 2]
        coef, res, *_ = np.polyfit(ts, ys, 2, full=True)
        rms = math.sqrt(float(res[0]) / len(ts)) if len(res) else 0.0
        a = 2 * coef[0]  # px/s^2, image y grows downward
        # what g is in pixels near the start of the track: metres per pixel from the facade homography
        m = self.plane.image_to_facade(np.array([[xs[0], ys[0]], [xs[0], ys[0] + 10.0]]))
        px_per_m = 10.0 / max(abs(float(m[0, 1] - m[1, 1])), 1e-6)
        g_px = 9.81 * px_per_m
        # perspective bends a long fall away from a pixel parabola, so the residual allowed grows with the span
        max_rms = max(self.MAX_RMS_PX, self.MAX_RMS_FRACTION * float(ys.max() - ys.min()))
        if not (0.3 * g_px < a < 3.0 * g_px and rms <= max_rms and ys[-1] - ys[0] >= self.MIN_DROP_PX):
            return None
        origin = self.plane.image_to_facade(np.array([[xs[0], ys[0]]]))[0]
        window = self.plane.window_of(float(origin[0]), float(origin[1]))
        if window is None:  # did not start on the facade: a bird, rain, something off the building
            return None
        confidence = float(min(1.0, len(ts) / 20) * max(0.0, 1 - rms / (2 * max_rms)))
        return BaselineEvent(t_start=float(pts[0, 0]), t_end=float(pts[-1, 0]), release_t=float(pts[0, 0]),
                             origin_floor=window[0], origin_column=window[1],
                             origin_m=(float(origin[0]), float(origin[1])), confidence=confidence,
                             trajectory=[tuple(p) for p in track.points],
                             fit={"a_px_s2": float(a), "rms_px": rms, "g_px_s2": g_px})
