"""Motion gating on a real clip: an unchanged lane costs (almost) no inferences, a car driving in does."""
import cv2
import pytest

from pipeline.config import ZoneConfig
from pipeline.settings import REPO_ROOT
from pipeline.vision.firelane.core import FireLaneCore
from pipeline.vision.firelane.detector import YoloDetector
from pipeline.vision.firelane.gating import MotionGate

FPS = 12.5


@pytest.fixture(scope="module")
def clip(data_dir):
    capture = cv2.VideoCapture(str(data_dir / "video" / "parking-aisle-overhead.mp4"))
    frames = []
    while len(frames) < 240:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def whole(image):
    h, w = image.shape[:2]
    return [(0, 0), (w, 0), (w, h), (0, h)]


def test_static_scene_skips_nearly_every_inference(clip):
    gate = MotionGate([whole(clip[0])], confirm_s=5.0)
    runs = [gate.should_run(clip[0], i / FPS) for i in range(250)]  # 20 s of the same picture
    assert runs[0] and gate.runs == 4 and gate.saved > 0.95  # first frame, then one confirmation per 5 s


def test_cars_driving_through_make_it_run(clip):
    gate = MotionGate([whole(clip[0])], confirm_s=5.0)
    runs = [gate.should_run(image, i / FPS) for i, image in enumerate(clip[180:235])]  # cars drive through
    assert sum(runs) > len(runs) / 2


def test_a_zone_away_from_the_motion_stays_gated(clip):
    h, w = clip[0].shape[:2]
    corner = [(0, 0), (w * 0.1, 0), (w * 0.1, h * 0.1), (0, h * 0.1)]
    gate = MotionGate([corner], confirm_s=60.0)
    for i, image in enumerate(clip[180:235]):
        gate.should_run(image, i / FPS)
    assert gate.runs < 10


def test_core_counts_inferences_run_and_skipped(clip):
    zone = ZoneConfig(id="aisle", kind="fire_lane", camera="cam", polygon=whole(clip[0]), grace_s=2)
    detector = YoloDetector(REPO_ROOT.parent / "shared" / "models" / "yolov8n-coco-int8-320.onnx")
    core = FireLaneCore("cam", [zone], detector, fps=FPS)
    results = [core.process_image(clip[0], 1.7e9 + i / FPS) for i in range(100)]
    assert core.inferences == sum(r.ran_detector for r in results) <= 3 and core.skipped >= 97
