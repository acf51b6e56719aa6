"""Facade calibration: the homography between a camera image and the facade plane, in metres.

A ground camera looking up at a facade sees the wall as a trapezoid; the four corners of the wall, paired
with the rectangle (columns * column_width) x (floors * floor_height), fix the projective map. Trajectories
are judged in facade metres (gravity is only recognisable there: pixels per metre shrink with height) and
the origin window is named from the facade position.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CORNERS = ("bottom_left", "bottom_right", "top_right", "top_left")


def _number(value: object, where: str, *, positive: bool = True, integer: bool = False) -> float:
    """A finite number (int when asked); bool is refused because JSON true is not a size."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{where}: expected a whole number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{where}: must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def _pair(value: object, where: str, *, positive: bool) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where}: expected [x, y], got {value!r}")
    return (_number(value[0], f"{where}[0]", positive=positive), _number(value[1], f"{where}[1]", positive=positive))


@dataclass(frozen=True)
class Facade:
    """One camera's view of one facade; the file format is the user's (see `from_dict`)."""

    camera: str
    fps: float | None
    image_size: tuple[int, int]  # (w, h)
    floors: int
    floor_height_m: float
    columns: int
    column_width_m: float
    corners_px: dict[str, tuple[float, float]]  # bottom_left, bottom_right, top_right, top_left

    def __post_init__(self) -> None:
        src = np.array([[0.0, 0.0], [self.width_m, 0.0], [self.width_m, self.height_m], [0.0, self.height_m]],
                       np.float32)
        dst = np.array([self.corners_px[k] for k in CORNERS], np.float32)
        to_image = cv2.getPerspectiveTransform(src, dst)
        # Degenerate corner sets (three in a line, crossed edges) give a singular or orientation-flipping map.
        if abs(np.linalg.det(to_image)) < 1e-12 or not _convex(dst):
            raise ValueError("facade.corners_px: the four corners must form a convex quadrilateral "
                             "in the order bottom_left, bottom_right, top_right, top_left")
        object.__setattr__(self, "_to_image", to_image)
        object.__setattr__(self, "_to_facade", np.linalg.inv(to_image))

    @property
    def width_m(self) -> float:
        return self.columns * self.column_width_m

    @property
    def height_m(self) -> float:
        return self.floors * self.floor_height_m

    @classmethod
    def from_dict(cls, d: dict) -> "Facade":
        """`{"camera", "fps"?, "image_size": [w, h], "facade": {...}}`; ValueError names the bad field."""
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        camera = d.get("camera")
        if not isinstance(camera, str) or not camera:
            raise ValueError(f"camera: expected a non-empty string, got {camera!r}")
        fps = None if d.get("fps") is None else _number(d["fps"], "fps")
        size = d.get("image_size")
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise ValueError(f"image_size: expected [width, height], got {size!r}")
        image_size = (_number(size[0], "image_size[0]", integer=True), _number(size[1], "image_size[1]", integer=True))
        f = d.get("facade")
        if not isinstance(f, dict):
            raise ValueError(f"facade: expected an object with floors, floor_height_m, columns, column_width_m, "
                             f"corners_px; got {f!r}")
        fields = {"floors": _number(f.get("floors"), "facade.floors", integer=True),
                  "floor_height_m": _number(f.get("floor_height_m"), "facade.floor_height_m"),
                  "columns": _number(f.get("columns"), "facade.columns", integer=True),
                  "column_width_m": _number(f.get("column_width_m"), "facade.column_width_m")}
        corners = f.get("corners_px")
        if not isinstance(corners, dict):
            raise ValueError(f"facade.corners_px: expected an object with {', '.join(CORNERS)}; got {corners!r}")
        extra = set(corners) - set(CORNERS)
        if extra:
            raise ValueError(f"facade.corners_px.{sorted(extra)[0]}: unknown corner (expected {', '.join(CORNERS)})")
        pts = {}
        for key in CORNERS:
            if key not in corners:
                raise ValueError(f"facade.corners_px.{key}: missing")
            # Corners may lie outside the frame (the ground is often below it), so negatives are allowed.
            pts[key] = _pair(corners[key], f"facade.corners_px.{key}", positive=False)
        return cls(camera=camera, fps=fps, image_size=image_size, corners_px=pts, **fields)

    @classmethod
    def load(cls, path: str | Path) -> "Facade":
        """Read and validate a calibration file; ValueError names the file and the field."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read facade calibration: {exc}") from None
        try:
            return cls.from_dict(raw)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        return {"camera": self.camera, "fps": self.fps, "image_size": list(self.image_size),
                "facade": {"floors": self.floors, "floor_height_m": self.floor_height_m, "columns": self.columns,
                           "column_width_m": self.column_width_m,
                           "corners_px": {k: list(self.corners_px[k]) for k in CORNERS}}}

    def image_to_facade(self, pts_px: np.ndarray) -> np.ndarray:
        """(N,2) pixels -> (N,2) metres: x from the left edge, y height above ground."""
        return _apply(self._to_facade, pts_px)  # type: ignore[attr-defined]

    def facade_to_image(self, pts_m: np.ndarray) -> np.ndarray:
        """(N,2) facade metres -> (N,2) pixels."""
        return _apply(self._to_image, pts_m)  # type: ignore[attr-defined]

    def window_of(self, x_m: float, y_m: float) -> tuple[int, int] | None:
        """(floor, column), 1-based; floor n spans [(n-1)h, nh), column m [(m-1)w, mw); None outside."""
        if not (0.0 <= x_m < self.width_m and 0.0 <= y_m < self.height_m):
            return None
        return int(y_m // self.floor_height_m) + 1, int(x_m // self.column_width_m) + 1

    def window_corners_px(self, floor: int, column: int) -> np.ndarray:
        """The (4,2) image outline of one floor x column cell (for evidence drawings)."""
        x0, y0 = (column - 1) * self.column_width_m, (floor - 1) * self.floor_height_m
        x1, y1 = x0 + self.column_width_m, y0 + self.floor_height_m
        return self.facade_to_image(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64))


def _apply(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    homog = pts @ matrix[:, :2].T + matrix[:, 2]
    return homog[:, :2] / homog[:, 2:3]


def _convex(quad: np.ndarray) -> bool:
    """All turns of the closed polygon have the same sign (and none is zero)."""
    q = quad.astype(np.float64)
    edges = np.roll(q, -1, axis=0) - q
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    return bool(np.all(cross > 0) or np.all(cross < 0))
