"""The dynamic-int8 files run in float: the same detections as the int8 graph, no ConvInteger left."""
import cv2
import numpy as np
import onnx
import pytest

from pipeline.settings import REPO_ROOT
from pipeline.vision.firelane import dequantize
from pipeline.vision.firelane.detector import YoloDetector

SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


@pytest.fixture(scope="module")
def bus(data_dir):
    return cv2.imread(str(data_dir / "images" / "bus.jpg"))


def matched(a, b) -> list[tuple[str, float, float, float]]:
    """Each detection of `a` with the same-class detection of `b` that overlaps it most: (class, iou, score a, score b)."""
    pairs = []
    for box, name, score in zip(a.xyxy, a.data["class_name"], a.confidence):
        same = [(k, other) for k, other in enumerate(b.xyxy) if b.data["class_name"][k] == name]
        if not same:
            pairs.append((name, 0.0, float(score), 0.0))
            continue
        ious = [_iou(box, other) for _, other in same]
        best = int(np.argmax(ious))
        pairs.append((name, ious[best], float(score), float(b.confidence[same[best][0]])))
    return pairs


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("size", ["640", "320"])
def test_float_path_finds_what_the_int8_graph_finds(size, bus):
    path = SHARED_MODELS / f"yolov8n-coco-int8-{size}.onnx"
    as_stored = YoloDetector(path, compute="model")
    in_float = YoloDetector(path, compute="float")
    assert as_stored.compute == "as stored" and in_float.compute == "int8 weights computed in float"
    assert in_float.names == as_stored.names and in_float.imgsz == as_stored.imgsz  # metadata kept
    a, b = as_stored.detect(bus), in_float.detect(bus)
    confident = [p for p in matched(a, b) if p[2] > 0.5]
    assert len(confident) >= 4 and {p[0] for p in confident} >= {"bus", "person"}
    for name, iou, score_int8, score_float in confident:
        assert iou > 0.9 and abs(score_int8 - score_float) < 0.08, (name, iou, score_int8, score_float)


def test_rewritten_graph_has_no_integer_convolution_and_no_quantizers():
    model = onnx.load(str(SHARED_MODELS / "yolov8n-coco-int8-320.onnx"))
    assert dequantize.is_dynamic_int8(model)
    rewritten = dequantize.dequantize_dynamic(model)
    ops = {node.op_type for node in rewritten.graph.node}
    assert "ConvInteger" not in ops and "DynamicQuantizeLinear" not in ops
    convs = sum(node.op_type == "ConvInteger" for node in model.graph.node)
    assert sum(node.op_type == "Conv" for node in rewritten.graph.node) == convs
    assert dequantize.is_dynamic_int8(model)  # the loaded model itself is left as it was
    onnx.checker.check_model(rewritten)


def test_auto_computes_a_dynamic_int8_file_in_float_and_model_runs_it_as_stored():
    """Measured faster in float on AVX2-only and on AVX-512 VNNI CPUs alike (module doc of dequantize)."""
    path = SHARED_MODELS / "yolov8n-coco-int8-320.onnx"
    source, how = dequantize.session_source(path, "auto")
    assert how == "int8 weights computed in float" and isinstance(source, bytes)
    source, how = dequantize.session_source(path, "model")
    assert how == "as stored" and source == str(path)


def test_unknown_compute_setting_is_refused(monkeypatch):
    monkeypatch.setenv("SCA_DETECTOR_COMPUTE", "fp16")
    with pytest.raises(ValueError, match="auto, float or model"):
        YoloDetector(SHARED_MODELS / "yolov8n-coco-int8-320.onnx")


def test_a_float_export_runs_as_stored(tmp_path, bus):
    """An fp32 file (here: the 320 model's weights written out in float, metadata kept) needs no rewrite."""
    model = dequantize.dequantize_dynamic(onnx.load(str(SHARED_MODELS / "yolov8n-coco-int8-320.onnx")))
    path = tmp_path / "yolov8n-float-320.onnx"
    onnx.save(model, str(path))
    detector = YoloDetector(path, compute="float")
    assert detector.compute == "as stored" and not detector.verified  # not a registered file
    names = list(detector.detect(bus).data["class_name"])
    assert names.count("bus") == 1 and names.count("person") >= 3
