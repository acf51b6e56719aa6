"""YOLO on onnxruntime with the real int8 exports: what it finds on a street photo, and how it says a model is missing."""
import cv2
import numpy as np
import pytest

from pipeline.settings import REPO_ROOT
from pipeline.vision.firelane import models
from pipeline.vision.firelane.detector import YoloDetector

SHARED_MODELS = REPO_ROOT.parent / "shared" / "models"


@pytest.fixture(scope="module", params=["640", "320"])
def detector(request):
    return YoloDetector(SHARED_MODELS / f"yolov8n-coco-int8-{request.param}.onnx")


@pytest.fixture(scope="module")
def bus(data_dir):
    return cv2.imread(str(data_dir / "images" / "bus.jpg"))


def test_finds_the_bus_and_the_people(detector, bus):
    found = detector.detect(bus)
    names = list(found.data["class_name"])
    assert detector.verified and detector.imgsz in [(640, 640), (320, 320)] and len(detector.names) == 80
    assert names.count("bus") == 1 and names.count("person") >= 3
    bus_box = found.xyxy[names.index("bus")]
    assert bus_box[0] < 60 and bus_box[2] > 780 and 200 < bus_box[1] < 260  # the bus spans the photo's width
    assert found.confidence[names.index("bus")] > 0.7
    assert (found.xyxy[:, 2] <= bus.shape[1]).all() and (found.xyxy[:, 3] <= bus.shape[0]).all()


def test_batch_gives_the_same_boxes_as_one_by_one(detector, bus):
    flipped = np.ascontiguousarray(bus[:, ::-1])
    batch = detector.detect_batch([bus, flipped])
    single = [detector.detect(bus), detector.detect(flipped)]
    for a, b in zip(batch, single):
        assert np.allclose(a.xyxy, b.xyxy, atol=0.5) and list(a.data["class_name"]) == list(b.data["class_name"])


def test_class_filter_keeps_only_vehicles(bus):
    vehicles = YoloDetector(SHARED_MODELS / "yolov8n-coco-int8-320.onnx", classes=["car", "bus", "truck"])
    assert set(vehicles.detect(bus).data["class_name"]) == {"bus"}
    with pytest.raises(ValueError, match="no class"):
        YoloDetector(SHARED_MODELS / "yolov8n-coco-int8-320.onnx", classes=["fire truck"])


def test_missing_model_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    with pytest.raises(models.ModelNotFound) as err:
        models.find_model(None, models_dir=tmp_path)
    assert "yolo export model=yolov8n.pt format=onnx" in str(err.value) and "SCA_DETECTOR_MODEL" in str(err.value)
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path / "nope.onnx"))
    with pytest.raises(models.ModelNotFound, match="nope.onnx"):
        YoloDetector()


def test_env_variable_and_registry_check(monkeypatch, tmp_path):
    monkeypatch.setenv(models.ENV_VAR, str(SHARED_MODELS / "yolov8n-coco-int8-320.onnx"))
    assert models.find_model().name == "yolov8n-coco-int8-320.onnx"
    fake = tmp_path / "yolov8n-coco-int8-640.onnx"
    fake.write_bytes(b"truncated")
    with pytest.raises(models.ModelMismatch, match="sha256"):
        models.verify(fake)
    assert models.verify(tmp_path / "unlisted.onnx", known={}) is False
