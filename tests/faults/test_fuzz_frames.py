"""Fuzzing the frames edge: `intake_frame` and the frames agent's handler (`Runtime.on_frame`).

Property: a frame message is either accepted (decoded, its size agreeing with its headers) or refused with a
`BadMessage` whose reason is one of DeadLetter.reason's values; nothing else escapes, nothing hangs, and a
good frame right after a bad one is still accepted.
"""
from __future__ import annotations

import asyncio
import base64
import time
import typing
from types import SimpleNamespace

import cv2
import numpy as np
import orjson
import pytest
from hypothesis import given, strategies as st

from pipeline.deadletters import BadMessage
from pipeline.frames import FULL_COLOR, HALF_COLOR, VALIDATE_ONLY, intake_frame, to_kafka_headers
from pipeline.messages import DeadLetter, FrameHeaders
from pipeline.runtime import Runtime
from pipeline.stats import WorkerStats

from .conftest import fuzz, record, timed

REASONS = set(typing.get_args(DeadLetter.model_fields["reason"].annotation))
CAMERAS = ["cam-t1", "cam-t2", "cam-lane-t"]
MODES = [FULL_COLOR, HALF_COLOR, VALIDATE_ONLY]
TS = 1.7e9


def _jpeg(width: int, height: int, seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


# Small JPEGs keep a case around a millisecond; odd sizes exercise the reduced-scale rounding.
JPEGS = {(w, h): _jpeg(w, h, w * h) for w, h in [(16, 16), (33, 17), (64, 48), (9, 71)]}
SIZES = sorted(JPEGS)


def headers(camera: str, width: int, height: int, seq: int = 1, ts: float = TS) -> list[tuple[str, bytes]]:
    return to_kafka_headers(FrameHeaders(camera=camera, ts=ts, seq=seq, width=width, height=height))


def good_frame(camera: str = "cam-t1", size=(64, 48)):
    return camera.encode(), headers(camera, *size), JPEGS[size]


def with_sof(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size."""
    out = bytearray(data)
    at = out.find(b"\xff\xc0")
    out[at + 5:at + 7] = height.to_bytes(2, "big")
    out[at + 7:at + 9] = width.to_bytes(2, "big")
    return bytes(out)


# ------------------------------------------------------------------ strategies
header_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "1e20", "1e999", "nan", "NaN", "inf", "-inf", "Infinity", "1_000", " 1 ", "0x10",
                     "946684799", "4102444801", "9" * 5000, "²", "١", "𝟙", "1.5", "true", "null", "[]", "{}"]),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
header_value = st.one_of(header_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=24))
FIELDS = ["camera", "ts", "seq", "width", "height", "content_type", "v"]


# Strategies are built once: constructing them inside the composite costs more than the intake itself.
KINDS = st.sampled_from(["valid", "drop_header", "extra_header", "header_value", "duplicate_header", "wrong_size",
                         "ts_far", "unknown_camera", "key", "garbage", "truncated", "corrupt", "sof", "huge",
                         "no_headers", "mixed"])
INDEX = st.integers(0, 2 ** 20)
BYTE = st.integers(0, 255)
SEQ = st.integers(0, 2 ** 63 - 1)
GOOD_TS = st.floats(946684800.0, 1.79e9)  # the past: a time ahead of the clock is a bad_timestamp
ANY_TS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2 ** 64), 2 ** 64))
SIZE = st.integers(-5, 20000)
SOF_SIZE = st.integers(0, 600)
FIELD = st.sampled_from(FIELDS)
EXTRA_NAME = st.text(max_size=20).filter(lambda n: n not in FIELDS)
STRANGER = st.builds(lambda head, tail: head + tail, st.sampled_from(["cam-", "x", "CAM", "9", "cam-t1.", "cam-t"]),
                     st.text("abcxyz019_.:-", max_size=30)).filter(lambda c: c not in CAMERAS)
KEY = st.binary(max_size=40)
GARBAGE = st.binary(max_size=2000)
MIXED_HEADERS = st.lists(st.tuples(st.sampled_from(FIELDS + ["x", ""]), header_value), max_size=10)
NO_HEADERS = st.sampled_from([None, [], {}])


@st.composite
def frame_cases(draw):
    """(what was done, key, headers, value, reasons it may be refused with; empty = must be accepted)."""
    camera = draw(st.sampled_from(CAMERAS))
    size = draw(st.sampled_from(SIZES))
    key, hdrs, value = good_frame(camera, size)
    kind = draw(KINDS)
    allowed: set[str] = set()
    if kind == "valid":
        hdrs = headers(camera, *size, seq=draw(SEQ), ts=draw(GOOD_TS))
        if draw(st.booleans()):
            key = None
    elif kind == "drop_header":
        name = draw(FIELD)
        hdrs = [h for h in hdrs if h[0] != name]
        allowed = set() if name in ("content_type", "v") else {"bad_headers"}
    elif kind == "extra_header":
        hdrs = hdrs + [(draw(EXTRA_NAME), draw(header_value))]
        allowed = {"bad_headers"}
    elif kind == "header_value":
        name = draw(FIELD)
        hdrs = [(n, draw(header_value) if n == name else v) for n, v in hdrs]
        allowed = {"bad_headers", "unknown_device", "undecodable_image", "ok"}
    elif kind == "duplicate_header":  # Kafka allows a header name twice; the last one wins
        name = draw(FIELD)
        hdrs = hdrs + [(name, dict(hdrs)[name])]
    elif kind == "wrong_size":
        width, height = draw(SIZE), draw(SIZE)
        hdrs = [(n, str(width).encode() if n == "width" else str(height).encode() if n == "height" else v)
                for n, v in hdrs]
        allowed = {"bad_headers"} if (width, height) != size else set()
    elif kind == "ts_far":
        ts = draw(ANY_TS)
        hdrs = [(n, repr(ts).encode() if n == "ts" else v) for n, v in hdrs]
        allowed = {"bad_headers", "bad_timestamp", "ok"}  # in 2000..2100 and not ahead of our clock: accepted
    elif kind == "unknown_camera":
        other = draw(STRANGER)
        hdrs = [(n, other.encode() if n == "camera" else v) for n, v in hdrs]
        key = other.encode() if draw(st.booleans()) else None
        allowed = {"unknown_device", "bad_headers"}  # bad_headers: a name the Identifier pattern refuses
    elif kind == "key":
        key = draw(KEY)
        allowed = set() if key.decode("utf-8", "replace") == camera else {"bad_headers"}
    elif kind == "garbage":
        value = draw(GARBAGE)
        allowed = {"undecodable_image", "bad_headers", "ok"}  # random bytes are (nearly) never a JPEG
    elif kind == "truncated":
        value = value[:draw(INDEX) % len(value)]
        allowed = {"undecodable_image", "bad_headers", "ok"}
    elif kind == "corrupt":
        data = bytearray(value)
        for _ in range(1 + draw(INDEX) % 8):
            data[draw(INDEX) % len(data)] = draw(BYTE)
        value = bytes(data)
        allowed = {"undecodable_image", "bad_headers", "ok"}
    elif kind == "sof":  # the JPEG's own header lies about its size
        width, height = draw(SOF_SIZE), draw(SOF_SIZE)
        value = with_sof(value, width, height)
        if draw(st.booleans()):
            hdrs = headers(camera, max(width, 1), max(height, 1))
        allowed = {"undecodable_image", "bad_headers", "ok"}
    elif kind == "huge":  # a big message: a JPEG followed by up to 3 MB, or megabytes of one byte
        tail = bytes([draw(BYTE)]) * (draw(INDEX) * 3)
        value = value + tail if draw(st.booleans()) else tail
        allowed = {"undecodable_image", "ok"}
    elif kind == "no_headers":
        hdrs = draw(NO_HEADERS)
        allowed = {"bad_headers"}
    else:  # several things at once
        hdrs = draw(MIXED_HEADERS)
        value = draw(st.sampled_from([value, b"", value[:10], value + b"\0" * 100]))
        key = draw(st.one_of(st.none(), KEY))
        allowed = {"bad_headers", "unknown_device", "undecodable_image", "ok"}
    return kind, key, hdrs, value, allowed, size


def check_intake(site, key, hdrs, value, allowed, mode):
    try:
        frame = intake_frame(site, key, hdrs, value, lambda _camera: mode)
    except BadMessage as exc:
        assert exc.reason in REASONS, exc.reason
        assert allowed, f"a valid frame was refused: {exc}"
        assert exc.reason in allowed, f"{exc.reason} not in {allowed}: {exc}"
        return exc.reason
    assert not allowed or "ok" in allowed, f"accepted, expected one of {allowed}"
    height, width = frame.image.shape[:2]
    assert (width, height) == (-(-frame.headers.width // frame.scale), -(-frame.headers.height // frame.scale))
    return "accepted"


@fuzz("frames")
@given(case=frame_cases(), mode=st.sampled_from(MODES))
def test_intake_frame_refuses_bad_frames_with_a_reason(site, case, mode):
    kind, key, hdrs, value, allowed, _size = case
    record("frames")
    with timed("frames"):
        check_intake(site, key, hdrs, value, allowed, mode)
        # the stream goes on: a good frame right after is accepted
        check_intake(site, *good_frame(), set(), mode)


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, channel, key, value):
        self.sent.append((channel, key, value))


async def _never_active(_alert_id):
    return False


@fuzz("frames.runtime")
@given(case=frame_cases(), offset=st.integers(0, 2 ** 62))
def test_frames_handler_dead_letters_every_refused_frame(site, case, offset):
    """The frames agent's handler (no vision core: validate-only decode): one dead letter or one counted frame."""
    kind, key, hdrs, value, allowed, _size = case
    record("frames.runtime")
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    message = SimpleNamespace(key=key, headers=hdrs, topic="sca.camera-frames.v1", partition=0, offset=offset)
    with timed("frames.runtime"):
        asyncio.run(runtime.on_frame(message, value, {}))
    letters = [DeadLetter.model_validate_json(v) for c, _k, v in send.sent if c == "dead_letters"]
    assert runtime.stats.counts["frames"] + len(letters) == 1
    if letters:
        assert letters[0].reason in REASONS and base64.b64decode(letters[0].value_b64) == value
        assert letters[0].offset == offset


@fuzz("frames.seq")
@given(seqs=st.lists(st.integers(0, 2 ** 63 - 1), min_size=1, max_size=30))
def test_duplicate_and_out_of_order_sequence_numbers_are_not_checked(site, seqs):
    """The intake does not look at `seq` (documented in the report): repeats and reordering are accepted, and the
    device board keeps the last one seen. Nothing crashes."""
    record("frames.seq")
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)

    async def run():
        for i, seq in enumerate(seqs):
            message = SimpleNamespace(key=b"cam-t1", headers=headers("cam-t1", 64, 48, seq=seq), topic="f",
                                      partition=0, offset=i)
            await runtime.on_frame(message, JPEGS[(64, 48)], {})

    with timed("frames.seq"):
        asyncio.run(run())
    assert runtime.stats.counts["frames"] == len(seqs) and not send.sent
    assert runtime.devices.latest["cam-t1"]["seq"] == seqs[-1]
    runtime.devices.drain()  # seq below 2**63: the board still publishes


def test_far_future_frame_timestamp_is_a_bad_timestamp(site):
    """A camera clock far ahead would stall the camera's timers: refused with `bad_timestamp` (10 min of skew is
    allowed)."""
    key, _hdrs, value = good_frame()
    with pytest.raises(BadMessage) as refused:
        intake_frame(site, key, headers("cam-t1", 64, 48, ts=4.1e9), value)
    assert refused.value.reason == "bad_timestamp"
    ahead = time.time() + 300
    assert intake_frame(site, key, headers("cam-t1", 64, 48, ts=ahead), value).headers.ts == ahead


def test_tiny_jpeg_claiming_a_huge_size_is_refused_cheaply(site):
    value = with_sof(JPEGS[(16, 16)], 8192, 8192)
    assert len(value) < 1000
    # checked at the cheap 1/8 scale so the suite stays fast; the vision cores decode FULL_COLOR (the cost above)
    with pytest.raises(BadMessage):
        intake_frame(site, b"cam-lane-t", headers("cam-lane-t", 8192, 8192), value, lambda _c: VALIDATE_ONLY)


def test_a_dead_letter_of_a_frame_is_json_with_the_original_bytes(site):
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    message = SimpleNamespace(key=b"cam-t1", headers=[("camera", b"\xff")], topic="t", partition=3, offset=9)
    asyncio.run(runtime.on_frame(message, b"\x00\x01", {}))
    (channel, _key, value), = send.sent
    letter = orjson.loads(value)
    assert channel == "dead_letters" and letter["reason"] == "bad_headers"
    assert base64.b64decode(letter["value_b64"]) == b"\x00\x01" and letter["headers"] == {"camera": "/w=="}


def test_a_frame_with_a_huge_sequence_number_does_not_stop_device_health(site):
    """seq beyond 64 bits is a bad header (it would break every JSON writer downstream); the next frame still
    reaches device health."""
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    huge = [(k, b"18446744073709551616" if k == "seq" else v) for k, v in headers("cam-t1", 64, 48)]
    message = SimpleNamespace(key=b"cam-t1", headers=huge, topic="f", partition=0, offset=0)
    asyncio.run(runtime.on_frame(message, JPEGS[(64, 48)], {}))
    assert [orjson.loads(v)["reason"] for c, _k, v in send.sent if c == "dead_letters"] == ["bad_headers"]
    good = SimpleNamespace(key=b"cam-t1", headers=headers("cam-t1", 64, 48, seq=2), topic="f", partition=0, offset=1)
    asyncio.run(runtime.on_frame(good, JPEGS[(64, 48)], {}))
    changed, _series = runtime.devices.drain()
    assert "cam-t1" in changed


@pytest.mark.parametrize("version", ["²".encode(), "³".encode(), "①".encode(), b"9" * 5000])
def test_a_version_header_of_unicode_digits_is_a_dead_letter(site, version):
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    hdrs = [(n, version if n == "v" else v) for n, v in headers("cam-t1", 64, 48)]
    message = SimpleNamespace(key=b"cam-t1", headers=hdrs, topic="f", partition=0, offset=0)
    asyncio.run(runtime.on_frame(message, JPEGS[(64, 48)], {}))
    assert [c for c, _k, _v in send.sent] == ["dead_letters"]
