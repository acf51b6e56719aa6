"""Where vision cores plug into the frames agent: one processor per camera, chosen by the camera's role.

A processor is a plain object (no Kafka inside): `process(frame)` returns what it found, the
agent publishes it. The worker passes the factories by role (`pipeline.vision.builtin`); a
camera whose role has no processor is still validated (a cheap 1/8-scale decode) and watched
for liveness.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pipeline.config import CameraConfig, Site
from pipeline.frames import VALIDATE_ONLY, DecodedFrame
from pipeline.messages import Alert, BroadcastCommand, VisionEvent

Output = VisionEvent | Alert | BroadcastCommand


class FrameProcessor(Protocol):
    decode_mode: int  # a pipeline.frames mode: what part of the JPEG this core needs decoded

    def process(self, frame: DecodedFrame) -> list[Output]: ...


ProcessorFactory = Callable[[Site, CameraConfig], FrameProcessor | None]


class Processors:
    """Per-camera processors, created on the camera's first frame (state such as a background model)."""

    def __init__(self, site: Site, registry: dict[str, ProcessorFactory] | None = None):
        self.site = site
        self.registry = registry or {}
        self._by_camera: dict[str, FrameProcessor | None] = {}

    def for_camera(self, camera: CameraConfig) -> FrameProcessor | None:
        if camera.id not in self._by_camera:
            factory = self.registry.get(camera.role)
            self._by_camera[camera.id] = factory(self.site, camera) if factory else None
        return self._by_camera[camera.id]

    def decode_mode(self, camera: CameraConfig) -> int:
        processor = self.for_camera(camera)
        return VALIDATE_ONLY if processor is None else processor.decode_mode
