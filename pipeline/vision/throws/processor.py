"""The thrown-object core as a frame processor for the worker (cameras with role `facade`).

What a fall becomes: a `VisionEvent` (the evidence of what the core saw), a high-severity
`thrown_object` alert naming floor and column, with the trajectory and facade grid for the control
room's drawing and the evidence clip and image, and a warning on every loudspeaker of the camera's
building. Ids come from camera and release time, so a frame replayed after a restart gives the same
alert and the same commands.
"""
from __future__ import annotations

import logging
from pathlib import Path

from pipeline.alerts.record import alert_id
from pipeline.config import CameraConfig, Site
from pipeline.frames import FULL_COLOR, HALF_COLOR, DecodedFrame
from pipeline.messages import (Alert, BroadcastCommand, BroadcastPriority, EvidenceRef, Severity, VisionEvent)
from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.core import ThrowCore, ThrowEvent
from pipeline.vision.throws.evidence import DirectoryEvidence

log = logging.getLogger(__name__)
ALERT_TYPE = "thrown_object"
TEXT_ZH = "请勿高空抛物！高空抛物危及他人生命安全，您的行为已被记录。"
TEXT_EN = "Do not throw objects from height. It endangers lives, and this has been recorded."


HALF_SIZE_FROM = 1280  # from this width the core gets a half-size decode: it works at ~640 px wide anyway


class ThrowsProcessor:
    """Decodes only as much as the core needs: a 1280x720 or larger camera is decoded at half size by libjpeg's
    DCT scaling (about three times cheaper than a full decode), the core runs on a facade calibration scaled to
    match, and the trajectory is scaled back to the camera's pixels for the alert. Evidence clips are written
    by a background thread, so a clip never stalls the camera's frames."""

    def __init__(self, site: Site, camera: CameraConfig, facade: Facade, evidence_root: Path | None):
        self.site = site
        self.camera = camera
        self.facade = facade
        self.scale = 2 if facade.image_size[0] >= HALF_SIZE_FROM else 1
        self.decode_mode = HALF_COLOR if self.scale == 2 else FULL_COLOR
        self.evidence = (DirectoryEvidence(evidence_root, scale=1.0 if self.scale == 2 else 0.5, background=True)
                         if evidence_root is not None else None)
        self.core = ThrowCore(scaled(facade, self.scale), facade.fps or camera.fps, evidence=self.evidence)

    def process(self, frame: DecodedFrame) -> list:
        if frame.scale != self.scale:
            raise ValueError(f"camera {self.camera.id}: frame decoded at 1/{frame.scale}, the core expects "
                             f"1/{self.scale}")
        outputs: list = []
        for event in self.core.process(frame.image, frame.headers.ts):
            outputs += self.outputs(event, frame.headers.ts)
        return outputs

    def outputs(self, event: ThrowEvent, now: float) -> list:
        alert = self.alert(event, now)
        vision = VisionEvent(id=alert_id("vision", alert.id), type=ALERT_TYPE, camera=self.camera.id, ts=now,
                             t_start=event.t_start, t_end=event.t_end, confidence=event.confidence,
                             details=alert.details, evidence=alert.evidence)
        return [vision, alert, *self.broadcasts(alert)]

    def alert(self, event: ThrowEvent, now: float) -> Alert:
        floor, column = event.origin_floor, event.origin_column
        return Alert(
            id=alert_id(ALERT_TYPE, self.camera.id, f"{event.release_t:.2f}"), type=ALERT_TYPE,
            severity=Severity.high, site=self.site.site.id, device=self.camera.id,
            location=f"{self.camera.location or self.camera.building or self.camera.id}, floor {floor}, column {column}",
            started_at=event.release_t, updated_at=now, title=f"object thrown from floor {floor}, column {column}",
            details={"floor": floor, "column": column, "floors": self.facade.floors, "columns": self.facade.columns,
                     "building": self.camera.building, "release_t": event.release_t, "t_end": event.t_end,
                     "confidence": round(event.confidence, 3), "origin_m": list(event.origin_m),
                     "trajectory": [[round(t, 3), round(x * self.scale, 1), round(y * self.scale, 1)]
                                    for t, x, y in event.trajectory],
                     "image_size": list(self.facade.image_size), "fit": event.fit},
            evidence=self.evidence_refs(event))

    def evidence_refs(self, event: ThrowEvent) -> list[EvidenceRef]:
        """Paths relative to the evidence directory, which the control-room API serves."""
        found = event.evidence or {}
        refs = []
        if found.get("image"):
            refs.append(EvidenceRef(kind="image", uri=found["image"], content_type="image/jpeg"))
        if found.get("clip"):
            refs.append(EvidenceRef(kind="clip", uri=found["clip"], content_type="video/x-msvideo"))
        return refs

    def broadcasts(self, alert: Alert) -> list[BroadcastCommand]:
        return [BroadcastCommand(id=alert_id("broadcast", alert.id, speaker), speaker=speaker, zone=zone,
                                 priority=BroadcastPriority.thrown_object, text_zh=TEXT_ZH, text_en=TEXT_EN,
                                 issued_at=alert.updated_at, alert_id=alert.id)
                for speaker, zone in self.site.building_speakers(self.camera.building)]


def scaled(facade: Facade, scale: int) -> Facade:
    """The same facade seen in frames `scale` times smaller."""
    if scale == 1:
        return facade
    doc = facade.to_dict()
    doc["image_size"] = [-(-size // scale) for size in facade.image_size]
    doc["facade"]["corners_px"] = {k: [x / scale, y / scale] for k, (x, y) in doc["facade"]["corners_px"].items()}
    return Facade.from_dict(doc)


def throws_factory(site: Site, camera: CameraConfig, evidence_root: Path | None) -> ThrowsProcessor | None:
    if not camera.calibration:
        log.error("camera %s has role facade but no `calibration` (facade JSON) in the site file: "
                  "thrown-object detection is off for it", camera.id)
        return None
    try:
        facade = Facade.load(site.resolve(camera.calibration))
    except (OSError, ValueError) as exc:
        log.error("camera %s: thrown-object detection is off: %s", camera.id, exc)
        return None
    return ThrowsProcessor(site, camera, facade, evidence_root)
