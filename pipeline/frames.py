"""Camera frames on Kafka: JPEG bytes as the value, metadata in headers, keyed by camera.

Why headers: the worker can route, count and reject a frame without touching the JPEG,
and the payload stays the exact bytes a camera or NVR produced.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import ValidationError

from pipeline.config import CameraConfig, Site
from pipeline.deadletters import BadMessage
from pipeline.messages import MAX_CLOCK_AHEAD_S, FrameHeaders


# How much of the JPEG to decode. A camera whose role has no vision core only needs proof that
# the JPEG is whole: libjpeg's 1/8 scale still entropy-decodes every block (so truncation and
# corruption are caught) but skips the IDCT, about 3x cheaper than a full colour decode at 720p.
MAX_PIXELS_PER_BYTE = 1000  # a uniform grey 4:2:0 JPEG needs ~1 byte per 85 pixels; far beyond that is a bomb
FULL_COLOR = cv2.IMREAD_COLOR
FULL_GRAY = cv2.IMREAD_GRAYSCALE
HALF_COLOR = cv2.IMREAD_REDUCED_COLOR_2
VALIDATE_ONLY = cv2.IMREAD_REDUCED_GRAYSCALE_8
SCALE = {FULL_COLOR: 1, FULL_GRAY: 1, HALF_COLOR: 2, cv2.IMREAD_REDUCED_GRAYSCALE_2: 2,
         cv2.IMREAD_REDUCED_COLOR_4: 4, cv2.IMREAD_REDUCED_GRAYSCALE_4: 4, VALIDATE_ONLY: 8,
         cv2.IMREAD_REDUCED_COLOR_8: 8}


@dataclass(frozen=True)
class DecodedFrame:
    headers: FrameHeaders
    camera: CameraConfig
    image: np.ndarray  # as decoded with `mode`: BGR or gray, full size or reduced by `scale`
    nbytes: int
    scale: int = 1


def to_kafka_headers(meta: FrameHeaders) -> list[tuple[str, bytes]]:
    return [(name, str(value).encode()) for name, value in meta.model_dump().items()]


def parse_headers(raw: Iterable[tuple[str, bytes]] | dict | None) -> FrameHeaders:
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    try:
        fields = {str(k): (v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else v) for k, v in items}
    except UnicodeDecodeError as exc:
        raise BadMessage("bad_headers", f"header is not UTF-8: {exc}") from None
    version = fields.get("v")
    if isinstance(version, str) and version.isascii() and version.isdigit() and len(version) <= 4:
        fields["v"] = int(version)  # header values are text; the version is a number in the schema
    try:
        return FrameHeaders.model_validate(fields, strict=False)
    except ValidationError as exc:
        raise BadMessage("bad_headers", _first_errors(exc)) from None


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors()[:limit])


SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame; not DHT, JPG, DAC


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the JPEG's frame header, read without decoding; None if there is none.

    Walks the marker segments up to the first SOF: a few dozen bytes, so the size claimed by the data can be
    checked against the headers (and against the byte count) before any pixel is decoded.
    """
    if len(data) < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        if length < 2:
            return None
        i += 2 + length
    return None


def decode_jpeg(data: bytes, mode: int = FULL_COLOR) -> np.ndarray:
    if not data:
        raise BadMessage("undecodable_image", "empty payload")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), mode)
    if image is None:
        raise BadMessage("undecodable_image", f"{len(data)} bytes are not a decodable JPEG")
    return image


def intake_frame(site: Site, key: bytes | None, raw_headers, value: bytes,
                 mode_for: Callable[[CameraConfig], int] = lambda _camera: FULL_COLOR,
                 now: float | None = None) -> DecodedFrame:
    """Validate and decode one frame message; raise BadMessage for anything a dead letter should hold.

    `mode_for(camera)` says how much to decode (what the camera's vision core needs). A frame whose size in
    bytes cannot hold its claimed pixels, or whose capture time is ahead of our clock, is refused before any
    decoding: the first is a decompression bomb, the second would stall the camera's timers.
    """
    meta = parse_headers(raw_headers)
    if key is not None and key.decode("utf-8", "replace") != meta.camera:
        raise BadMessage("bad_headers", f"key {key!r} differs from camera header {meta.camera!r}")
    camera = site.camera(meta.camera)
    if camera is None:
        raise BadMessage("unknown_device", f"camera {meta.camera!r} is not in site {site.site.id!r}")
    declared = jpeg_size(value)
    if declared is None:
        raise BadMessage("undecodable_image", f"{len(value)} bytes are not a JPEG (no frame header)")
    if declared != (meta.width, meta.height):
        raise BadMessage("bad_headers", f"headers say {meta.width}x{meta.height}, the JPEG is "
                                        f"{declared[0]}x{declared[1]}")
    if len(value) * MAX_PIXELS_PER_BYTE < meta.width * meta.height:
        raise BadMessage("undecodable_image", f"{len(value)} bytes cannot hold a {meta.width}x{meta.height} JPEG "
                                              "(refused before decoding: a decompression bomb costs seconds and GB)")
    if meta.ts > (time.time() if now is None else now) + MAX_CLOCK_AHEAD_S:
        raise BadMessage("bad_timestamp", f"capture time {meta.ts:.3f} is more than {MAX_CLOCK_AHEAD_S:.0f} s ahead "
                                          "of this worker's clock: fix the camera's clock (NTP)")
    mode = mode_for(camera)
    scale = SCALE.get(mode, 1)
    image = decode_jpeg(value, mode)
    height, width = image.shape[:2]
    if (width, height) != (-(-meta.width // scale), -(-meta.height // scale)):
        shown = f"{width}x{height}" if scale == 1 else f"{width}x{height} at 1/{scale} scale"
        raise BadMessage("bad_headers", f"headers say {meta.width}x{meta.height}, the JPEG is {shown}")
    return DecodedFrame(meta, camera, image, len(value), scale)
