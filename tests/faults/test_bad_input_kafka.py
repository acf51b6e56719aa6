"""Bad input through real Kafka (issue #8 part 5): ~200 generated bad readings and frames, interleaved with good
ones, go to the real topics; every bad one must come out on the dead-letter topic with a reason (matched by its
bytes), and every good one must be processed by the worker.
"""
from __future__ import annotations

import base64
import json
import random
import typing

import cv2
import numpy as np
import orjson
import pytest

from pipeline.contracts import topic
from pipeline.frames import to_kafka_headers
from pipeline.messages import DeadLetter, FrameHeaders
from tests.integration.kafka_io import produce, read_all, wait_for

pytestmark = pytest.mark.integration
REASONS = set(typing.get_args(DeadLetter.model_fields["reason"].annotation))
SENSORS = {"smoke-t1": "smoke", "smoke-t2": "smoke", "heat-t1": "heat", "pump-t1": "generic"}
TS = 1_795_000_000.0  # in the past: a device clock ahead of ours is a bad_timestamp


def _jpeg(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(width).integers(0, 255, (height, width, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


def good_reading(rng: random.Random, i: int) -> tuple[bytes, bytes]:
    device = rng.choice(sorted(SENSORS))
    doc = {"device": device, "type": SENSORS[device], "ts": TS + i, "values": {"level": rng.random()}}
    return device.encode(), orjson.dumps(doc)


def bad_reading(rng: random.Random, i: int) -> tuple[bytes, bytes, str]:
    """(key, value, expected reason); `i` is in every value, so each is unique on the topic."""
    device = rng.choice(sorted(SENSORS))
    doc = {"device": device, "type": SENSORS[device], "ts": TS + i, "values": {"n": float(i)}}
    raw = json.dumps(doc).encode()
    kind = i % 9
    if kind == 0:
        return device.encode(), raw[:rng.randrange(1, len(raw) - 1)] + b"#" + str(i).encode(), "bad_json"
    if kind == 1:
        return device.encode(), raw.replace(b"%.1f" % float(i), rng.choice([b"NaN", b"Infinity", b"1e999"]))[:-1] + \
            b',"i":%d}' % i, "bad_json"
    if kind == 2:
        return device.encode(), json.dumps({**doc, "extra": i}).encode(), "schema_violation"
    if kind == 3:
        return device.encode(), json.dumps({**doc, "device": f"ghost-{i}"}).encode(), "unknown_device"
    if kind == 4:
        return device.encode(), json.dumps({**doc, "type": "water"}).encode(), "schema_violation"
    if kind == 5:
        return device.encode(), json.dumps({**doc, "ts": 1.0 * i}).encode(), "schema_violation"
    if kind == 6:
        return device.encode(), raw.replace(device.encode(), b"\xff\xfe" + device.encode()), "bad_json"
    if kind == 7:
        return device.encode(), bytes(rng.randrange(256) for _ in range(40)) + b"\x00%d" % i, "bad_json"
    return device.encode(), json.dumps([doc, i]).encode(), "schema_violation"


def bad_frame(rng: random.Random, i: int, jpeg: bytes, good_headers) -> tuple[bytes | None, bytes, list, str]:
    kind = i % 6
    tag = b"\xff\xd9" + str(i).encode()  # after the JPEG's end: makes the value unique
    if kind == 0:
        return b"cam-t1", b"\xff\xd8\xff\xe0 not a jpeg %d" % i, good_headers, "undecodable_image"
    if kind == 1:
        return b"cam-t1", jpeg[:rng.randrange(10, len(jpeg) // 2)] + b"%d" % i, good_headers, "undecodable_image"
    if kind == 2:
        return b"cam-t1", jpeg + tag, [h for h in good_headers if h[0] != "ts"], "bad_headers"
    if kind == 3:
        stranger = to_kafka_headers(FrameHeaders(camera=f"cam-ghost-{i}", ts=TS, seq=i, width=64, height=48))
        return f"cam-ghost-{i}".encode(), jpeg + tag, stranger, "unknown_device"
    if kind == 4:
        wrong = to_kafka_headers(FrameHeaders(camera="cam-t1", ts=TS, seq=i, width=640, height=480))
        return b"cam-t1", jpeg + tag, wrong, "bad_headers"
    return b"cam-t1", jpeg + tag, [(n, b"\xff\xfe" if n == "camera" else v) for n, v in good_headers], "bad_headers"


def test_generated_bad_input_is_all_dead_lettered_and_good_input_all_processed(infra, worker):
    rng = random.Random(8)
    jpeg = _jpeg(64, 48)
    readings_before, frames_before = worker.count("readings"), worker.count("frames")
    readings, frames, expected = [], [], {}
    good_readings = good_frames = 0
    for i in range(120):
        if i % 3 == 0:
            readings.append((*good_reading(rng, i), None))
            good_readings += 1
        key, value, reason = bad_reading(rng, i)
        readings.append((key, value, None))
        expected[value] = reason
    for i in range(90):
        headers = to_kafka_headers(FrameHeaders(camera="cam-t1", ts=TS + i, seq=i, width=64, height=48))
        if i % 3 == 0:
            frames.append((b"cam-t1", jpeg + b"\xff\xd9good%d" % i, headers))
            good_frames += 1
        key, value, hdrs, reason = bad_frame(rng, i, jpeg, headers)
        frames.append((key, value, hdrs))
        expected[value] = reason
    assert len(expected) == 210  # every bad value unique
    assert produce(infra, topic("readings").name, readings) == len(readings)
    assert produce(infra, topic("frames").name, frames) == len(frames)

    def letters():
        found = {}
        for record in read_all(infra, topic("dead_letters").name):
            letter = DeadLetter.model_validate_json(record.value)
            value = base64.b64decode(letter.value_b64)
            if value in expected:
                found[value] = letter
        return found if len(found) == len(expected) else None

    found = wait_for(letters, 90, "every bad message on the dead-letter topic")
    wrong = {v[:60]: (expected[v], d.reason, d.error[:120]) for v, d in found.items() if d.reason != expected[v]}
    assert not wrong
    assert all(d.reason in REASONS and d.source_topic in (topic("readings").name, topic("frames").name)
               for d in found.values())
    wait_for(lambda: worker.count("readings") >= readings_before + good_readings, 60, "every good reading processed")
    wait_for(lambda: worker.count("frames") >= frames_before + good_frames, 60, "every good frame processed")
    assert worker.count("readings") == readings_before + good_readings
    assert worker.count("frames") == frames_before + good_frames
    assert worker.proc.poll() is None
