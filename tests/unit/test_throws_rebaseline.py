"""After the background is re-baselined (the view changed at once: the camera knocked, lights over half the
wall), the mask must settle within a few frames, not keep a second of noise blobs: those blobs were joined into
false "falls" (dev distractor seeds 5036, 5087)."""
from __future__ import annotations

import numpy as np

from pipeline.vision.throws.foreground import Foreground
from tests.unit.test_throws_helpers import FACADE, frames


def _knocked(i: int, img: np.ndarray) -> np.ndarray:
    """From frame 60 on the view sits 40 px to the right: too far to compensate, so the background re-baselines."""
    return np.roll(img, 40, axis=1) if i >= 60 else img


def _blob_counts() -> tuple[list[str], list[int]]:
    fg = Foreground(FACADE, FACADE.image_size)
    statuses, counts = [], []
    for _, frame in frames(100, noise=3.0, edit=_knocked):
        blobs = fg.process(frame)
        statuses.append(blobs.status)
        counts.append(len(blobs.areas))
    return statuses, counts


def test_noise_settles_within_a_few_frames_of_a_rebaseline():
    statuses, counts = _blob_counts()
    assert statuses[60] == "rebaseline"
    assert sum(counts[35:60]) <= 15, "the settled view before the knock should be nearly free of blobs"
    # from the 5th frame after the knock on, as quiet as before it (at the normal learning rate this was ~250
    # blobs: the background was one noisy frame for about a second)
    assert sum(counts[65:90]) <= 15
