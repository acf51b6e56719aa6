"""ThrowCore on drawn scenes: one fall gives one event with the right window; movers, light and shake do not."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.vision.throws.core import ThrowCore, ThrowEvent
from tests.unit.test_throws_helpers import FACADE, FPS, drop, frames, linear, run


def core() -> ThrowCore:
    return ThrowCore(FACADE, FPS)


def test_disc_falling_with_g_gives_one_event_with_floor_and_column():
    # released from rest at 22.5 m (floor 8: 21-24 m), 6 m from the left (column 2: 4-8 m); ground after 2.1 s
    events = run(core(), frames(110, drop(6.0, 22.5, t0=1.0)))
    assert len(events) == 1
    emitted_at, e = events[0]
    assert (e.origin_floor, e.origin_column) == (8, 2)
    assert e.release_t == pytest.approx(1.0, abs=0.2)
    assert 6.0 < e.fit["g_mps2"] < 14.0
    assert e.confidence > 0.5
    # reported promptly: within 1 s of the object leaving the view (it reaches the ground at ~3.1 s)
    assert emitted_at - e.t_end < 1.0 and e.t_end > 2.6
    doc = e.to_json()
    assert doc["type"] == "thrown_object" and doc["origin"]["floor"] == 8 and doc["origin"]["column"] == 2
    assert json.loads(json.dumps(doc)) == doc
    assert all(len(p) == 3 for p in doc["trajectory"])


def test_two_falls_from_different_windows_give_two_events():
    fall_a, fall_b = drop(2.0, 28.0, t0=0.8), drop(14.0, 10.0, t0=3.5)
    scene = frames(150, lambda t: fall_a(t) or fall_b(t))
    events = sorted((e for _, e in run(core(), scene)), key=lambda e: e.t_start)
    assert [(e.origin_floor, e.origin_column) for e in events] == [(10, 1), (4, 4)]


def test_grey_frames_are_accepted():
    events = run(core(), ((t, f[:, :, 0].copy()) for t, f in frames(110, drop(6.0, 22.5, t0=1.0))))
    assert len(events) == 1


@pytest.mark.parametrize("name, mover", [
    ("constant speed downwards", linear(6.0, 26.0, 1.0, 0.0, -6.0, 3.0)),
    ("constant speed upwards", linear(10.0, 6.0, 1.0, 0.0, 5.0, 3.0)),
    ("sideways flight", linear(1.0, 18.0, 1.0, 5.0, -0.5, 2.5)),
])
def test_movers_that_do_not_fall_give_nothing(name, mover):
    assert run(core(), frames(110, mover)) == [], name


def test_global_brightness_jump_gives_nothing():
    def lights(i, img):
        return np.clip(img.astype(np.int16) + (45 if i >= 40 else 0), 0, 255).astype(np.uint8)
    c = core()
    assert run(c, frames(100, edit=lights)) == []


def test_whole_frame_shift_gives_nothing():
    def shake(i, img):
        dx, dy = (7, 5) if 40 <= i < 46 else (0, 0) if i < 40 else (2, 1)
        return np.roll(img, (dy, dx), axis=(0, 1))
    assert run(core(), frames(100, edit=shake)) == []


def test_fall_still_found_after_a_brightness_jump():
    def lights(i, img):
        return np.clip(img.astype(np.int16) + (40 if i >= 20 else 0), 0, 255).astype(np.uint8)
    events = run(core(), frames(110, drop(10.0, 19.5, t0=1.6), edit=lights))
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(7, 3)]


def test_frame_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="640x480"):
        core().process(np.zeros((100, 100, 3), np.uint8), 0.0)


def test_event_is_frozen_and_serialises_rounded():
    e = ThrowEvent(t_start=1.23456, t_end=2.0, release_t=1.1, origin_floor=3, origin_column=2, origin_m=(5.0, 7.5),
                   confidence=0.8, trajectory=[(1.23456, 100.04, 200.06)], fit={"g_mps2": 9.7})
    doc = e.to_json()
    assert doc["t_start"] == 1.235 and doc["trajectory"] == [[1.235, 100.0, 200.1]] and doc["evidence"] == {}
    with pytest.raises(AttributeError):
        e.t_start = 0  # type: ignore[misc]


def _cloud_shadow(i: int, img: np.ndarray) -> np.ndarray:
    """A soft shadow (up to 40 % darker) drifting across the wall at 120 px/s: every pixel's brightness changes
    a little, all the time."""
    h, w = img.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    cx = -200.0 + 120.0 * i / FPS
    gain = 1.0 - 0.4 * np.exp(-((xs - cx) ** 2 + (0.6 * (ys - 240.0)) ** 2) / (2 * 220.0 ** 2))
    return np.clip(img * gain, 0, 255).astype(np.uint8)


def test_faint_fall_found_under_a_drifting_cloud_shadow():
    # the shadow kept |frame - background| a few grey levels high everywhere; the busy-pixel map learnt that,
    # raised the threshold and left whole parts of the wall out, and a faint object there was never seen
    fall = drop(10.0, 28.5, t0=3.0)

    def shadow_and_faint_object(i: int, img: np.ndarray) -> np.ndarray:
        img = _cloud_shadow(i, img)
        pos = fall(i / FPS)
        if pos is not None:
            x, y = FACADE.facade_to_image(np.array([pos]))[0]
            dark = np.clip(img.astype(np.int16) - 20, 0, 255).astype(np.uint8)
            disc = np.zeros(img.shape, np.uint8)
            cv2.circle(disc, (int(round(x)), int(round(y))), 3, 1, -1)
            img = np.where(disc > 0, dark, img)
        return img
    events = run(core(), frames(150, edit=shadow_and_faint_object))
    assert [(e.origin_floor, e.origin_column) for _, e in events] == [(10, 3)]


def test_drifting_cloud_shadow_alone_gives_nothing():
    assert run(core(), frames(150, edit=_cloud_shadow)) == []
