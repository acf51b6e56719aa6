import cv2
import numpy as np
import pytest

from pipeline.deadletters import BadMessage, dead_letter
from pipeline.frames import decode_jpeg, intake_frame, parse_headers, to_kafka_headers
from pipeline.ingest.camera import encode_jpeg
from pipeline.messages import FrameHeaders


@pytest.fixture(scope="module")
def bus_jpeg(data_dir) -> bytes:
    return (data_dir / "images" / "bus.jpg").read_bytes()


def headers_for(camera="cam-t1", width=810, height=1080, **extra):
    meta = FrameHeaders(camera=camera, ts=1.7e9, seq=7, width=width, height=height)
    return to_kafka_headers(meta) + list(extra.items())


def test_real_jpeg_passes_intake(site, bus_jpeg):
    frame = intake_frame(site, b"cam-t1", headers_for(), bus_jpeg)
    assert frame.image.shape == (1080, 810, 3)
    assert frame.headers.seq == 7 and frame.camera.id == "cam-t1"
    assert frame.nbytes == len(bus_jpeg)


def test_headers_round_trip_through_kafka_text_form():
    meta = parse_headers(headers_for())
    assert meta == FrameHeaders(camera="cam-t1", ts=1.7e9, seq=7, width=810, height=1080)


@pytest.mark.parametrize("payload", [b"", b"\xff\xd8\xff garbage", b"GIF89a....."])
def test_undecodable_payload_is_a_dead_letter_reason(site, payload):
    with pytest.raises(BadMessage) as err:
        intake_frame(site, b"cam-t1", headers_for(), payload)
    assert err.value.reason == "undecodable_image"


def test_truncated_jpeg_is_refused(site, bus_jpeg):
    with pytest.raises(BadMessage) as err:
        intake_frame(site, b"cam-t1", headers_for(), bus_jpeg[: len(bus_jpeg) // 3])
    assert err.value.reason in {"undecodable_image", "bad_headers"}


def test_unknown_camera_and_key_mismatch(site, bus_jpeg):
    with pytest.raises(BadMessage, match="not in site") as err:
        intake_frame(site, b"cam-x", headers_for(camera="cam-x"), bus_jpeg)
    assert err.value.reason == "unknown_device"
    with pytest.raises(BadMessage, match="differs from camera header"):
        intake_frame(site, b"cam-t2", headers_for(), bus_jpeg)


def test_size_in_headers_must_match_the_image(site, bus_jpeg):
    with pytest.raises(BadMessage, match="headers say 640x480"):
        intake_frame(site, b"cam-t1", headers_for(width=640, height=480), bus_jpeg)


@pytest.mark.parametrize("bad", [[("camera", b"cam-t1")], [("camera", b"\xff\xfe"), ("ts", b"1")],
                                 headers_for()[:1] + [("ts", b"NaN"), ("seq", b"1"), ("width", b"1"),
                                                      ("height", b"1")]])
def test_bad_headers(bad):
    with pytest.raises(BadMessage) as err:
        parse_headers(bad)
    assert err.value.reason == "bad_headers"


def test_dead_letter_keeps_the_original_bytes_and_reason():
    import base64

    letter = dead_letter(BadMessage("bad_json", "oops"), topic="t", partition=2, offset=9, key=b"k",
                         value=b"\x00\x01", headers=[("h", b"v")], now=1.7e9, worker="w")
    assert base64.b64decode(letter.value_b64) == b"\x00\x01"
    assert base64.b64decode(letter.key_b64) == b"k"
    assert letter.reason == "bad_json" and letter.offset == 9 and letter.headers == {"h": "dg=="}


def test_encoder_keeps_frames_under_the_topic_limit(bus_jpeg):
    image = decode_jpeg(bus_jpeg)
    noisy = np.random.default_rng(0).integers(0, 255, image.shape, dtype=np.uint8)  # incompressible
    data, w, h = encode_jpeg(noisy, 95, 150_000)
    assert len(data) <= 150_000
    assert (w, h) < (image.shape[1], image.shape[0])
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (h, w)
    small, w2, h2 = encode_jpeg(image, 85, 10_000_000)
    assert (w2, h2) == (810, 1080)


def test_validation_only_decode_is_reduced_but_still_checks_size_and_integrity(site, bus_jpeg):
    from pipeline.frames import VALIDATE_ONLY

    frame = intake_frame(site, b"cam-t1", headers_for(), bus_jpeg, lambda _c: VALIDATE_ONLY)
    assert frame.scale == 8 and frame.image.shape == (135, 102)
    with pytest.raises(BadMessage, match="the JPEG is 810x1080"):  # read from its header, before decoding
        intake_frame(site, b"cam-t1", headers_for(width=1600, height=1080), bus_jpeg, lambda _c: VALIDATE_ONLY)
    with pytest.raises(BadMessage) as err:
        intake_frame(site, b"cam-t1", headers_for(), bus_jpeg[: len(bus_jpeg) // 2], lambda _c: VALIDATE_ONLY)
    assert err.value.reason == "undecodable_image"


def test_processors_choose_the_decode_mode(site):
    from pipeline.frames import FULL_GRAY, VALIDATE_ONLY
    from pipeline.processing import Processors

    class GrayCore:
        decode_mode = FULL_GRAY

        def process(self, frame):
            return []

    processors = Processors(site, {"general": lambda _site, _camera: GrayCore()})
    assert processors.decode_mode(site.camera("cam-t1")) == FULL_GRAY
    assert Processors(site, {}).decode_mode(site.camera("cam-t1")) == VALIDATE_ONLY
