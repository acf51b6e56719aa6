"""Facade calibration: file format, homography round trip, window edges, and errors that name the field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.vision.throws.calibration import Facade

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "facades"

# A frontal-ish view: 10 floors x 4 columns of 3 m x 4 m, ground below the frame (corners outside are legal).
RAW = {"camera": "t1", "fps": 25, "image_size": [640, 480],
       "facade": {"floors": 10, "floor_height_m": 3.0, "columns": 4, "column_width_m": 4.0,
                  "corners_px": {"bottom_left": [100, 520], "bottom_right": [540, 520],
                                 "top_right": [420, 40], "top_left": [220, 40]}}}


def facade(**changes) -> Facade:
    raw = copy.deepcopy(RAW)
    raw["facade"].update(changes)
    return Facade.from_dict(raw)


def test_corners_map_to_the_facade_rectangle_and_back():
    f = facade()
    corners = np.array([RAW["facade"]["corners_px"][k] for k in ("bottom_left", "bottom_right", "top_right", "top_left")])
    np.testing.assert_allclose(f.image_to_facade(corners), [[0, 0], [16, 0], [16, 30], [0, 30]], atol=1e-6)
    pts = np.random.default_rng(0).uniform([0, 0], [16, 30], size=(50, 2))
    np.testing.assert_allclose(f.image_to_facade(f.facade_to_image(pts)), pts, atol=1e-6)


def test_perspective_compresses_upper_floors():
    """Looking up, a floor near the top spans fewer pixels than one near the ground: the map is not affine."""
    f = facade()
    ys = f.facade_to_image(np.array([[8.0, 0.0], [8.0, 3.0], [8.0, 27.0], [8.0, 30.0]]))[:, 1]
    assert (ys[0] - ys[1]) > 1.5 * (ys[2] - ys[3])


def test_window_of_edges_are_half_open():
    f = facade()
    assert f.window_of(0.0, 0.0) == (1, 1)
    assert f.window_of(3.999, 2.999) == (1, 1)
    assert f.window_of(4.0, 3.0) == (2, 2)
    assert f.window_of(15.999, 29.999) == (10, 4)
    assert f.window_of(16.0, 10.0) is None
    assert f.window_of(5.0, 30.0) is None
    assert f.window_of(-0.01, 10.0) is None
    assert f.window_of(5.0, -0.01) is None


def test_window_corners_outline_the_cell_in_the_image():
    f = facade()
    outline = f.window_corners_px(10, 1)
    np.testing.assert_allclose(outline[3], RAW["facade"]["corners_px"]["top_left"], atol=1e-6)
    assert f.window_of(*f.image_to_facade(outline.mean(axis=0, keepdims=True))[0]) == (10, 1)


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r["facade"]["corners_px"].pop("top_left"), "facade.corners_px.top_left"),
    (lambda r: r["facade"]["corners_px"].__setitem__("top_left", [1, "a"]), "facade.corners_px.top_left[1]"),
    (lambda r: r["facade"]["corners_px"].__setitem__("top_left", [1]), "facade.corners_px.top_left"),
    (lambda r: r["facade"].__setitem__("floors", 0), "facade.floors"),
    (lambda r: r["facade"].__setitem__("floors", 2.5), "facade.floors"),
    (lambda r: r["facade"].__setitem__("floor_height_m", -3), "facade.floor_height_m"),
    (lambda r: r["facade"].pop("columns"), "facade.columns"),
    (lambda r: r.__setitem__("image_size", [640]), "image_size"),
    (lambda r: r.__setitem__("fps", "fast"), "fps"),
    (lambda r: r.pop("facade"), "facade"),
    (lambda r: r["facade"]["corners_px"].__setitem__("top_right", [100, 520]), "facade.corners_px"),
])
def test_bad_fields_are_named(mutate, field):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(ValueError) as err:
        Facade.from_dict(raw)
    assert str(err.value).startswith(field + ":") or str(err.value).startswith(field + "[")


def test_crossed_corners_are_refused():
    raw = copy.deepcopy(RAW)
    c = raw["facade"]["corners_px"]
    c["top_left"], c["top_right"] = c["top_right"], c["top_left"]
    with pytest.raises(ValueError, match="convex"):
        Facade.from_dict(raw)


def test_load_names_file_and_field(tmp_path):
    raw = copy.deepcopy(RAW)
    raw["facade"]["column_width_m"] = "wide"
    path = tmp_path / "cam.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"cam\.json: facade\.column_width_m"):
        Facade.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"cam\.json: cannot read"):
        Facade.load(path)


def test_round_trip_through_to_dict_and_null_fps():
    raw = copy.deepcopy(RAW)
    raw["fps"] = None
    f = Facade.from_dict(raw)
    assert f.fps is None
    assert Facade.from_dict(f.to_dict()) == f


def test_office1_fixture_puts_the_glass_bay_in_column_2_and_the_parapet_in_the_top_floor():
    """Measured on frame 200 of facade-office1.mp4 (see the fixture's notes in test_throws_real)."""
    f = Facade.load(FIXTURES / "office1.json")
    assert f.image_size == (1280, 720) and f.fps is None
    glass_top, glass_mid, canopy = f.image_to_facade(np.array([[640, 150], [640, 300], [640, 470]]))
    assert f.window_of(*glass_top) == (4, 2)
    assert f.window_of(*glass_mid) == (3, 2)
    assert f.window_of(*canopy) == (2, 2)
