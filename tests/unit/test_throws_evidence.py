"""Evidence: a readable MJPEG clip from 5 s before the release to 3 s after the end, and an annotated JPEG."""
from __future__ import annotations

import cv2
import pytest

from pipeline.vision.throws.core import ThrowCore
from pipeline.vision.throws.evidence import DirectoryEvidence
from tests.unit.test_throws_helpers import FACADE, FPS, drop, frames


def test_clip_and_image_are_written_after_the_post_roll(tmp_path):
    sink = DirectoryEvidence(tmp_path)
    core = ThrowCore(FACADE, FPS, evidence=sink)
    release = 5.5
    events, clip_done_at = [], None
    for t, frame in frames(int(12 * FPS), drop(6.0, 22.5, t0=release)):
        events += core.process(frame, t)
        if events and clip_done_at is None and sink.written:
            clip_done_at = t
    core.flush(12.0)
    assert len(events) == 1
    e = events[0]
    ev = e.evidence
    assert ev["content_types"] == {"clip": "video/x-msvideo", "image": "image/jpeg"}
    clip, image = tmp_path / ev["clip"], tmp_path / ev["image"]
    # the clip is written by process() once 3 s after the end have been seen, not at the end of the stream
    assert clip_done_at == pytest.approx(e.t_end + 3.0, abs=0.1)
    capture = cv2.VideoCapture(str(clip))
    assert capture.isOpened()
    expected = (5.0 + (e.t_end - e.release_t) + 3.0) * FPS
    assert abs(capture.get(cv2.CAP_PROP_FRAME_COUNT) - expected) <= 3
    ok, first = capture.read()
    assert ok and first.shape[:2] == (240, 320)  # half size keeps the ring small
    img = cv2.imread(str(image))
    assert img is not None and img.shape[:2] == (240, 320)


def test_clip_is_finished_at_end_of_stream_with_the_frames_there_are(tmp_path):
    sink = DirectoryEvidence(tmp_path)
    core = ThrowCore(FACADE, FPS, evidence=sink)
    events = []
    t = 0.0
    for t, frame in frames(int(4.5 * FPS), drop(6.0, 22.5, t0=1.0)):
        events += core.process(frame, t)
    assert len(events) == 1 and sink.written == []  # post-roll not in yet
    core.flush(t)
    capture = cv2.VideoCapture(str(tmp_path / events[0].evidence["clip"]))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == pytest.approx(4.5 * FPS, abs=2)


def test_no_evidence_sink_means_empty_evidence():
    core = ThrowCore(FACADE, FPS)
    events = []
    for t, frame in frames(110, drop(6.0, 22.5, t0=1.0)):
        events += core.process(frame, t)
    assert len(events) == 1 and events[0].evidence == {}
