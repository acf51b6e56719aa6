"""Camera frames on Kafka: JPEG bytes as the value, metadata in headers, keyed by camera.

Why headers: the worker can route, count and reject a frame without touching the JPEG,
and the payload stays the exact bytes a camera or NVR produced.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import ValidationError

from pipeline.config import CameraConfig, Site
from pipeline.deadletters import BadMessage
from pipeline.messages import FrameHeaders


@dataclass(frozen=True)
class DecodedFrame:
    headers: FrameHeaders
    camera: CameraConfig
    image: np.ndarray  # BGR, height x width x 3, uint8
    nbytes: int


def to_kafka_headers(meta: FrameHeaders) -> list[tuple[str, bytes]]:
    return [(name, str(value).encode()) for name, value in meta.model_dump().items()]


def parse_headers(raw: Iterable[tuple[str, bytes]] | dict | None) -> FrameHeaders:
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    try:
        fields = {str(k): (v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else v) for k, v in items}
    except UnicodeDecodeError as exc:
        raise BadMessage("bad_headers", f"header is not UTF-8: {exc}") from None
    if isinstance(fields.get("v"), str) and fields["v"].isdigit():
        fields["v"] = int(fields["v"])  # header values are text; the version is a number in the schema
    try:
        return FrameHeaders.model_validate(fields, strict=False)
    except ValidationError as exc:
        raise BadMessage("bad_headers", _first_errors(exc)) from None


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors()[:limit])


def decode_jpeg(data: bytes) -> np.ndarray:
    if not data:
        raise BadMessage("undecodable_image", "empty payload")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadMessage("undecodable_image", f"{len(data)} bytes are not a decodable JPEG")
    return image


def intake_frame(site: Site, key: bytes | None, raw_headers, value: bytes) -> DecodedFrame:
    """Validate and decode one frame message; raise BadMessage for anything a dead letter should hold."""
    meta = parse_headers(raw_headers)
    if key is not None and key.decode("utf-8", "replace") != meta.camera:
        raise BadMessage("bad_headers", f"key {key!r} differs from camera header {meta.camera!r}")
    camera = site.camera(meta.camera)
    if camera is None:
        raise BadMessage("unknown_device", f"camera {meta.camera!r} is not in site {site.site.id!r}")
    image = decode_jpeg(value)
    height, width = image.shape[:2]
    if (width, height) != (meta.width, meta.height):
        raise BadMessage("bad_headers", f"headers say {meta.width}x{meta.height}, the JPEG is {width}x{height}")
    return DecodedFrame(meta, camera, image, len(value))
