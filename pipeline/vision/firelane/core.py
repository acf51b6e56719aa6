"""The fire-lane core of one camera: frames (BGR numpy + timestamp) in, alerts and voice commands out.

gate (did the zones change?) -> detector (or the last detections when nothing changed) -> ByteTrack ->
zone membership -> per-zone dwell machine -> alerts + broadcast commands. Recorded detections (MOT text)
enter after the detector and share everything downstream. The dwell states are plain dicts the caller
may persist (`states`, `restore`); tracker and gate are rebuilt from the next frames after a restart.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from pipeline.config import ZoneConfig
from pipeline.frames import FULL_COLOR, DecodedFrame
from pipeline.vision.firelane import dwell
from pipeline.vision.firelane.detector import YoloDetector
from pipeline.vision.firelane.gating import MotionGate
from pipeline.vision.firelane.outputs import messages
from pipeline.vision.firelane.zones import ZoneMembership, new_tracker


@dataclass
class FrameResult:
    ts: float
    ran_detector: bool
    tracked: sv.Detections
    transitions: list[dwell.Transition] = field(default_factory=list)
    messages: list = field(default_factory=list)  # Alert and BroadcastCommand, when the core has a site id


class FireLaneCore:
    """One camera's zones. `detector` may be None for the detections-only path (`process_detections`)."""

    decode_mode = FULL_COLOR

    def __init__(self, camera: str, zones: Sequence[ZoneConfig], detector: YoloDetector | None = None, *,
                 site_id: str | None = None, fps: float = 25.0, gating: bool = True, confirm_s: float = 5.0,
                 states: dict[str, dict | None] | None = None):
        missing = [z.id for z in zones if z.polygon is None]
        if missing:
            raise ValueError(f"zones {missing} have no polygon")
        self.camera, self.zones, self.detector, self.site_id = camera, list(zones), detector, site_id
        self.membership = ZoneMembership(self.zones)
        self.tracker = new_tracker(fps)
        self.gate = MotionGate([z.polygon for z in self.zones], confirm_s=confirm_s) if gating else None
        self.last_tracked = sv.Detections.empty()
        self.inferences = self.skipped = 0
        self._states: dict[str, dict] = {z.id: dwell.initial_state() for z in self.zones}
        self.restore(states or {})

    # ------------------------------------------------------------------ state for a changelog table
    @property
    def states(self) -> dict[str, dict]:
        """Per-zone dwell state, JSON-serialisable; persist it keyed by zone id."""
        return self._states

    def restore(self, states: dict[str, dict | None]) -> None:
        """Continue from persisted per-zone states (unknown zones are ignored, None means fresh)."""
        for zone_id, state in states.items():
            if zone_id in self._states and state:
                self._states[zone_id] = state

    # ------------------------------------------------------------------ per frame
    def needs_detection(self, image: np.ndarray, ts: float) -> bool:
        run = self.gate is None or self.gate.should_run(image, ts)
        self.inferences += run
        self.skipped += not run
        return run

    def process_image(self, image: np.ndarray, ts: float, detections: sv.Detections | None = None) -> FrameResult:
        """One frame; `detections` lets a caller that batched several cameras pass this frame's share."""
        if detections is None and self.needs_detection(image, ts):
            if self.detector is None:
                raise ValueError("this core has no detector; use process_detections")
            detections = self.detector.detect(image)
        if detections is None:
            return self.hold(ts)
        return self.process_detections(detections, ts)

    def hold(self, ts: float) -> FrameResult:
        """A frame the gate skipped: the scene did not change, so the last tracked objects still stand."""
        return self._zones_step(ts, self.last_tracked, ran=False)

    def process_detections(self, detections: sv.Detections, ts: float) -> FrameResult:
        """Detections of one frame (from the detector or a recorded file) -> tracking, zones, dwell."""
        wanted = self.membership.all_classes
        if len(detections):
            detections = detections[np.isin(detections.data["class_name"], wanted)]
        self.last_tracked = with_untracked(self.tracker.update_with_detections(detections), detections)
        return self._zones_step(ts, self.last_tracked, ran=True)

    def process(self, frame: DecodedFrame) -> list:
        """The FrameProcessor protocol of pipeline.processing: Kafka frame in, alerts and commands out."""
        return self.process_image(frame.image, frame.headers.ts).messages

    def _zones_step(self, ts: float, tracked: sv.Detections, ran: bool) -> FrameResult:
        result = FrameResult(ts, ran, tracked)
        for zone, sightings in zip(self.zones, self.membership.sightings(tracked).values()):
            decision = dwell.step(zone, self._states[zone.id], ts, sightings)
            self._states[zone.id] = decision.state
            result.transitions += decision.transitions
            if self.site_id is not None:
                result.messages += messages(self.site_id, zone, self.camera, decision.transitions)
        return result

    def open_episodes(self) -> dict[str, dict]:
        """Episodes still open (zone id -> episode), e.g. at the end of an offline run."""
        return {zone_id: s["episode"] for zone_id, s in self._states.items() if s["episode"] is not None}


def with_untracked(tracked: sv.Detections, detections: sv.Detections, iou: float = 0.7) -> sv.Detections:
    """The tracker's output plus the detections it did not (yet) keep, with tracker id -1.

    ByteTrack starts a track only from a confident detection seen on two frames; a small parked car far
    from the camera may score 0.2-0.4 and flicker. The dwell machine matches by place anyway, so those
    detections still count; the tracker's ids only help it where they exist.
    """
    if len(detections) == 0 or len(tracked) == 0:
        rest = detections
    else:
        rest = detections[sv.box_iou_batch(detections.xyxy, tracked.xyxy).max(axis=1) < iou]
    if len(rest) == 0:
        return tracked
    rest.tracker_id = np.full(len(rest), -1, dtype=int)
    return sv.Detections.merge([tracked, rest]) if len(tracked) else rest


def process_many(items: Sequence[tuple[FireLaneCore, np.ndarray, float]], detector: YoloDetector) -> list[FrameResult]:
    """Frames of several cameras: gate each, detect the changed ones in one batch, then finish each."""
    needed = [i for i, (core, image, ts) in enumerate(items) if core.needs_detection(image, ts)]
    found = dict(zip(needed, detector.detect_batch([items[i][1] for i in needed]))) if needed else {}
    results = []
    for i, (core, image, ts) in enumerate(items):
        if i in found:
            results.append(core.process_detections(found[i], ts))
        else:
            results.append(core.hold(ts))
    return results
