"""`sca ingest camera`: frames from a video file or an RTSP stream, as JPEG, keyed by camera.

A file is replayed at its own frame rate (or `speed` times faster, 0 = as fast as the
broker takes it) with capture times spaced by the frame interval; a live stream is sent as
it arrives with wall-clock capture times. A frame that would exceed the topic's message
limit is re-encoded at lower quality, then scaled down: never sent over the limit.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from tqdm import tqdm

from pipeline.contracts import topic
from pipeline.frames import to_kafka_headers
from pipeline.ingest.producer import DeliveryCount, IngestError, make_producer
from pipeline.messages import FrameHeaders
from pipeline.settings import Settings

HEADER_ALLOWANCE = 4096


@dataclass
class CameraIngestResult:
    frames: int
    bytes: int
    acked: int
    failed: int
    seconds: float


def is_live(source: str) -> bool:
    return source.startswith(("rtsp://", "rtsps://", "http://", "https://"))


def open_video(source: str) -> tuple[cv2.VideoCapture, float, int]:
    """Open the source and prove it yields a frame before anything is sent."""
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise IngestError(f"cannot open video source {source!r}: not a readable video file or stream")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return capture, fps, count


def read_frames(capture: cv2.VideoCapture, source: str) -> Iterator[np.ndarray]:
    ok, image = capture.read()
    if not ok or image is None:
        raise IngestError(f"{source!r} opened but no frame could be decoded from it")
    while ok and image is not None:
        yield image
        ok, image = capture.read()


def encode_jpeg(image: np.ndarray, quality: int, max_bytes: int) -> tuple[bytes, int, int]:
    """JPEG no larger than `max_bytes` and its width and height: lower the quality first, then the resolution."""
    while True:
        for q in range(quality, 34, -15):
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and buf.nbytes <= max_bytes:
                return buf.tobytes(), image.shape[1], image.shape[0]
        height, width = image.shape[:2]
        if min(height, width) < 32:
            raise IngestError(f"cannot encode a frame under {max_bytes} bytes")
        image = cv2.resize(image, (int(width * 0.75), int(height * 0.75)), interpolation=cv2.INTER_AREA)


def ingest_camera(settings: Settings, camera: str, source: str, *, speed: float = 1.0, fps: float | None = None,
                  limit: int | None = None, start_seq: int = 0, quality: int = 85, loop: bool = False,
                  show_progress: bool = True, producer=None) -> CameraIngestResult:
    spec = topic("frames")
    max_bytes = int(spec.config.get("max.message.bytes", 1_000_000)) - HEADER_ALLOWANCE
    capture, file_fps, count = open_video(source)
    live = is_live(source)
    rate = fps or file_fps or 25.0
    frames = read_frames(capture, source)
    first = next(frames)  # raises before anything is sent if the source yields nothing
    own_producer = producer is None
    producer = producer or make_producer(settings)
    delivery = DeliveryCount()
    total = min(count, limit) if (count and limit) else (limit or count or None)
    bar = tqdm(total=None if loop else total, unit="frame", desc=f"camera {camera}", disable=not show_progress,
               dynamic_ncols=True)
    t0_capture, t0_wall = time.time(), time.monotonic()
    sent = nbytes = 0
    try:
        image = first
        while image is not None:
            if limit is not None and sent >= limit:
                break
            if live:
                ts = time.time()
            else:
                ts = t0_capture + sent / rate
                if speed > 0:
                    delay = t0_wall + sent / (rate * speed) - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            data, w, h = encode_jpeg(image, quality, max_bytes)
            meta = FrameHeaders(camera=camera, ts=ts, seq=start_seq + sent, width=w, height=h)
            delivery.track(producer.send(spec.name, key=camera.encode(), value=data, headers=to_kafka_headers(meta)))
            sent += 1
            nbytes += len(data)
            bar.update(1)
            if sent % 25 == 0:
                bar.set_postfix_str(f"{nbytes / 1e6 / max(time.monotonic() - t0_wall, 1e-6):.1f} MB/s")
            image = next(frames, None)
            if image is None and loop:
                capture.release()
                capture, _, _ = open_video(source)
                frames = read_frames(capture, source)
                image = next(frames, None)
        producer.flush()
    finally:
        bar.close()
        capture.release()
        if own_producer:
            producer.close()
    if delivery.failed:
        raise IngestError(f"{delivery.failed} of {sent} frames were not acknowledged: {delivery.errors}")
    return CameraIngestResult(sent, nbytes, delivery.acked, delivery.failed, time.monotonic() - t0_wall)
