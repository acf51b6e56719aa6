"""Synthetic 高空抛物 scenes: a tall facade seen from below, objects dropped or thrown from its windows, distractors.

Why synthetic: real footage of objects falling from residential towers is rare, unlabeled and cannot be shared,
so recall/precision/origin-floor accuracy are measured on scenes whose ground truth is exact. Every scene is a
deterministic function of its seed, so a figure can be reproduced and a failing case re-rendered frame by frame.

Geometry: a pinhole camera stands on the ground in front of the facade, pitched up (and yawed a little); the
facade corners are projected through it, so the calibration's 4-corner homography *is* the camera's mapping of
the facade plane (verticals converge, upper floors compress, the roof is sometimes out of frame). Objects are
simulated in 3-D (they start slightly in front of the facade and may move outward) and projected with the same
camera, so a detector that assumes "object in the facade plane" sees the small parallax a real one would.

Frames are rendered lazily (`Scene.frames()`), a few ms each, so a benchmark can stream thousands of them.
The generator must not import the detector core: it has its own camera and homography.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Iterator

import cv2
import numpy as np

G = 9.81
DEV_SEEDS = range(0, 60)
HELD_OUT_SEEDS = range(1000, 1060)  # never tuned on: only the benchmark's headline figures use them
DEV_DISTRACTOR_SEEDS = range(5000, 5100)       # distractor-only scenes (no throws), for false alarms per hour
HELD_OUT_DISTRACTOR_SEEDS = range(6000, 6100)
DISTRACTORS = ("birds", "leaves", "insects", "rain", "laundry", "lights", "clouds", "exposure", "shake", "night")
_SHUTTER = 0.6  # fraction of the frame interval the shutter is open: sets the motion-blur streak length


@dataclass(frozen=True)
class Throw:
    """One falling object. floor/column are 1-based, as in the calibration (floor 1 is the ground floor)."""
    release_t: float
    end_t: float
    floor: int
    column: int
    size_m: float
    drag: bool
    kind: str  # "drop" | "throw"


@dataclass(frozen=True)
class _Camera:
    """Pinhole camera in facade coordinates: X right along the facade, Y up, Z out of the facade (metres)."""
    pos: tuple[float, float, float]
    right: tuple[float, float, float]
    up: tuple[float, float, float]
    fwd: tuple[float, float, float]
    f: float
    cx: float
    cy: float

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Nx3 metres -> Nx2 pixels (points behind the camera come out far away, not mirrored)."""
        p = np.asarray(pts, np.float64).reshape(-1, 3) - np.asarray(self.pos)
        z = np.maximum(p @ np.asarray(self.fwd), 1e-3)
        u = self.cx + self.f * (p @ np.asarray(self.right)) / z
        v = self.cy - self.f * (p @ np.asarray(self.up)) / z
        return np.stack([u, v], axis=1)

    def project_plane(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return self.project(np.column_stack([xy, np.zeros(len(xy))]))


@dataclass
class _Track:
    """A throw's simulated path, sampled finely; positions in metres (3-D) and pixels."""
    t: np.ndarray
    xyz: np.ndarray
    px: np.ndarray
    radius_px: np.ndarray
    color: tuple[int, int, int]
    contrast: float


@dataclass
class Scene:
    """A rendered-on-demand clip. `calibration` is in the project's calibration format (facade corners etc.)."""
    seed: int
    calibration: dict
    fps: float
    size: tuple[int, int]
    n_frames: int
    night: bool
    throws: list[Throw]
    distractors: list[str]
    _camera: _Camera = field(repr=False, default=None)  # type: ignore[assignment]
    _tracks: list[_Track] = field(repr=False, default_factory=list)
    _facade: dict = field(repr=False, default_factory=dict)

    def frames(self) -> Iterator[np.ndarray]:
        """Yield BGR uint8 frames one at a time (nothing but the static background is held in memory)."""
        yield from _Renderer(self).frames()

    def frame_times(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.fps

    def truth_paths(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(times s, Nx2 image px) of each throw, in the order of `throws`: lets a benchmark check that an event
        is where the object was, not only when."""
        return [(tr.t, tr.px) for tr in self._tracks]


# ----------------------------------------------------------------------------------------------- generation

def generate(seed: int, *, size: tuple[int, int] = (1280, 720), duration_s: float = 12.0, n_throws: int | None = None,
             night: bool | None = None, distractors: list[str] | tuple[str, ...] | None = None,
             fps: float = 25.0) -> Scene:
    """A deterministic scene for `seed`: camera, facade, throws (default 1-3) and a random set of distractors.

    distractors=None draws each distractor with some probability; a list gives exactly those (plus "night" when
    night=True). Throws start only from floors whose windows are in frame, after 1.5 s (background models need
    a moment), and are chosen so that the whole fall fits in the clip.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E0]))
    w, h = size
    floors = int(rng.integers(26, 34))
    floor_h = float(rng.uniform(2.85, 3.25))
    columns = int(rng.integers(4, 11))
    col_w = float(rng.uniform(3.2, 4.4))
    width_m, height_m = columns * col_w, floors * floor_h
    camera, visible = _choose_camera(rng, w, h, width_m, floors, floor_h)
    corners = camera.project_plane(np.array([[0, 0], [width_m, 0], [width_m, height_m], [0, height_m]]))
    calibration = {"camera": f"synthetic-{seed}", "fps": fps, "image_size": [w, h],
                   "facade": {"floors": floors, "floor_height_m": round(floor_h, 4), "columns": columns,
                              "column_width_m": round(col_w, 4),
                              "corners_px": {name: [round(float(x), 2), round(float(y), 2)] for name, (x, y) in
                                             zip(("bottom_left", "bottom_right", "top_right", "top_left"), corners)}}}
    if night is None:
        night = bool(distractors and "night" in distractors) if distractors is not None else bool(rng.random() < 0.25)
    if distractors is None:
        chosen = [d for d in DISTRACTORS if d != "night" and rng.random() < 0.3]
    else:
        unknown = set(distractors) - set(DISTRACTORS)
        if unknown:
            raise ValueError(f"unknown distractors {sorted(unknown)}; known: {DISTRACTORS}")
        chosen = [d for d in DISTRACTORS if d in distractors and d != "night"]
    if night:
        chosen.append("night")
    n_frames = int(round(duration_s * fps))
    if n_throws is None:
        n_throws = int(rng.choice([1, 1, 2, 2, 3]))
    facade = {"floors": floors, "floor_h": floor_h, "columns": columns, "col_w": col_w, "visible": visible}
    throws, tracks = [], []
    for _ in range(n_throws):
        made = _make_throw(rng, camera, facade, w, h, duration_s, night)
        if made is not None:
            throws.append(made[0])
            tracks.append(made[1])
    order = np.argsort([t.release_t for t in throws])
    throws, tracks = [throws[i] for i in order], [tracks[i] for i in order]
    return Scene(seed=seed, calibration=calibration, fps=fps, size=(w, h), n_frames=n_frames, night=night,
                 throws=throws, distractors=chosen, _camera=camera, _tracks=tracks, _facade=facade)


def distractor_scene(seed: int, **kw) -> Scene:
    """No throws, every distractor at once. Night is a lighting condition rather than an object, so unless
    `night` is given it alternates with the seed: half the distractor scenes are night scenes."""
    kw.setdefault("duration_s", 20.0)
    night = kw.pop("night", None)
    if night is None:
        night = seed % 2 == 1
    names = [d for d in DISTRACTORS if d != "night" or night]
    return generate(seed, n_throws=0, night=night, distractors=names, **kw)


def ground_truth(scene: Scene) -> list[dict]:
    """Per throw: release/end time, origin floor/column, and the image trajectory at each frame time."""
    out = []
    times = scene.frame_times()
    for throw, track in zip(scene.throws, scene._tracks):
        sel = times[(times >= throw.release_t) & (times <= throw.end_t)]
        xs = np.interp(sel, track.t, track.px[:, 0])
        ys = np.interp(sel, track.t, track.px[:, 1])
        out.append({"release_t": throw.release_t, "end_t": throw.end_t, "floor": throw.floor, "column": throw.column,
                    "kind": throw.kind, "size_m": throw.size_m, "drag": throw.drag,
                    "trajectory": [(float(t), float(x), float(y)) for t, x, y in zip(sel, xs, ys)]})
    return out


def _choose_camera(rng: np.random.Generator, w: int, h: int, width_m: float, floors: int,
                   floor_h: float) -> tuple[_Camera, list[int]]:
    """A ground camera pitched up so that 15-30 floors are in frame; returns it and the floors fully visible."""
    hfov = math.radians(rng.uniform(60, 95))
    f = (w / 2) / math.tan(hfov / 2)
    vfov = 2 * math.atan((h / 2) / f)
    cam_h = float(rng.uniform(1.2, 6.0))
    want = int(rng.integers(15, 31))
    top_m = min(want, floors) * floor_h + (rng.uniform(2, 8) if want >= floors else 0.0)
    # the frame's bottom edge is near the facade base (a little ground, or the lowest floors cut off) and its
    # top edge sees height top_m: solve for the distance (base_angle depends on it, so iterate)
    slack = math.radians(rng.uniform(-2.0, 6.0))
    dist = 40.0
    for _ in range(6):
        base_angle = math.atan2(-cam_h, dist)
        top_angle = min(base_angle + vfov - slack, math.radians(80))
        dist = float(np.clip((top_m - cam_h) / math.tan(top_angle), 18.0, 120.0))
    base_angle = math.atan2(-cam_h, dist)
    pitch = min(base_angle + vfov / 2 - slack, math.radians(60))
    yaw = math.radians(rng.uniform(-12, 12))
    cam_x = width_m / 2 + rng.uniform(-0.25, 0.25) * width_m
    fwd = np.array([0.0, math.sin(pitch), -math.cos(pitch)])
    up = np.array([0.0, math.cos(pitch), math.sin(pitch)])
    right = np.array([1.0, 0.0, 0.0])
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # about world Y
    fwd, up, right = rot @ fwd, rot @ up, rot @ right
    pos = (cam_x + math.sin(yaw) * 0.0, cam_h, dist)
    camera = _Camera(pos=tuple(pos), right=tuple(right), up=tuple(up), fwd=tuple(fwd), f=f, cx=w / 2, cy=h / 2)
    visible = []
    for floor in range(1, floors + 1):
        y = (floor - 1) * floor_h + 1.2
        pts = camera.project_plane(np.array([[0.0, y], [width_m, y], [0.0, y + floor_h]]))
        if pts[:2, 1].min() > 0.04 * h and pts[:2, 1].max() < 0.97 * h and pts[0, 1] - pts[2, 1] >= 6.0:
            visible.append(floor)
    return camera, visible


_OBJECTS = [  # name, density of the bounding cube (kg/m^3), drag coefficient
    ("bottle", 350.0, 0.8), ("can", 300.0, 0.9), ("fruit", 700.0, 0.5), ("flowerpot", 900.0, 0.8),
    ("shoe", 250.0, 1.0), ("box", 60.0, 1.05), ("bag", 40.0, 1.2), ("phone", 900.0, 1.0), ("brick", 1400.0, 1.0)]


def _make_throw(rng: np.random.Generator, camera: _Camera, facade: dict, w: int, h: int, duration_s: float,
                night: bool) -> tuple[Throw, _Track] | None:
    """Simulate one fall and keep it only if it starts in frame and ends before the clip does."""
    visible = [f for f in facade["visible"] if f >= 2]
    if not visible:
        return None
    floor_h, col_w = facade["floor_h"], facade["col_w"]
    for _ in range(30):
        floor = int(rng.choice(visible))
        column = int(rng.integers(1, facade["columns"] + 1))
        size = float(rng.uniform(0.05, 0.40))
        name, density, cd = _OBJECTS[int(rng.integers(len(_OBJECTS)))]
        drag = bool(rng.random() < 0.6)
        kind = "drop" if rng.random() < 0.5 else "throw"
        x0 = (column - 1 + rng.uniform(0.25, 0.75)) * col_w
        y0 = (floor - 1) * floor_h + rng.uniform(0.8, 1.3)
        # hand just outside the window / over the rail: seen from below, a point z in front of the facade
        # projects z*tan(elevation) higher on it, so z stays small enough that the origin floor is unambiguous
        z0 = rng.uniform(0.1, 0.4)
        if kind == "drop":
            v0 = np.array([rng.normal(0, 0.15), rng.normal(0, 0.15), rng.uniform(0.0, 0.4)])
        else:
            v0 = np.array([rng.uniform(-2.5, 2.5), rng.uniform(-0.5, 2.0), rng.uniform(0.2, 1.2)])
        k = 0.5 * 1.2 * cd / (density * size) if drag else 0.0  # quadratic drag per unit mass: a = -k|v|v
        t, xyz = _simulate(np.array([x0, y0, z0]), v0, k, 1.0 / 400)
        px = camera.project(xyz)
        inside = (px[:, 0] >= -2) & (px[:, 0] < w + 2) & (px[:, 1] >= -2) & (px[:, 1] < h + 2)
        if not inside[0]:
            continue
        stop = int(np.argmin(inside)) if not inside.all() else len(t)
        if stop < 20:
            continue
        t, xyz, px = t[:stop], xyz[:stop], px[:stop]
        fall = float(t[-1])
        latest = duration_s - fall - 0.5
        if latest < 1.5:
            continue
        release = float(np.round(rng.uniform(1.5, latest), 3))
        dist = np.linalg.norm(xyz - np.asarray(camera.pos), axis=1)
        radius = 0.5 * size * camera.f / dist
        color, contrast = _object_color(rng, night)
        track = _Track(t=t + release, xyz=xyz, px=px, radius_px=radius, color=color, contrast=contrast)
        throw = Throw(release_t=release, end_t=round(release + fall, 4), floor=floor, column=column,
                      size_m=round(size, 3), drag=drag, kind=kind)
        return throw, track
    return None


def _simulate(p0: np.ndarray, v0: np.ndarray, k: float, dt: float, t_max: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Semi-implicit Euler with gravity and quadratic drag until the object reaches the ground (Y = 0)."""
    n = int(t_max / dt)
    out = np.empty((n, 3))
    p, v = p0.astype(np.float64).copy(), v0.astype(np.float64).copy()
    gvec = np.array([0.0, -G, 0.0])
    i = 0
    for i in range(n):
        out[i] = p
        if p[1] <= 0.0:
            break
        a = gvec - k * np.linalg.norm(v) * v
        v = v + a * dt
        p = p + v * dt
    out = out[: i + 1]
    return np.arange(len(out)) * dt, out


def _object_color(rng: np.random.Generator, night: bool) -> tuple[tuple[int, int, int], float]:
    palette = [(245, 245, 245), (30, 30, 200), (40, 200, 240), (40, 40, 40), (200, 80, 30), (60, 160, 60),
               (20, 20, 20), (230, 230, 120)]
    color = palette[int(rng.integers(len(palette)))]
    if night:
        color = tuple(int(c * 0.55 + 25) for c in color)
    return color, float(rng.uniform(0.75, 1.0))


# ------------------------------------------------------------------------------------------------ rendering

@functools.lru_cache(maxsize=4)
def _noise_bank(w: int, h: int) -> np.ndarray:
    """Unit gaussian noise fields a little larger than the frame: each frame takes a random window of one of
    them, so sensor noise is fresh-looking per frame without drawing 3 million normals every time."""
    rng = np.random.default_rng(12345)
    return rng.standard_normal((3, h + 32, w + 32, 3)).astype(np.float32)


class _Renderer:
    """Draws a scene frame by frame: static background, then time-varying layers, objects, noise."""

    def __init__(self, scene: Scene) -> None:
        self.s = scene
        self.rng = np.random.default_rng(np.random.SeedSequence([scene.seed, 0xF4A3E]))
        w, h = scene.size
        self.w, self.h = w, h
        fc = scene._facade
        self.width_m, self.height_m = fc["columns"] * fc["col_w"], fc["floors"] * fc["floor_h"]
        self.windows = self._window_quads()
        self.background, self.facade_mask = self._background()
        self.sigma = float(self.rng.uniform(5.0, 8.0) if scene.night else self.rng.uniform(1.5, 3.0))
        self.noise = (_noise_bank(w, h) * self.sigma).astype(np.int16)
        self._plan_distractors()

    # -- static parts
    def _window_quads(self) -> list[np.ndarray]:
        fc, cam = self.s._facade, self.s._camera
        quads = []
        for floor in range(1, fc["floors"] + 1):
            for col in range(1, fc["columns"] + 1):
                x0, x1 = (col - 1 + 0.18) * fc["col_w"], (col - 0.18) * fc["col_w"]
                y0, y1 = (floor - 1) * fc["floor_h"] + 0.9, (floor - 1) * fc["floor_h"] + 2.5
                quads.append(cam.project_plane(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])))
        return quads

    def _background(self) -> tuple[np.ndarray, np.ndarray]:
        s, rng, w, h = self.s, self.rng, self.w, self.h
        fc = s._facade
        ppm = 30.0  # texture pixels per metre
        tw, th = int(self.width_m * ppm), int(self.height_m * ppm)
        night = s.night
        wall = np.array(rng.choice([(180, 195, 210), (200, 205, 205), (150, 170, 190), (120, 140, 175),
                                    (210, 215, 220), (170, 175, 170)]), np.float32)
        tex = np.empty((th, tw, 3), np.float32)
        tex[:] = wall
        low = cv2.resize(rng.normal(0, 8, (max(th // 40, 2), max(tw // 40, 2))).astype(np.float32), (tw, th))
        tex += low[..., None]  # weathering / uneven paint, grey
        glass = np.array(rng.choice([(110, 90, 70), (90, 80, 70), (130, 120, 100), (70, 60, 55)]), np.float32)
        rail = np.array(rng.choice([(230, 230, 230), (60, 60, 60), (200, 210, 215)]), np.float32)
        has_balcony = rng.random() < 0.75
        lit = rng.random((fc["floors"], fc["columns"])) < (0.35 if night else 0.0)
        self.lit = lit
        for floor in range(1, fc["floors"] + 1):
            yb = th - int((floor - 1) * fc["floor_h"] * ppm)  # texture row of this floor's slab (bottom)
            cv2.rectangle(tex, (0, yb - int(0.25 * ppm)), (tw, yb), (wall * 0.8).tolist(), -1)
            for col in range(1, fc["columns"] + 1):
                x0, x1 = int((col - 1 + 0.18) * fc["col_w"] * ppm), int((col - 0.18) * fc["col_w"] * ppm)
                y0, y1 = yb - int(2.5 * ppm), yb - int(0.9 * ppm)
                shade = glass * rng.uniform(0.8, 1.2)
                cv2.rectangle(tex, (x0, y0), (x1, y1), shade.tolist(), -1)
                # reflection gradient and mullion
                grad = np.linspace(1.25, 0.85, y1 - y0, dtype=np.float32)[:, None, None]
                tex[y0:y1, x0:x1] *= grad
                xm = (x0 + x1) // 2
                cv2.line(tex, (xm, y0), (xm, y1), (wall * 0.9).tolist(), 2)
                cv2.rectangle(tex, (x0, y0), (x1, y1), (wall * 0.7).tolist(), 2)
                if rng.random() < 0.3:  # curtain
                    cx1 = x0 + int((x1 - x0) * rng.uniform(0.2, 0.5))
                    cv2.rectangle(tex, (x0 + 2, y0 + 2), (cx1, y1 - 2), rng.uniform(90, 220, 3).tolist(), -1)
                if rng.random() < 0.15:  # AC unit beside the window
                    ax = x1 + int(0.1 * ppm)
                    cv2.rectangle(tex, (ax, yb - int(1.0 * ppm)), (ax + int(0.35 * ppm), yb - int(0.4 * ppm)),
                                  (215, 215, 215), -1)
                if has_balcony:
                    by0 = yb - int(1.05 * ppm)
                    cv2.rectangle(tex, (x0 - 6, by0), (x1 + 6, yb - int(0.25 * ppm)), (wall * 0.92).tolist(), -1)
                    cv2.line(tex, (x0 - 6, by0), (x1 + 6, by0), rail.tolist(), 3)
                    for bx in range(x0 - 6, x1 + 7, 9):
                        cv2.line(tex, (bx, by0), (bx, yb - int(0.3 * ppm)), (rail * 0.9).tolist(), 1)
                    cv2.line(tex, (x0 - 6, yb - int(0.25 * ppm)), (x1 + 6, yb - int(0.25 * ppm)),
                             (wall * 0.55).tolist(), 2)  # slab shadow
        # roof parapet
        cv2.rectangle(tex, (0, 0), (tw, int(0.6 * ppm)), (wall * 0.75).tolist(), -1)
        if night:
            tex *= 0.12
            for floor in range(1, fc["floors"] + 1):
                for col in range(1, fc["columns"] + 1):
                    if lit[floor - 1, col - 1]:
                        yb = th - int((floor - 1) * fc["floor_h"] * ppm)
                        x0, x1 = int((col - 1 + 0.18) * fc["col_w"] * ppm), int((col - 0.18) * fc["col_w"] * ppm)
                        warm = np.array([90, 180, 235], np.float32) * rng.uniform(0.6, 1.0)
                        cv2.rectangle(tex, (x0 + 2, yb - int(2.5 * ppm) + 2), (x1 - 2, yb - int(0.9 * ppm) - 2),
                                      warm.tolist(), -1)
        tex = np.clip(tex, 0, 255).astype(np.uint8)
        # texture pixel (u, v) -> facade metres (u/ppm, (th - v)/ppm) -> image
        src = np.float32([[0, th], [tw, th], [tw, 0], [0, 0]])
        dst = self.s._camera.project_plane(np.array([[0, 0], [self.width_m, 0], [self.width_m, self.height_m],
                                                     [0, self.height_m]])).astype(np.float32)
        hom = cv2.getPerspectiveTransform(src, dst)
        warped = cv2.warpPerspective(tex, hom, (w, h), flags=cv2.INTER_AREA if False else cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.full((th, tw), 255, np.uint8), hom, (w, h)) > 127
        # sky: vertical gradient with soft clouds; ground: dark band below the facade base
        yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        if night:
            top, bottom = np.array([30, 15, 8], np.float32), np.array([60, 45, 35], np.float32)
        else:
            top = np.array(rng.choice([(225, 170, 110), (235, 200, 160), (200, 195, 190)]), np.float32)
            bottom = np.array([245, 235, 225], np.float32)
        sky = top * (1 - yy) + bottom * yy
        sky = np.repeat(sky, w, axis=1)
        if not night:
            clouds = cv2.resize(rng.random((6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
            sky += (np.clip(clouds - 0.5, 0, 1) * 50)[..., None]
        base = self.s._camera.project_plane(np.array([[-200, 0], [self.width_m + 200, 0]]))
        ground = np.zeros((h, w), bool)
        cols = np.arange(w)
        ground_y = np.interp(cols, base[:, 0], base[:, 1])
        ground[np.arange(h)[:, None] > ground_y[None, :]] = True
        img = np.clip(sky, 0, 255).astype(np.uint8)
        img[ground] = (np.array([40, 55, 50]) * (0.4 if night else 1.0)).astype(np.uint8)
        img[mask] = warped[mask]
        return img, mask

    # -- distractor plans (everything decided up front from the renderer's RNG, so frames are deterministic)
    def _plan_distractors(self) -> None:
        s, rng, w, h = self.s, self.rng, self.w, self.h
        n = s.n_frames
        d = set(s.distractors)
        dur = n / s.fps
        self.birds = []
        if "birds" in d:
            for _ in range(int(rng.integers(2, 6))):
                t0 = rng.uniform(0, max(dur - 3, 0.5))
                start = np.array([rng.choice([-20, w + 20]), rng.uniform(0.05, 0.8) * h])
                speed = rng.uniform(120, 450)
                ang = rng.uniform(-0.6, 0.6) + (0 if start[0] < 0 else math.pi)
                if rng.random() < 0.3:  # diving / gliding down
                    ang += (0.5 if start[0] < 0 else -0.5)
                self.birds.append({"t0": t0, "p0": start, "v": speed * np.array([math.cos(ang), math.sin(ang)]),
                                   "size": rng.uniform(5, 16), "flap": rng.uniform(3, 8), "wob": rng.uniform(5, 30),
                                   "wobf": rng.uniform(0.3, 1.5), "phase": rng.uniform(0, 6.28)})
        self.leaves = []
        if "leaves" in d:
            for _ in range(int(rng.integers(3, 8))):
                self.leaves.append({"t0": rng.uniform(0, max(dur - 4, 0.5)),
                                    "p0": np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(-0.05, 0.5) * h]),
                                    "vy": rng.uniform(25, 90), "drift": rng.uniform(-30, 30),
                                    "amp": rng.uniform(10, 40), "freq": rng.uniform(0.4, 1.5),
                                    "size": rng.uniform(3, 8), "color": rng.choice([(30, 110, 60), (20, 90, 140),
                                                                                     (40, 60, 110)]).tolist()})
        self.insects = []
        if "insects" in d:
            for _ in range(int(rng.integers(1, 4))):
                t0 = rng.uniform(0, max(dur - 2, 0.5))
                steps = rng.normal(0, 1, (int(4 * s.fps), 2)) * rng.uniform(15, 40)
                path = np.cumsum(steps, axis=0) + np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
                self.insects.append({"t0": t0, "path": path, "r": rng.uniform(12, 40),
                                     "dark": bool(rng.random() < 0.7), "alpha": rng.uniform(0.25, 0.6)})
        self.rain = "rain" in d
        self.rain_params = {"n": int(rng.integers(150, 500)), "len": rng.uniform(15, 45), "slant": rng.uniform(-0.25, 0.25),
                            "alpha": rng.uniform(0.15, 0.35)}
        self.laundry = []
        if "laundry" in d:
            fc = s._facade
            floors = [f for f in fc["visible"]] or [2]
            for _ in range(int(rng.integers(3, 9))):
                fl, col = int(rng.choice(floors)), int(rng.integers(1, fc["columns"] + 1))
                x = (col - 1 + rng.uniform(0.2, 0.6)) * fc["col_w"]
                y = (fl - 1) * fc["floor_h"] + 1.05
                self.laundry.append({"x": x, "y": y, "w": rng.uniform(0.4, 0.9), "len": rng.uniform(0.5, 1.0),
                                     "amp": rng.uniform(0.08, 0.3), "freq": rng.uniform(0.3, 1.0),
                                     "phase": rng.uniform(0, 6.28),
                                     "color": rng.uniform(40, 250, 3).tolist()})
        self.light_events = []
        if "lights" in d:
            for _ in range(int(rng.integers(3, 10))):
                self.light_events.append((rng.uniform(0.5, dur), int(rng.integers(len(self.windows))),
                                          float(rng.uniform(40, 110))))
        self.clouds = "clouds" in d
        self.cloud = {"x0": rng.uniform(-1.0, 0.0) * w, "v": rng.uniform(25, 80), "sigma": rng.uniform(0.25, 0.5) * w,
                      "depth": rng.uniform(0.2, 0.4)}
        self.exposure = None
        if "exposure" in d:
            self.exposure = {"t": rng.uniform(0.25, 0.75) * dur, "gain": float(rng.choice([0.65, 0.75, 1.3, 1.45])),
                             "recover": rng.uniform(0.5, 2.5)}
        self.shake = None
        if "shake" in d:
            start = int(rng.uniform(0.2, 0.8) * n)
            frames = int(rng.integers(3, 12))
            offs = np.cumsum(rng.normal(0, 4, (frames, 2)), axis=0)
            offs = np.clip(offs, -14, 14)
            offs[-1] *= 0.3
            self.shake = {"start": start, "offs": offs}

    # -- per frame
    def frames(self) -> Iterator[np.ndarray]:
        s = self.s
        lights_on = np.zeros(len(self.windows), bool)
        for i in range(s.n_frames):
            t = i / s.fps
            img = self.background.copy()
            for t_ev, idx, _ in self.light_events:
                if abs(t - t_ev) < 0.5 / s.fps:
                    lights_on[idx] = not lights_on[idx]
            self._draw_lights(img, lights_on)
            self._draw_laundry(img, t)
            if self.clouds:
                img = self._apply_cloud(img, t)
            for track in s._tracks:
                self._draw_object(img, track, t)
            self._draw_birds(img, t)
            self._draw_leaves(img, t)
            if self.rain:
                self._draw_rain(img)
            self._draw_insects(img, t)
            if self.exposure is not None:
                img = self._apply_exposure(img, t)
            if self.shake is not None:
                k = i - self.shake["start"]
                if 0 <= k < len(self.shake["offs"]):
                    dx, dy = self.shake["offs"][k]
                    img = cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), (self.w, self.h),
                                         borderMode=cv2.BORDER_REPLICATE)
            bank = self.noise[int(self.rng.integers(len(self.noise)))]
            oy, ox = int(self.rng.integers(32)), int(self.rng.integers(32))
            yield cv2.add(img, bank[oy:oy + self.h, ox:ox + self.w], dtype=cv2.CV_8U)

    def _draw_lights(self, img: np.ndarray, on: np.ndarray) -> None:
        for idx in np.flatnonzero(on):
            quad = self.windows[idx]
            gain = next(g for _, i, g in self.light_events if i == idx)
            x0, y0 = np.floor(quad.min(axis=0)).astype(int)
            x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.w), min(y1, self.h)
            if x1 <= x0 or y1 <= y0:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillConvexPoly(mask, np.round(quad - [x0, y0]).astype(np.int32), 1)
            roi = img[y0:y1, x0:x1]
            lit = cv2.add(roi, (gain * 0.5, gain * 0.9, gain, 0.0))
            roi[mask > 0] = lit[mask > 0]

    def _draw_laundry(self, img: np.ndarray, t: float) -> None:
        cam = self.s._camera
        for lau in self.laundry:
            sway = lau["amp"] * math.sin(2 * math.pi * lau["freq"] * t + lau["phase"])
            top_y = lau["y"]
            pts = np.array([[lau["x"], top_y], [lau["x"] + lau["w"], top_y],
                            [lau["x"] + lau["w"] + sway, top_y - lau["len"]], [lau["x"] + sway, top_y - lau["len"]]])
            quad = np.round(cam.project_plane(pts)).astype(np.int32)
            cv2.fillConvexPoly(img, quad, lau["color"], lineType=cv2.LINE_AA)

    def _apply_cloud(self, img: np.ndarray, t: float) -> np.ndarray:
        c = self.cloud
        xs = np.arange(0, self.w, 16, dtype=np.float32)
        ys = np.arange(0, self.h, 16, dtype=np.float32)
        cx = c["x0"] + c["v"] * t
        cy = self.h * 0.4 + 0.1 * self.h * math.sin(t * 0.2)
        d2 = (xs[None, :] - cx) ** 2 + ((ys[:, None] - cy) * 0.6) ** 2
        gain = 1.0 - c["depth"] * np.exp(-d2 / (2 * c["sigma"] ** 2))
        gain = cv2.resize(gain.astype(np.float32), (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        return cv2.multiply(img, cv2.merge([gain, gain, gain]), dtype=cv2.CV_8U)

    def _apply_exposure(self, img: np.ndarray, t: float) -> np.ndarray:
        e = self.exposure
        if t < e["t"]:
            return img
        # sudden step, then auto-exposure pulls it back exponentially
        g = 1.0 + (e["gain"] - 1.0) * math.exp(-(t - e["t"]) / e["recover"])
        return cv2.convertScaleAbs(img, alpha=g)

    def _draw_object(self, img: np.ndarray, track: _Track, t: float) -> None:
        """Blob with motion blur: a capsule from the position at shutter-open to shutter-close, its intensity
        spread over the streak (a fast object is a faint line, as in a real exposure)."""
        exposure = _SHUTTER / self.s.fps
        t_open, t_close = max(t - exposure, track.t[0]), min(t, track.t[-1])
        if t_close < track.t[0] or t_open > track.t[-1] or t_close < t_open:
            return
        ts = np.linspace(t_open, t_close, 4)
        xs = np.interp(ts, track.t, track.px[:, 0])
        ys = np.interp(ts, track.t, track.px[:, 1])
        r_true = float(np.interp(t_close, track.t, track.radius_px))
        r = max(r_true, 0.9)  # lens blur: even a sub-pixel object spreads over ~2 px ...
        energy = min(1.0, (r_true / 0.9) ** 2) if r_true < 0.9 else 1.0  # ... with its energy, so it is fainter
        energy = max(energy, 0.35)
        length = math.hypot(xs[-1] - xs[0], ys[-1] - ys[0])
        alpha = track.contrast * energy * min(1.0, (2 * r + 1) / (length + 2 * r + 1) * 1.6)
        pad = int(math.ceil(r)) + 3
        x0, y0 = int(math.floor(xs.min())) - pad, int(math.floor(ys.min())) - pad
        x1, y1 = int(math.ceil(xs.max())) + pad + 1, int(math.ceil(ys.max())) + pad + 1
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, self.w), min(y1, self.h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        scale = 4  # draw at 4x sub-pixel precision, then area-average
        mask = np.zeros(((y1 - y0) * scale, (x1 - x0) * scale), np.uint8)
        pts = np.round(np.column_stack([(xs - x0 + 0.5) * scale, (ys - y0 + 0.5) * scale])).astype(np.int32)
        thick = max(1, int(round(2 * r * scale)))
        for a, b in zip(pts[:-1], pts[1:]):
            cv2.line(mask, tuple(a), tuple(b), 255, thick, cv2.LINE_AA)
        if length < 0.5:
            cv2.circle(mask, tuple(pts[-1]), max(1, int(round(r * scale))), 255, -1, cv2.LINE_AA)
        small = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        a = (small * alpha)[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0, None]
        roi = img[cy0:cy1, cx0:cx1].astype(np.float32)
        img[cy0:cy1, cx0:cx1] = (roi * (1 - a) + np.array(track.color, np.float32) * a).astype(np.uint8)

    def _draw_birds(self, img: np.ndarray, t: float) -> None:
        for b in self.birds:
            dt = t - b["t0"]
            if dt < 0:
                continue
            p = b["p0"] + b["v"] * dt
            p = p + np.array([0.0, b["wob"] * math.sin(2 * math.pi * b["wobf"] * dt + b["phase"])])
            if not (-30 < p[0] < self.w + 30 and -30 < p[1] < self.h + 30):
                continue
            flap = math.sin(2 * math.pi * b["flap"] * dt)
            s = b["size"]
            wing_y = -s * 0.5 * flap
            pts = np.array([[p[0] - s, p[1] + wing_y], [p[0], p[1]], [p[0] + s, p[1] + wing_y]]).round().astype(np.int32)
            color = (25, 25, 30) if not self.s.night else (15, 15, 15)
            cv2.polylines(img, [pts], False, color, max(1, int(s / 6)), cv2.LINE_AA)
            cv2.circle(img, tuple(pts[1]), max(1, int(s / 5)), color, -1, cv2.LINE_AA)

    def _draw_leaves(self, img: np.ndarray, t: float) -> None:
        for lf in self.leaves:
            dt = t - lf["t0"]
            if dt < 0:
                continue
            x = lf["p0"][0] + lf["drift"] * dt + lf["amp"] * math.sin(2 * math.pi * lf["freq"] * dt)
            y = lf["p0"][1] + lf["vy"] * dt + 6 * math.sin(4 * math.pi * lf["freq"] * dt)
            if not (-10 < x < self.w + 10 and -10 < y < self.h + 10):
                continue
            ang = 180 * math.sin(2 * math.pi * lf["freq"] * dt)
            size = lf["size"]
            axes = (max(1, int(size)), max(1, int(size * abs(math.cos(math.radians(ang))) * 0.5 + 1)))
            cv2.ellipse(img, (int(x), int(y)), axes, ang, 0, 360, lf["color"], -1, cv2.LINE_AA)

    def _draw_rain(self, img: np.ndarray) -> None:
        p, rng = self.rain_params, self.rng
        layer = np.zeros_like(img)
        n = p["n"]
        x = rng.uniform(0, self.w, n)
        y = rng.uniform(-p["len"], self.h, n)
        ln = p["len"] * rng.uniform(0.6, 1.2, n)
        pts = np.stack([x, y, x + p["slant"] * ln, y + ln], axis=1).round().astype(np.int32)
        for x0, y0, x1, y1 in pts:
            cv2.line(layer, (x0, y0), (x1, y1), (200, 200, 200), 1)
        cv2.addWeighted(img, 1.0, layer, p["alpha"], 0, dst=img)

    def _draw_insects(self, img: np.ndarray, t: float) -> None:
        for ins in self.insects:
            k = int((t - ins["t0"]) * self.s.fps)
            if k < 0 or k >= len(ins["path"]):
                continue
            x, y = ins["path"][k]
            r = ins["r"]
            x0, y0 = int(x - 2 * r), int(y - 2 * r)
            size = int(4 * r)
            cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + size, self.w), min(y0 + size, self.h)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            blob = np.zeros((size, size), np.float32)
            cv2.circle(blob, (size // 2, size // 2), int(r * 0.6), 1.0, -1)
            blob = cv2.GaussianBlur(blob, (0, 0), r * 0.35)
            a = (blob * ins["alpha"])[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0, None]
            roi = img[cy0:cy1, cx0:cx1].astype(np.float32)
            target = 20.0 if ins["dark"] else 235.0
            img[cy0:cy1, cx0:cx1] = (roi * (1 - a) + target * a).astype(np.uint8)
