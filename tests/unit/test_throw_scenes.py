"""The synthetic thrown-object scenes: reproducible, physically plausible, and their ground truth matches the pixels."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from benchmarks.throw_scenes import (DEV_SEEDS, DISTRACTORS, HELD_OUT_SEEDS, distractor_scene, generate,
                                     ground_truth)


def _plane(calibration: dict) -> tuple[np.ndarray, float, float]:
    """Image -> facade metres from the calibration's 4 corners, the way a detector would build it."""
    fc = calibration["facade"]
    w, h = fc["columns"] * fc["column_width_m"], fc["floors"] * fc["floor_height_m"]
    c = fc["corners_px"]
    src = np.float32([c["bottom_left"], c["bottom_right"], c["top_right"], c["top_left"]])
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(src, dst), fc["floor_height_m"], fc["column_width_m"]


def test_same_seed_same_scene_and_pixels() -> None:
    a, b = generate(11, duration_s=4.0, n_throws=2), generate(11, duration_s=4.0, n_throws=2)
    assert a.calibration == b.calibration and a.throws == b.throws and a.distractors == b.distractors
    for fa, fb in itertools.islice(zip(a.frames(), b.frames()), 0, None, 7):
        assert np.array_equal(fa, fb)
    assert generate(12).calibration != a.calibration


def test_frames_shape_dtype_and_count() -> None:
    scene = generate(3, size=(640, 360), duration_s=2.0, fps=10.0)
    frames = list(scene.frames())
    assert len(frames) == scene.n_frames == 20
    assert all(f.shape == (360, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert scene.calibration["image_size"] == [640, 360]


def test_held_out_and_dev_seeds_are_disjoint() -> None:
    assert not set(DEV_SEEDS) & set(HELD_OUT_SEEDS)
    assert len(DEV_SEEDS) >= 50 and len(HELD_OUT_SEEDS) >= 50


def test_ground_truth_falls_with_downward_acceleration() -> None:
    """Image y grows (down) and its second derivative is positive for every throw: gravity, not a drift."""
    checked = 0
    for seed in range(8):
        scene = generate(seed)
        for gt in ground_truth(scene):
            t, _, y = np.array(gt["trajectory"]).T
            assert len(t) >= 5
            assert y[-1] - y[0] > 20, "the object ends lower in the image than it started"
            a = np.polyfit(t - t[0], y, 2)[0]
            assert a > 0, f"seed {seed}: y(t) must curve downward, got {a:.1f} px/s^2"
            assert gt["release_t"] >= 1.5 and gt["end_t"] <= scene.n_frames / scene.fps
            checked += 1
    assert checked >= 8


def test_origin_maps_to_the_claimed_floor_and_column() -> None:
    """The first ground-truth point, mapped through the calibration's homography, lies in the throw's window cell."""
    for seed in range(10):
        scene = generate(seed)
        hom, fh, cw = _plane(scene.calibration)
        for gt in ground_truth(scene):
            _, x, y = gt["trajectory"][0]
            mx, my = cv2.perspectiveTransform(np.float32([[[x, y]]]), hom)[0, 0]
            assert int(my // fh) + 1 == gt["floor"], (seed, gt["floor"], my / fh)
            assert int(mx // cw) + 1 == gt["column"], (seed, gt["column"], mx / cw)


def test_rendered_object_is_where_ground_truth_says() -> None:
    """The pixels change at the ground-truth position mid-fall (and the object is not drawn before release)."""
    scene = generate(21, n_throws=1, distractors=[], night=False)
    gt = ground_truth(scene)[0]
    frames = list(scene.frames())
    first = frames[0].astype(np.int16)
    t, x, y = gt["trajectory"][len(gt["trajectory"]) // 3]
    i = int(round(t * scene.fps))
    xi, yi = int(round(x)), int(round(y))
    diff = np.abs(frames[i].astype(np.int16) - first)[yi - 2:yi + 3, xi - 2:xi + 3].max()
    assert diff > 25, f"object not visible at ground truth ({xi},{yi}) in frame {i}: max diff {diff}"
    before = int(gt["release_t"] * scene.fps) - 5
    assert np.abs(frames[before].astype(np.int16) - first)[yi - 2:yi + 3, xi - 2:xi + 3].max() < 25


def test_distractor_scene_has_no_throws_but_everything_else() -> None:
    day, night = distractor_scene(0, duration_s=2.0), distractor_scene(1, duration_s=2.0)
    assert day.throws == [] and night.throws == [] and ground_truth(day) == []
    assert set(day.distractors) == set(DISTRACTORS) - {"night"} and not day.night
    assert set(night.distractors) == set(DISTRACTORS) and night.night
    frames = list(night.frames())
    assert np.mean(frames[0]) < 80, "night scenes are dark"


def test_unknown_distractor_is_refused() -> None:
    with pytest.raises(ValueError):
        generate(0, distractors=["ufo"])


def test_calibrations_are_accepted_by_the_core_facade() -> None:
    """Every scene's calibration loads in the detector's Facade, and its window_of names the throw's window:
    the generator's camera and the core's homography agree on what 'floor 12, column 3' is."""
    from pipeline.vision.throws.calibration import Facade

    seen = 0
    for seed in list(range(0, 60, 6)) + list(range(1000, 1060, 6)):
        scene = generate(seed)
        facade = Facade.from_dict(scene.calibration)
        for throw, track in zip(scene.throws, scene._tracks):
            release_px = track.px[:1]
            x, y = facade.image_to_facade(release_px)[0]
            assert facade.window_of(float(x), float(y)) == (throw.floor, throw.column), seed
            seen += 1
    assert seen >= 20
