"""YOLO object detector on onnxruntime for any Ultralytics detection export (v8/v11 head, output 1 x (4+nc) x N).

Why not Ultralytics itself at run time: it pulls PyTorch (gigabytes) into the worker for what is a
letterbox, one `session.run` and a vectorised decode. Class names and input size come from the file's
own metadata, so swapping the model (640 or 320, int8 or fp32, COCO or a custom set) needs no code change.
Frames of several cameras go through one `session.run` when the model has a dynamic batch dimension.
"""
from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import supervision as sv

from pipeline.vision.firelane.dequantize import session_source
from pipeline.vision.firelane.models import COMPUTE_ENV_VAR, find_model, verify

PAD_VALUE = 114  # Ultralytics' letterbox grey
MAX_DETECTIONS = 300


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input: scale, then padding (left, top), in input pixels."""

    scale: float
    left: float
    top: float


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad to `size` (height, width), as Ultralytics does."""
    height, width = image.shape[:2]
    scale = min(size[0] / height, size[1] / width)
    new_w, new_h = round(width * scale), round(height * scale)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (width, height) else image
    dw, dh = (size[1] - new_w) / 2, (size[0] - new_h) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)
    padded = cv2.copyMakeBorder(resized, top, size[0] - new_h - top, left, size[1] - new_w - left,
                                cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return padded, Letterbox(scale, left, top)


def parse_metadata(meta: dict[str, str]) -> tuple[dict[int, str], tuple[int, int] | None]:
    """Ultralytics writes `names` and `imgsz` as Python literals in the ONNX metadata_props."""
    names = {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()} if "names" in meta else {}
    imgsz = ast.literal_eval(meta["imgsz"]) if "imgsz" in meta else None
    if isinstance(imgsz, int):
        imgsz = [imgsz, imgsz]
    return names, (tuple(imgsz) if imgsz else None)


def decode(output: np.ndarray, conf: float, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's raw head output (4+nc, N) -> boxes xyxy (input pixels), scores, class ids; vectorised."""
    scores_all = output[4:]
    if keep is not None:
        scores_all = scores_all[keep]
    class_idx = scores_all.argmax(axis=0)
    scores = scores_all[class_idx, np.arange(scores_all.shape[1])]
    mask = scores >= conf
    cx, cy, w, h = output[:4, mask]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    class_ids = class_idx[mask] if keep is None else keep[class_idx[mask]]
    return boxes, scores[mask], class_ids


def nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float) -> np.ndarray:
    """Class-aware non-maximum suppression (OpenCV's batched NMS); indices of the kept boxes, best first."""
    if len(boxes) == 0:
        return np.empty(0, dtype=int)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), class_ids.tolist(), 0.0, iou)
    kept = np.asarray(kept, dtype=int).reshape(-1)
    return kept[np.argsort(-scores[kept])][:MAX_DETECTIONS]


class YoloDetector:
    """`detect(image)` / `detect_batch(images)` on BGR numpy frames -> `sv.Detections` in frame pixels.

    `classes` restricts decoding to those names (e.g. the vehicle classes of a fire lane), which also
    makes the decode cheaper; `threads` caps onnxruntime's intra-op threads (None: onnxruntime decides).
    `compute` ("auto", "float" or "model"; default $SCA_DETECTOR_COMPUTE or "auto") decides whether a
    dynamically quantized file runs in float (see `dequantize`); `self.compute` says what was chosen.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, conf: float = 0.25, iou: float = 0.45,
                 classes: Iterable[str] | None = None, threads: int | None = None, check_hash: bool = True,
                 compute: str | None = None):
        self.path = find_model(path)
        self.verified = verify(self.path) if check_hash else False
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        source, self.compute = session_source(self.path, compute or os.environ.get(COMPUTE_ENV_VAR) or "auto")
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.names, imgsz = parse_metadata(self.session.get_modelmeta().custom_metadata_map)
        self.imgsz = imgsz or (int(model_input.shape[2]), int(model_input.shape[3]))
        self.dynamic_batch = not isinstance(model_input.shape[0], int)
        self.conf, self.iou = conf, iou
        self.keep = self._class_filter(classes)

    def _class_filter(self, classes: Iterable[str] | None) -> np.ndarray | None:
        if classes is None:
            return None
        wanted = set(classes)
        unknown = wanted - set(self.names.values())
        if unknown:
            raise ValueError(f"{self.path.name} has no class {sorted(unknown)}; it knows {sorted(self.names.values())}")
        return np.array(sorted(i for i, name in self.names.items() if name in wanted), dtype=int)

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[sv.Detections]:
        """One `session.run` for all frames when the model allows a batch, else one per frame."""
        fitted = [letterbox(image, self.imgsz) for image in images]
        blobs = cv2.dnn.blobFromImages([f[0] for f in fitted], 1 / 255.0, swapRB=True)
        if self.dynamic_batch:
            outputs = self.session.run(None, {self.input_name: blobs})[0]
        else:
            outputs = np.concatenate([self.session.run(None, {self.input_name: blobs[i:i + 1]})[0]
                                      for i in range(len(images))])
        return [self._detections(out, box, image.shape) for out, (_, box), image in zip(outputs, fitted, images)]

    def _detections(self, output: np.ndarray, box: Letterbox, shape: tuple[int, ...]) -> sv.Detections:
        boxes, scores, class_ids = decode(output, self.conf, self.keep)
        kept = nms(boxes, scores, class_ids, self.iou)
        boxes = (boxes[kept] - [box.left, box.top, box.left, box.top]) / box.scale
        boxes = np.clip(boxes, 0, [shape[1], shape[0], shape[1], shape[0]]).astype(np.float32)
        class_ids = class_ids[kept].astype(int)
        names = np.array([self.names.get(int(c), str(c)) for c in class_ids], dtype=object)
        return sv.Detections(xyxy=boxes.reshape(-1, 4), confidence=scores[kept].astype(np.float32),
                             class_id=class_ids, data={"class_name": names})


def describe(path: Path) -> str:
    """One line for logs: which file, which input size, how many classes."""
    detector = YoloDetector(path)
    return f"{detector.path.name}: input {detector.imgsz}, {len(detector.names)} classes, dynamic batch {detector.dynamic_batch}"
