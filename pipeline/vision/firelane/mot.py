"""MOT-text detections (`frame,id,x,y,w,h,conf,class[,...]`, frames 1-based, `-1` rows = nothing found).

Lets the fire-lane logic run on recorded detector output (e.g. the RoadTrack files), same tracker,
zones and dwell machine as live frames, without decoding a video.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import supervision as sv

# COCO-80 ids as Ultralytics numbers them: what YOLO COCO detectors (v5/v8/v11) write in a MOT `class` column.
COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
    "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie "
    "suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard "
    "tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange broccoli carrot "
    "hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
).split()
COCO_NAMES = [name.replace("_", " ") for name in COCO_NAMES]


class MotFormatError(ValueError):
    """The file is not MOT detection text; the message names the line."""


def read_mot(path: str | Path) -> np.ndarray:
    """All rows as float (N, >=8); raise MotFormatError naming the first bad line."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split(",")]
        except ValueError:
            raise MotFormatError(f"{path}:{number}: not comma-separated numbers: {line[:80]!r}") from None
        if len(values) < 8:
            raise MotFormatError(f"{path}:{number}: expected frame,id,x,y,w,h,conf,class; got {len(values)} fields")
        rows.append(values[:8])
    if not rows:
        raise MotFormatError(f"{path}: no rows")
    return np.asarray(rows, dtype=np.float64)


def frames(rows: np.ndarray, names: list[str] = COCO_NAMES) -> Iterator[tuple[int, sv.Detections]]:
    """(frame number, detections) for every frame from 1 to the last, empty where there were none."""
    valid = rows[(rows[:, 2] >= 0) & (rows[:, 4] > 0) & (rows[:, 5] > 0)]
    order = np.argsort(valid[:, 0], kind="stable")
    valid = valid[order]
    bounds = np.searchsorted(valid[:, 0], np.arange(1, int(rows[:, 0].max()) + 2))
    for frame in range(1, int(rows[:, 0].max()) + 1):
        chunk = valid[bounds[frame - 1]:bounds[frame]]
        yield frame, to_detections(chunk, names)


def to_detections(chunk: np.ndarray, names: list[str]) -> sv.Detections:
    if len(chunk) == 0:
        return sv.Detections.empty()
    xyxy = np.concatenate([chunk[:, 2:4], chunk[:, 2:4] + chunk[:, 4:6]], axis=1).astype(np.float32)
    class_ids = chunk[:, 7].astype(int)
    class_names = np.array([names[c] if 0 <= c < len(names) else str(c) for c in class_ids], dtype=object)
    return sv.Detections(xyxy=xyxy, confidence=chunk[:, 6].astype(np.float32), class_id=class_ids,
                         data={"class_name": class_names})
