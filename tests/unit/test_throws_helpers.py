"""Helpers (no tests here) for the thrown-object tests: small synthetic facade scenes: a textured wall, sensor noise, a dark disc
moved in facade metres and drawn through the calibration (so pixels shrink with height as on a real camera)."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import cv2
import numpy as np

from pipeline.vision.throws.calibration import Facade

FPS = 25.0
# 10 floors x 4 columns of 3 m x 4 m on a 640x480 camera; the ground is just below the frame.
FACADE = Facade.from_dict({
    "camera": "synthetic", "fps": FPS, "image_size": [640, 480],
    "facade": {"floors": 10, "floor_height_m": 3.0, "columns": 4, "column_width_m": 4.0,
               "corners_px": {"bottom_left": [100, 520], "bottom_right": [540, 520],
                              "top_right": [420, 40], "top_left": [220, 40]}}})

Mover = Callable[[float], tuple[float, float] | None]  # t -> facade metres (x, y), None = not in view


def background(seed: int = 1) -> np.ndarray:
    """Wall texture plus a dark window in every floor x column cell: strong edges, so that a shift or a light
    change really does change many pixels."""
    rng = np.random.default_rng(seed)
    img = 150 + cv2.GaussianBlur(rng.normal(0, 60, (480, 640)).astype(np.float32), (0, 0), 1.2)
    for floor in range(1, FACADE.floors + 1):
        for col in range(1, FACADE.columns + 1):
            x0, y0 = (col - 1) * FACADE.column_width_m, (floor - 1) * FACADE.floor_height_m
            win = np.array([[x0 + 1.0, y0 + 0.9], [x0 + 3.0, y0 + 0.9], [x0 + 3.0, y0 + 2.4], [x0 + 1.0, y0 + 2.4]])
            cv2.fillConvexPoly(img, np.round(FACADE.facade_to_image(win)).astype(np.int32), 95.0, cv2.LINE_AA)
    return np.clip(img, 0, 255)


def frames(n: int, mover: Mover | None = None, seed: int = 1, noise: float = 3.0, radius_m: float = 0.25,
           edit: Callable[[int, np.ndarray], np.ndarray] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(t, BGR uint8 frame) for n frames at FPS."""
    base = background(seed)
    rng = np.random.default_rng(seed + 100)
    for i in range(n):
        t = i / FPS
        img = base + rng.normal(0, noise, base.shape).astype(np.float32)
        pos = mover(t) if mover else None
        if pos is not None:
            centre = FACADE.facade_to_image(np.array([pos]))[0]
            edge = FACADE.facade_to_image(np.array([[pos[0] + radius_m, pos[1]]]))[0]
            r = max(2, int(round(np.hypot(*(edge - centre)))))
            cv2.circle(img, (int(round(centre[0])), int(round(centre[1]))), r, 40.0, -1, cv2.LINE_AA)
        img = np.clip(img, 0, 255).astype(np.uint8)
        if edit is not None:
            img = edit(i, img)
        yield t, cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)


def drop(x0: float, y0: float, t0: float, vy0: float = 0.0, vx: float = 0.0, g: float = 9.81) -> Mover:
    """Released at t0 from (x0, y0) metres; gone once it reaches the ground."""
    def at(t: float) -> tuple[float, float] | None:
        if t < t0:
            return None
        tau = t - t0
        y = y0 + vy0 * tau - 0.5 * g * tau * tau
        return (x0 + vx * tau, y) if y > 0 else None
    return at


def linear(x0: float, y0: float, t0: float, vx: float, vy: float, duration: float) -> Mover:
    def at(t: float) -> tuple[float, float] | None:
        if not t0 <= t <= t0 + duration:
            return None
        return x0 + vx * (t - t0), y0 + vy * (t - t0)
    return at


def run(core, scene: Iterator[tuple[float, np.ndarray]]) -> list:
    events, t = [], 0.0
    for t, frame in scene:
        events += [(t, e) for e in core.process(frame, t)]
    return events + [(t, e) for e in core.flush(t)]
