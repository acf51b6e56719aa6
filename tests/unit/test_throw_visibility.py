"""Visibility of generated throws (benchmarks/throw_visibility.py): the figure the benchmark's recall is broken
down by must rank a dim night object below the same throw by day, and count noise the way the renderer adds it."""
from __future__ import annotations

import cv2
import numpy as np

from benchmarks.throw_scenes import _Renderer, generate
from benchmarks.throw_visibility import by_bin, noise_sigma_working, visibility


def test_night_throw_is_less_visible_than_the_same_throw_by_day():
    day = generate(3, size=(640, 360), n_throws=1, night=False, distractors=[])
    night = generate(3, size=(640, 360), n_throws=1, night=True, distractors=[])
    assert day.throws == night.throws  # same fall, only light and noise differ
    v_day, v_night = visibility(day)[0], visibility(night)[0]
    assert v_day > 2 * v_night > 0


def test_noise_at_working_resolution_matches_the_renderer():
    scene = generate(5, size=(640, 360), n_throws=0, distractors=[], duration_s=2.0)
    frames = list(_Renderer(scene).frames())
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in frames[:20]]
    measured = float(np.std(np.stack(grey) - np.mean(grey, axis=0)) * np.sqrt(20 / 19))
    expected = noise_sigma_working(_Renderer(scene).sigma, factor=1)
    assert abs(measured - expected) < 0.25 * expected


def test_recall_by_bin_counts_every_throw_once():
    rows = [(0.5, False), (3.0, True), (3.9, False), (50.0, True)]
    table = by_bin(rows)
    assert sum(d["throws"] for d in table) == 4
    assert [(d["throws"], d["found"]) for d in table if d["throws"]] == [(1, 0), (2, 1), (1, 1)]
