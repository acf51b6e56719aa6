"""Stable track ids (supervision's ByteTrack) and which tracked objects stand inside which zone.

Why a library tracker: ByteTrack's two-stage association keeps a parked car's id through the
low-confidence frames that occlusion and dusk produce; re-implementing it is not this project's job.
An object is in a zone by its bottom-centre point (where it touches the ground), so a tall truck next to
the lane, whose box overlaps the lane's polygon in the image, does not count.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import supervision as sv

from pipeline.config import ZoneConfig
from pipeline.vision.firelane.dwell import Sighting


def new_tracker(fps: float, lost_s: float = 3.0, activation: float = 0.25) -> sv.ByteTrack:
    """ByteTrack whose lost-track memory is `lost_s` seconds whatever the frame rate."""
    with warnings.catch_warnings():  # deprecated in supervision 0.28 in favour of the `trackers` package,
        warnings.simplefilter("ignore", FutureWarning)  # which pulls opencv-python next to -headless
        return sv.ByteTrack(track_activation_threshold=activation, lost_track_buffer=max(1, round(lost_s * 30)),
                            minimum_matching_threshold=0.8, frame_rate=fps)


class ZoneMembership:
    """For each zone of one camera: its polygon test (bottom centre) and the classes it cares about."""

    def __init__(self, zones: Sequence[ZoneConfig]):
        self.zones = list(zones)
        self.polygons = {z.id: sv.PolygonZone(np.round(np.asarray(z.polygon)).astype(np.int64),
                                              triggering_anchors=(sv.Position.BOTTOM_CENTER,)) for z in self.zones}
        self.classes = {z.id: np.array(sorted(z.classes), dtype=object) for z in self.zones}

    @property
    def all_classes(self) -> list[str]:
        return sorted({c for z in self.zones for c in z.classes})

    def sightings(self, tracked: sv.Detections) -> dict[str, list[Sighting]]:
        """Qualifying objects per zone id (every zone gets a list, empty when nothing stands in it)."""
        out: dict[str, list[Sighting]] = {}
        names = tracked.data.get("class_name", np.array([], dtype=object)) if len(tracked) else np.array([], dtype=object)
        for zone in self.zones:
            if len(tracked) == 0:
                out[zone.id] = []
                continue
            inside = self.polygons[zone.id].trigger(tracked) & np.isin(names, self.classes[zone.id])
            out[zone.id] = [_sighting(tracked, i) for i in np.flatnonzero(inside)]
        return out


def _sighting(tracked: sv.Detections, i: int) -> Sighting:
    track = tracked.tracker_id[i] if tracked.tracker_id is not None else None
    conf = float(tracked.confidence[i]) if tracked.confidence is not None else 1.0
    return Sighting(tuple(float(v) for v in tracked.xyxy[i]), str(tracked.data["class_name"][i]), conf,
                    None if track is None or track < 0 else int(track))
