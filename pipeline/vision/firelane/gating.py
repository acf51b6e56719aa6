"""Motion gating: run the detector only when the watched zones changed, plus a slow periodic confirmation.

Why: a fire lane is empty or holds a parked car almost all day; re-detecting an unchanged picture 25 times
a second is the bulk of the CPU. The frame is compared, small and grey, with the frame the detector last
saw (not the previous frame, so slow changes add up until they matter), only inside the zones' mask.
Between inferences the last detections stand for the scene; every `confirm_s` the detector runs anyway,
so a slow change below the threshold (dusk, a car parked during an exposure jump) is caught within that time.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Polygon = Sequence[tuple[float, float]]


class MotionGate:
    """`should_run(image, ts)` -> bool; counts `runs` and `skips`."""

    def __init__(self, polygons: Sequence[Polygon], *, width: int = 160, pixel_threshold: int = 18,
                 changed_fraction: float = 0.003, confirm_s: float = 5.0, margin: float = 0.04):
        self.polygons = [np.asarray(p, dtype=np.float32) for p in polygons]
        self.width, self.pixel_threshold, self.changed_fraction = width, pixel_threshold, changed_fraction
        self.confirm_s, self.margin = confirm_s, margin
        self.reference: np.ndarray | None = None
        self.reference_ts = float("-inf")
        self.mask: np.ndarray | None = None
        self.runs = self.skips = 0

    def _small_gray(self, image: np.ndarray) -> np.ndarray:
        height = max(1, round(image.shape[0] * self.width / image.shape[1]))
        small = cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        return cv2.GaussianBlur(gray, (5, 5), 0)

    def _zone_mask(self, shape: tuple[int, int], full_width: int) -> np.ndarray:
        """The zones, scaled to the small image and grown by `margin` (a car's body overhangs its foot point)."""
        mask = np.zeros(shape, dtype=np.uint8)
        factor = self.width / full_width
        cv2.fillPoly(mask, [np.round(p * factor).astype(np.int32) for p in self.polygons], 255)
        grow = max(1, round(self.margin * self.width))
        return cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0

    def changed(self, gray: np.ndarray) -> float:
        """Share of zone pixels that differ from the reference by more than the noise threshold."""
        diff = cv2.absdiff(gray, self.reference)[self.mask]
        return float(np.count_nonzero(diff > self.pixel_threshold)) / max(diff.size, 1)

    def should_run(self, image: np.ndarray, ts: float) -> bool:
        gray = self._small_gray(image)
        if self.mask is None or self.mask.shape != gray.shape:
            self.mask, self.reference = self._zone_mask(gray.shape, image.shape[1]), None
        run = (self.reference is None or ts - self.reference_ts >= self.confirm_s
               or ts < self.reference_ts or self.changed(gray) > self.changed_fraction)
        if run:
            self.reference, self.reference_ts = gray, ts
            self.runs += 1
        else:
            self.skips += 1
        return run

    @property
    def saved(self) -> float:
        """Share of frames on which the detector did not run."""
        total = self.runs + self.skips
        return self.skips / total if total else 0.0
