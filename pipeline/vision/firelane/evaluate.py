"""Score fire-lane events against ground-truth tracks of stopped vehicles (RoadTrack `gt.txt`).

Why here and not in a test: the unit tests (a few sequences) and the benchmark (all of them) must
score the same way. A ground-truth vehicle's stop is the first frame from which its bottom centre stays
within half its size for `still_s` seconds; it is found when some event object stood at that place and
began its dwell within `window_s` of the stop. An event object that matches no stopped vehicle is false.

Ground-truth tracks in RoadTrack sometimes begin after the vehicle has already arrived (a car stands at
its place for seconds before its first annotated frame). So an *event* is judged over its whole span:
it is true when one of its objects stands where a stopped ground-truth vehicle stands while both the
event and that vehicle's standing are going on, and false otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.vision.firelane.mot import read_mot


@dataclass(frozen=True)
class StoppedVehicle:
    track: int
    stop_s: float          # seconds from frame 1
    foot: tuple[float, float]
    size: float
    last_s: float = float("inf")  # the track's last annotated frame: it stood at most until then


@dataclass
class Score:
    vehicles: int = 0
    found: int = 0
    false_objects: int = 0
    never_stop: int = 0
    delays: list[float] | None = None

    @property
    def recall(self) -> float:
        return self.found / self.vehicles if self.vehicles else 1.0


def stops(gt_path: Path, fps: float, still_s: float = 5.0) -> tuple[list[StoppedVehicle], int]:
    """Stopped vehicles of one sequence and how many gt tracks never stand still for `still_s`."""
    rows = read_mot(gt_path)
    found, never = [], 0
    for track in np.unique(rows[:, 1]).astype(int):
        t = rows[rows[:, 1] == track]
        t = t[np.argsort(t[:, 0])]
        foot = np.stack([t[:, 2] + t[:, 4] / 2, t[:, 3] + t[:, 5]], axis=1)
        size = np.sqrt(t[:, 4] * t[:, 5])
        stop = _first_still(t[:, 0], foot, size, still_s * fps)
        if stop is None:
            never += 1
        else:
            found.append(StoppedVehicle(int(track), (t[stop, 0] - 1) / fps, tuple(foot[stop]), float(size[stop]),
                                        (t[-1, 0] - 1) / fps))
    return found, never


def _first_still(frames: np.ndarray, foot: np.ndarray, size: np.ndarray, span: float) -> int | None:
    for i in range(len(frames)):
        if frames[-1] < frames[i] + span:
            return None
        j = np.searchsorted(frames, frames[i] + span)
        if np.hypot(*(foot[i:j] - foot[i]).T).max() <= 0.5 * size[i]:
            return i
    return None


def _near(box: list[float], foot: tuple[float, float], size: float) -> bool:
    x, y, w, h = box
    return bool(np.hypot(x + w / 2 - foot[0], y + h - foot[1]) <= max(size, np.sqrt(w * h)))


def _on_any_track(obj: dict, gt: np.ndarray, fps: float) -> bool:
    """Does the object stand where some ground-truth vehicle stands at the moment it was reported?"""
    rows = gt[np.abs((gt[:, 0] - 1) / fps - obj["at"]) <= 1.0 / fps + 1e-6]
    return any(_near(obj["box"], (r[2] + r[4] / 2, r[3] + r[5]), float(np.sqrt(r[4] * r[5]))) for r in rows)


def score(events: list[dict], vehicles: list[StoppedVehicle], gt_path: Path, fps: float,
          window_s: float = 10.0) -> Score:
    """Recall over stopped vehicles; false objects: reported where no ground-truth vehicle stood then."""
    objects = [o for e in events for o in e["objects"]]
    result = Score(vehicles=len(vehicles), delays=[])
    for v in vehicles:
        hits = [o for o in objects if _near(o["box"], v.foot, v.size) and abs(o["since"] - v.stop_s) <= window_s]
        if hits:
            result.found += 1
            result.delays.append(min(o["at"] for o in hits) - v.stop_s)
    gt = read_mot(gt_path)
    result.false_objects = sum(not _on_any_track(o, gt, fps) for o in objects)
    return result


def is_false_event(event: dict, vehicles: list[StoppedVehicle]) -> bool:
    """No object of the event is a stopped vehicle: at its place while the event and the stop overlap.

    `event` is as `sca analyze fire-lane` writes it: `objects` (box, since, at) and `t_end` (None: still open).
    """
    end = event.get("t_end")
    end = float("inf") if end is None else end
    return not any(_near(o["box"], v.foot, v.size) and o["since"] <= v.last_s and v.stop_s <= end
                   for o in event["objects"] for v in vehicles)
