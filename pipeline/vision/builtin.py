"""The vision cores the worker runs, by camera role: `fire_lane` -> FireLaneCore, `facade` -> ThrowCore.

The detector is loaded once per worker and shared by every fire-lane camera. When no model is
configured the worker still runs (frames are validated, liveness watched, sensors handled) and
says, once and plainly, how to get one; nothing is downloaded.
"""
from __future__ import annotations

import logging
from functools import lru_cache, partial
from pathlib import Path

from pipeline.config import CameraConfig, Site
from pipeline.processing import ProcessorFactory

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def shared_detector():
    from pipeline.vision.firelane.detector import YoloDetector

    return YoloDetector()


def fire_lane_factory(site: Site, camera: CameraConfig):
    from pipeline.vision.firelane.core import FireLaneCore
    from pipeline.vision.firelane.models import ModelNotFound

    zones = [z for z in site.zones if z.kind == "fire_lane" and z.camera == camera.id]
    if not zones:
        log.warning("camera %s has role fire_lane but no fire_lane zone in the site file", camera.id)
        return None
    try:
        detector = shared_detector()
    except ModelNotFound as exc:
        log.error("fire-lane core for %s is off: %s", camera.id, exc)
        return None
    return FireLaneCore(camera.id, zones, detector, site_id=site.site.id, fps=camera.fps)


def builtin_processors(evidence_root: Path | None = None) -> dict[str, ProcessorFactory]:
    """Factories by camera role; thrown-object evidence goes under `evidence_root` (None: no evidence files)."""
    from pipeline.vision.throws.processor import throws_factory

    return {"fire_lane": fire_lane_factory, "facade": partial(throws_factory, evidence_root=evidence_root)}
