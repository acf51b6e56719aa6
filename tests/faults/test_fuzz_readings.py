"""Fuzzing the sensor edges: `parse_reading` (readings topic), the readings handler, the gateway's
`validate_payload`, its HTTP app and the MQTT bridge's `handle_payload`.

Property: every payload is either accepted whole or refused with a dead-letter reason (and, at the gateway,
nothing of a refused payload is sent); no other exception, no hang; a good reading after a bad one still passes.
"""
from __future__ import annotations

import asyncio
import base64
import json
import typing
from types import SimpleNamespace

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, strategies as st

from pipeline.deadletters import BadMessage
from pipeline.gateway import http_api, mqtt_bridge
from pipeline.gateway.batch import MAX_BATCH, BatchRejected, validate_payload
from pipeline.gateway.http_api import create_http_app
from pipeline.gateway.mqtt_bridge import handle_payload
from pipeline.messages import DeadLetter, SensorReading
from pipeline.readings import parse_reading
from pipeline.runtime import Runtime
from pipeline.stats import WorkerStats

from .conftest import fuzz, record, timed

REASONS = set(typing.get_args(DeadLetter.model_fields["reason"].annotation))
SENSORS = {"smoke-t1": "smoke", "smoke-t2": "smoke", "heat-t1": "heat", "pump-t1": "generic", "heat-k1": "heat"}
TYPES = ["smoke", "heat", "gas", "manhole", "elevator", "door", "water", "motion", "generic"]
FIELDS = ["device", "type", "ts", "values", "battery", "alarm", "v"]

# ------------------------------------------------------------------ strategies (built once)
finite = st.floats(allow_nan=False, allow_infinity=False)
value_key = st.one_of(st.sampled_from(["obscuration_pct", "temp_c", "rate_c_per_min", "ppm", "level"]),
                      st.text(min_size=1, max_size=64))
GOOD = st.fixed_dictionaries(
    {"device": st.sampled_from(sorted(SENSORS)), "ts": st.floats(946684800.0, 1.79e9)},
    optional={"values": st.dictionaries(value_key, finite, max_size=6), "battery": st.floats(0, 100),
              "alarm": st.one_of(st.none(), st.booleans()), "v": st.just(1)},
).map(lambda d: {**d, "type": SENSORS[d["device"]]})
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 64), 2 ** 64), finite, st.text(max_size=20))
json_any = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)
BAD_FIELD_VALUE = st.one_of(json_any, st.sampled_from([
    "", "x" * 129, "smoke t1", "-lead", "ünïcode", -1, 0, 946684799.9, 4102444800.1, 1e300, -1e300,
    {"": 1.0}, {"k" * 65: 1.0}, {"a": "1"}, {"a": None}, {"a": [1]}, 101, -0.1, "yes", 2, "1"]))
RAW_TOKENS = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"nan", b"1e-999", b"0x10",
                              b"01", b"1.", b".5", b"+1", b"9" * 400])
INDEX = st.integers(0, 2 ** 20)
BYTE = st.integers(0, 255)
STRANGER = st.builds(lambda a, b: a + b, st.sampled_from(["smoke-t", "heat-", "x", "9", "pump-t1."]),
                     st.text("abz0129-_.:", max_size=20)).filter(lambda d: d not in SENSORS)
KINDS = st.sampled_from(["valid", "drop", "extra", "bad_field", "raw_token", "invalid_utf8", "truncated", "garbage",
                         "not_object", "unknown_device", "wrong_type", "far_ts", "huge", "deep", "duplicate_key"])


def dumps(doc) -> bytes:
    """stdlib json: it writes integers beyond 64 bits, which orjson refuses (the parser still has to take them)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()


@st.composite
def reading_cases(draw):
    """(kind, payload bytes, reasons it may be refused with: empty = must be accepted)."""
    doc = dict(draw(GOOD))
    kind = draw(KINDS)
    if kind == "valid":
        return kind, dumps(doc), set()
    if kind == "drop":
        doc.pop(draw(st.sampled_from(["device", "type", "ts"])))
        return kind, dumps(doc), {"schema_violation"}
    if kind == "extra":
        name = draw(st.text(max_size=12).filter(lambda n: n not in FIELDS))
        return kind, dumps({**doc, name: draw(json_any)}), {"schema_violation"}
    if kind == "bad_field":
        doc[draw(st.sampled_from(FIELDS))] = draw(BAD_FIELD_VALUE)
        return kind, dumps(doc), {"schema_violation", "unknown_device", "ok"}
    if kind == "raw_token":  # NaN, Infinity, 1e999 ... spliced in where a number goes
        field = draw(st.sampled_from(["ts", "battery", "value"]))
        token = draw(RAW_TOKENS)
        if field == "value":
            doc["values"] = {"x": "@@"}
        else:
            doc[field] = "@@"
        return kind, dumps(doc).replace(b'"@@"', token), {"bad_json", "schema_violation", "ok"}
    if kind == "invalid_utf8":
        raw = dumps({**doc, "device": "@@"})
        return kind, raw.replace(b"@@", draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"]))), \
            {"bad_json"}
    if kind == "truncated":
        raw = dumps(doc)
        return kind, raw[:draw(INDEX) % len(raw)], {"bad_json"}
    if kind == "garbage":
        return kind, draw(st.binary(max_size=300)), {"bad_json", "schema_violation"}
    if kind == "not_object":
        return kind, dumps(draw(st.one_of(json_scalar, st.lists(json_any, max_size=3)))), {"schema_violation"}
    if kind == "unknown_device":
        doc["device"] = draw(STRANGER)
        return kind, dumps(doc), {"unknown_device"}
    if kind == "wrong_type":
        doc["type"] = draw(st.sampled_from([t for t in TYPES if t != doc["type"]]))
        return kind, dumps(doc), {"schema_violation"}
    if kind == "far_ts":
        doc["ts"] = draw(st.one_of(st.floats(max_value=946684799.99, allow_nan=False, allow_infinity=False),
                                   st.floats(min_value=4102444800.01, allow_nan=False, allow_infinity=False)))
        return kind, dumps(doc), {"schema_violation"}
    if kind == "huge":  # 2,000..20,000 values, or a megabyte string
        if draw(st.booleans()):
            doc["values"] = {f"v{i}": float(i) for i in range(2000 * (1 + draw(INDEX) % 10))}
            return kind, dumps(doc), set()
        doc["device"] = "x" * (1 << 20)
        return kind, dumps(doc), {"schema_violation"}
    if kind == "deep":  # nesting beyond any parser's patience
        depth = 100 + draw(INDEX) % 5000
        return kind, b'{"device":' + b"[" * depth + b"]" * depth + b"}", {"bad_json", "schema_violation"}
    # duplicate keys: the last one wins in orjson
    raw = dumps(doc)
    return kind, raw[:-1] + b',"device":"' + doc["device"].encode() + b'"}', set()


def check_parse(site, payload, allowed):
    try:
        reading, sensor = parse_reading(site, payload)
    except BadMessage as exc:
        assert exc.reason in REASONS
        assert allowed, f"a valid reading was refused: {exc}"
        assert exc.reason in allowed, f"{exc.reason} not in {allowed}: {exc}"
        return
    assert not allowed or "ok" in allowed, f"accepted, expected one of {allowed}"
    assert sensor.id == reading.device and sensor.type == reading.type


GOOD_READING = dumps({"device": "smoke-t1", "type": "smoke", "ts": 1.7e9, "values": {"obscuration_pct": 1.0}})


@fuzz("readings")
@given(case=reading_cases())
def test_parse_reading_refuses_bad_readings_with_a_reason(site, case):
    record("readings")
    _kind, payload, allowed = case
    with timed("readings"):
        check_parse(site, payload, allowed)
        check_parse(site, GOOD_READING, set())


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, channel, key, value):
        self.sent.append((channel, key, value))


async def _never_active(_alert_id):
    return False


@fuzz("readings.runtime")
@given(cases=st.lists(reading_cases(), min_size=1, max_size=4))
def test_readings_handler_dead_letters_every_refused_reading(site, cases):
    """The readings agent's handler, a few messages in a row on one state: one dead letter or one counted reading
    each; the sensor rules never raise on what the schema lets through."""
    record("readings.runtime")
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    beats, rules, episodes = {}, {}, {}

    async def run():
        for offset, (_kind, payload, _allowed) in enumerate(cases):
            message = SimpleNamespace(key=b"k", headers=[], topic="sca.sensor-readings.v1", partition=0, offset=offset)
            await runtime.on_reading(message, payload, beats, rules, episodes)

    with timed("readings.runtime"):
        asyncio.run(run())
    letters = [DeadLetter.model_validate_json(v) for c, _k, v in send.sent if c == "dead_letters"]
    assert runtime.stats.counts["readings"] + len(letters) == len(cases)
    assert all(d.reason in REASONS for d in letters)
    must_refuse = [p for _k, p, a in cases if a and "ok" not in a]
    must_accept = [p for _k, p, a in cases if not a]
    dead = [base64.b64decode(d.value_b64) for d in letters]
    assert len(must_refuse) <= len(dead) <= len(cases) - len(must_accept)
    assert all(p in dead for p in must_refuse)
    runtime.devices.drain()


def test_a_reading_from_a_clock_far_ahead_does_not_mute_the_device(site):
    send = Recorder()
    runtime = Runtime(site, send, WorkerStats("fuzz"), _never_active)
    beats, rules, episodes = {}, {}, {}
    steps = [(4.0e9, True), (1.7e9, False), (1.7e9 + 60, True), (1.7e9 + 120, False)]

    async def run():
        for offset, (ts, alarm) in enumerate(steps):
            payload = dumps({"device": "smoke-t1", "type": "smoke", "ts": ts, "alarm": alarm})
            message = SimpleNamespace(key=b"smoke-t1", headers=[], topic="t", partition=0, offset=offset)
            await runtime.on_reading(message, payload, beats, rules, episodes)

    asyncio.run(run())
    dead = [orjson.loads(v)["reason"] for c, _k, v in send.sent if c == "dead_letters"]
    statuses = [orjson.loads(v)["status"] for c, _k, v in send.sent if c == "alert_signals"]
    assert dead == ["bad_timestamp"] or "resolved" in statuses, (dead, statuses)


# ------------------------------------------------------------------ the gateway: all-or-nothing batches
ITEM = st.one_of(GOOD.map(lambda d: ("good", d)),
                 GOOD.map(lambda d: ("unknown", {**d, "device": "nobody-1"})),
                 GOOD.map(lambda d: ("wrong_type", {**d, "type": "water" if d["type"] != "water" else "gas"})),
                 st.tuples(st.just("bad"), st.one_of(json_scalar, st.lists(json_any, max_size=2))),
                 st.tuples(st.sampled_from(FIELDS), BAD_FIELD_VALUE, GOOD).map(
                     lambda fvd: ("maybe", {**fvd[2], fvd[0]: fvd[1]})))
SHAPE = st.sampled_from(["list", "wrapped", "single", "wrapped_extra", "scalar"])


def check_batch(site, shape, items, device_from_topic=None):
    docs = [d for _k, d in items]
    doc = {"list": docs, "wrapped": {"readings": docs}, "single": docs[0] if docs else {},
           "wrapped_extra": {"readings": docs, "extra": 1}, "scalar": 7}[shape]
    body = dumps(doc)
    try:
        readings = validate_payload(site, body, device_from_topic)
    except BatchRejected as exc:
        assert exc.reason in REASONS
        expected_bad = {i for i, (kind, _d) in enumerate(items) if kind != "good"}
        if shape in ("list", "wrapped") and 0 < len(items) <= MAX_BATCH and device_from_topic is None:
            named = {p.index for p in exc.problems}
            assert named <= set(range(len(items))) and expected_bad - {i for i, (k, _d) in enumerate(items)
                                                                       if k == "maybe"} <= named
            assert all(p.field for p in exc.problems)
        return exc.reason
    assert shape in ("list", "wrapped", "single")
    expect = docs if shape != "single" else docs[:1]
    assert len(readings) == len(expect) and all(isinstance(r, SensorReading) for r in readings)
    assert all(kind in ("good", "maybe") for kind, _d in (items if shape != "single" else items[:1]))
    if device_from_topic is not None:
        assert {r.device for r in readings} == {device_from_topic}
    return "accepted"


@fuzz("gateway.batch")
@given(shape=SHAPE, items=st.lists(ITEM, max_size=8))
def test_gateway_batches_are_all_or_nothing(site, shape, items):
    record("gateway.batch")
    with timed("gateway.batch"):
        check_batch(site, shape, items)
        assert validate_payload(site, GOOD_READING)[0].device == "smoke-t1"


def test_a_batch_over_the_limit_is_too_large(site):
    body = dumps([orjson.loads(GOOD_READING)] * (MAX_BATCH + 1))
    with pytest.raises(BatchRejected) as err:
        validate_payload(site, body)
    assert err.value.reason == "too_large"


@pytest.fixture(scope="module")
def gateway(site):
    sent: list[list[SensorReading]] = []

    def send(readings):
        sent.append(readings)
        return len(readings)

    return TestClient(create_http_app(site, send), raise_server_exceptions=False), sent


BODY = st.one_of(
    st.tuples(SHAPE, st.lists(ITEM, max_size=5)).map(lambda si: dumps(
        {"list": [d for _k, d in si[1]], "wrapped": {"readings": [d for _k, d in si[1]]},
         "single": si[1][0][1] if si[1] else {}, "wrapped_extra": {"readings": []}, "scalar": "x"}[si[0]])),
    reading_cases().map(lambda c: c[1]),
    st.binary(max_size=200),
)


@fuzz("gateway.http")
@given(body=BODY, oversized=st.integers(0, 40))
def test_http_gateway_answers_400_413_422_or_202_and_sends_nothing_refused(gateway, body, oversized):
    record("gateway.http")
    client, sent = gateway
    if oversized == 0:  # now and then a body over the limit, with and without Content-Length
        body = b"[" + b" " * http_api.MAX_BODY_BYTES + b"]"
    before = len(sent)
    with timed("gateway.http"):
        if oversized == 1:
            response = client.post("/v1/readings", content=iter([body[:1000], body[1000:]]))
        else:
            response = client.post("/v1/readings", content=body)
    assert response.status_code in (202, 400, 413, 422), (response.status_code, response.text[:500])
    answer = response.json()
    if response.status_code == 202:
        assert len(sent) == before + 1 and answer["accepted"] == len(sent[-1]) >= 1
        return
    assert len(sent) == before, "a refused payload was (partly) sent"
    assert answer["error"] in REASONS and answer["accepted"] == 0
    assert {400: "bad_json", 413: "too_large"}.get(response.status_code, answer["error"]) == answer["error"]
    if response.status_code == 422:
        assert answer["problems"] and all({"index", "field", "message"} <= set(p) for p in answer["problems"])


class FakeSink:
    def __init__(self):
        self.readings: list = []
        self.letters: list[DeadLetter] = []

    def send_readings(self, readings):
        self.readings.append(readings)

    def send_dead_letter(self, letter):
        self.letters.append(DeadLetter.model_validate(letter.model_dump()))


MQTT_DEVICE = st.one_of(st.sampled_from(sorted(SENSORS)), st.text(max_size=40),
                        st.text(alphabet="abc-1", min_size=1, max_size=8))


@fuzz("gateway.mqtt")
@given(device=MQTT_DEVICE, body=BODY, mid=st.integers(0, 65535), oversized=st.integers(0, 40))
def test_mqtt_payloads_are_forwarded_whole_or_dead_lettered(site, device, body, mid, oversized):
    record("gateway.mqtt")
    if oversized == 0:
        body = b"[" + b" " * mqtt_bridge.MAX_PAYLOAD_BYTES + b"]"
    sink = FakeSink()
    with timed("gateway.mqtt"):
        outcome = handle_payload(site, sink, f"sca/readings/{device}", body, mid)
    if outcome == "accepted":
        assert len(sink.readings) == 1 and not sink.letters
        assert {r.device for r in sink.readings[0]} == {device}
        return
    assert outcome in REASONS and not sink.readings and len(sink.letters) == 1
    letter = sink.letters[0]
    assert letter.reason == outcome and base64.b64decode(letter.value_b64) == body and letter.offset == mid
    if oversized == 0:
        assert outcome == "too_large"


def test_a_long_mqtt_topic_is_dead_lettered_not_a_poison_message(site):
    sink = FakeSink()
    assert handle_payload(site, sink, "sca/readings/" + "d" * 300, GOOD_READING, 1) == "schema_violation"
