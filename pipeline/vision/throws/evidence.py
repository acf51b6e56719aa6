"""Evidence for thrown-object events: a per-camera ring of recent frames, a clip and an annotated image.

Frames are kept as JPEG bytes at half size (~25 KB instead of 2.7 MB a 720p frame) for
pre_s + max_event_s + post_s, enough for a clip from `pre_s` before the release to `post_s` after the last
sighting. The image is written when the event is recorded; the clip once the post-roll has been seen
(`add_frame` checks), or with what there is at `close` (end of stream), so `process()` never waits.
Encoding costs ~1-2 ms a frame: evidence is optional (ThrowCore(evidence=None)) and the fps figures of the
core are without it.
"""
from __future__ import annotations

import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from pipeline.vision.throws.calibration import Facade

if TYPE_CHECKING:
    from pipeline.vision.throws.core import ThrowEvent

CLIP_TYPE = "video/x-msvideo"
IMAGE_TYPE = "image/jpeg"


class EvidenceSink(Protocol):
    """What ThrowCore calls: once at construction, every frame, every event (returns the event's `evidence`
    dict), and at the end of the stream."""

    def start(self, camera: str, fps: float) -> None: ...

    def add_frame(self, frame: np.ndarray, t: float) -> None: ...

    def record(self, event: "ThrowEvent", facade: Facade) -> dict: ...

    def close(self, t: float | None = None) -> None: ...


class FrameRing:
    """Recent frames of one camera as (t, JPEG bytes), scaled by `scale`."""

    def __init__(self, seconds: float, fps: float, scale: float = 0.5, quality: int = 80) -> None:
        self.frames: deque[tuple[float, bytes]] = deque(maxlen=max(2, int(seconds * fps) + 2))
        self.scale = scale
        self._params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]

    def add(self, frame: np.ndarray, t: float) -> None:
        small = frame if self.scale == 1 else cv2.resize(frame, None, fx=self.scale, fy=self.scale,
                                                         interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", small, self._params)
        if ok:
            self.frames.append((t, buf.tobytes()))

    def between(self, t0: float, t1: float) -> list[tuple[float, np.ndarray]]:
        return [(t, _decode(b)) for t, b in self.frames if t0 - 1e-6 <= t <= t1 + 1e-6]

    def nearest(self, t: float) -> tuple[float, np.ndarray] | None:
        if not self.frames:
            return None
        ts, b = min(self.frames, key=lambda tb: abs(tb[0] - t))
        return ts, _decode(b)


def _decode(buf: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)


@dataclass
class _PendingClip:
    path: Path
    t0: float
    t1: float


class DirectoryEvidence:
    """Writes <root>/<camera>/<name>.avi (MJPEG) and .jpg per event; paths in the event are relative to root."""

    def __init__(self, root: str | Path, pre_s: float = 5.0, post_s: float = 3.0, max_event_s: float = 10.0,
                 scale: float = 0.5, quality: int = 80, background: bool = False) -> None:
        """`background`: write clips in a thread (the worker: a clip costs ~1 s of CPU and must not stall the
        camera's frames); off for offline runs and tests, where a clip is on disk when process() returns."""
        self.root = Path(root)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence") if background else None
        self._futures: list = []
        self.pre_s, self.post_s, self.max_event_s = pre_s, post_s, max_event_s
        self.scale, self.quality = scale, quality
        self.fps = 25.0
        self.camera = "camera"
        self.ring = FrameRing(pre_s + max_event_s + post_s + 1.0, self.fps, scale, quality)
        self.pending: list[_PendingClip] = []
        self.written: list[Path] = []
        self._count = 0

    def start(self, camera: str, fps: float) -> None:
        """Called by ThrowCore: the ring is sized for the camera's frame rate."""
        self.camera, self.fps = _safe(camera), float(fps)
        self.ring = FrameRing(self.pre_s + self.max_event_s + self.post_s + 1.0, self.fps, self.scale, self.quality)

    def add_frame(self, frame: np.ndarray, t: float) -> None:
        self.ring.add(frame, t)
        ready = [p for p in self.pending if t >= p.t1]
        for clip in ready:
            self._schedule(clip)
            self.pending.remove(clip)

    def record(self, event: "ThrowEvent", facade: Facade) -> dict:
        self._count += 1
        name = f"{self.camera}-throw-{event.release_t:09.3f}s-f{event.origin_floor}c{event.origin_column}-{self._count}"
        rel_dir = Path(self.camera)
        (self.root / rel_dir).mkdir(parents=True, exist_ok=True)
        image_rel, clip_rel = rel_dir / f"{name}.jpg", rel_dir / f"{name}.avi"
        self._write_image(self.root / image_rel, event, facade)
        t0, t1 = event.release_t - self.pre_s, event.t_end + self.post_s
        self.pending.append(_PendingClip(self.root / clip_rel, t0, t1))
        return {"clip": clip_rel.as_posix(), "image": image_rel.as_posix(),
                "content_types": {"clip": CLIP_TYPE, "image": IMAGE_TYPE},
                "clip_from": round(t0, 3), "clip_to": round(t1, 3)}

    def close(self, t: float | None = None) -> None:
        """End of stream: write the clips still waiting for their post-roll with the frames there are."""
        for clip in self.pending:
            self._schedule(clip)
        self.pending.clear()
        for future in self._futures:
            future.result()
        self._futures.clear()

    def _schedule(self, clip: _PendingClip) -> None:
        """The clip's frames are taken now (the ring moves on); decoding and writing happen in the writer thread."""
        frames = [(t, b) for t, b in self.ring.frames if clip.t0 - 1e-6 <= t <= clip.t1 + 1e-6]
        if self._writer is None:
            self._write_clip(clip, frames)
            return
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(self._writer.submit(self._write_clip, clip, frames))

    def _write_clip(self, clip: _PendingClip, frames: list[tuple[float, bytes]]) -> None:
        if not frames:
            return
        first = _decode(frames[0][1])
        h, w = first.shape[:2]
        writer = cv2.VideoWriter(str(clip.path), cv2.VideoWriter_fourcc(*"MJPG"), self.fps, (w, h))
        try:
            for _, jpeg in frames:
                writer.write(_decode(jpeg))
        finally:
            writer.release()
        self.written.append(clip.path)

    def _write_image(self, path: Path, event: "ThrowEvent", facade: Facade) -> None:
        """The frame at the middle of the trajectory, the trajectory drawn and the origin window outlined."""
        found = self.ring.nearest((event.t_start + event.t_end) / 2)
        if found is None:
            return
        img = found[1].copy()
        s = self.scale
        pts = np.array([[x * s, y * s] for _, x, y in event.trajectory], np.float64)
        cv2.polylines(img, [np.round(pts).astype(np.int32)], False, (0, 0, 255), 2, cv2.LINE_AA)
        window = facade.window_corners_px(event.origin_floor, event.origin_column) * s
        cv2.polylines(img, [np.round(window).astype(np.int32)], True, (0, 255, 255), 2, cv2.LINE_AA)
        rx, ry = facade.facade_to_image(np.array([event.origin_m]))[0] * s
        cv2.drawMarker(img, (int(round(rx)), int(round(ry))), (0, 255, 0), cv2.MARKER_CROSS, 14, 2)
        label = f"floor {event.origin_floor} col {event.origin_column}  conf {event.confidence:.2f}"
        cv2.putText(img, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(img, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "camera"
