"""Fuzzing the alert manager's inputs (signals, actions) and the loudspeaker command edge.

Property: garbage gives an error value (the agent dead-letters it), never an exception; a valid message mixed in
is applied (the manager's table holds its incident; a command is acked or played).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import orjson
from hypothesis import given, strategies as st

from pipeline.alerts.manager import AlertingConfig, fingerprint
from pipeline.alerts.service import AlertManagerService
from pipeline.messages import Alert, AlertAction, BroadcastCommand, DeadLetter
from pipeline.runtime import Loudspeakers, Runtime
from pipeline.stats import WorkerStats

from .conftest import fuzz, record, timed

T0 = 1.7e9
ident = st.text("abcdefxyz0123456789-_.:", min_size=1, max_size=20).map(lambda s: "a" + s)
epoch = st.floats(946684800.0, 4102444800.0)
finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 63), finite, st.text(max_size=20))
json_any = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)

ALERT = st.fixed_dictionaries(
    {"id": ident, "type": st.sampled_from(["smoke_alarm", "heat_alarm", "fire_lane_blocked", "x" * 64, "t"]),
     "severity": st.sampled_from(["info", "low", "medium", "high", "critical"]), "site": ident, "device": ident,
     "started_at": epoch, "updated_at": epoch},
    optional={"status": st.sampled_from(["open", "acknowledged", "assigned", "resolved", "false_alarm"]),
              "location": st.text(max_size=40), "title": st.text(max_size=40),
              "details": st.dictionaries(st.text(max_size=8), json_scalar, max_size=3),
              "count": st.integers(1, 10 ** 6), "escalation": st.integers(0, 10),
              "ended_at": st.one_of(st.none(), epoch), "assignee": st.one_of(st.none(), st.text(max_size=20))},
)
BAD_VALUE = st.one_of(json_any, st.sampled_from(["", "x" * 600, -1, 0, 1e300, "bogus", 11, None, [], {}]))
RAW = st.sampled_from([b"NaN", b"Infinity", b"1e999", b"-1e999"])


def mutate(draw, doc: dict, fields: list[str]) -> tuple[bytes, bool]:
    """(bytes, still valid?) from a valid document."""
    kind = draw(st.sampled_from(["valid", "valid", "garbage", "truncated", "drop", "extra", "bad_field", "raw",
                                 "not_object", "invalid_utf8"]))
    raw = json.dumps(doc).encode()
    if kind == "valid":
        return raw, True
    if kind == "garbage":
        return draw(st.binary(max_size=200)), False
    if kind == "truncated":
        return raw[:draw(st.integers(0, len(raw) - 1))], False
    if kind == "drop":
        name = draw(st.sampled_from([f for f in fields if f in doc]))
        return json.dumps({k: v for k, v in doc.items() if k != name}).encode(), False
    if kind == "extra":
        return json.dumps({**doc, "zz_" + draw(st.text(max_size=5)): draw(json_any)}).encode(), False
    if kind == "bad_field":
        return json.dumps({**doc, draw(st.sampled_from(fields)): draw(BAD_VALUE)}).encode(), None
    if kind == "raw":
        field = draw(st.sampled_from([f for f in fields if f in ("started_at", "updated_at", "at", "issued_at",
                                                                 "repeat", "count")]))
        return json.dumps({**doc, field: "@@"}).encode().replace(b'"@@"', draw(RAW)), False
    if kind == "invalid_utf8":
        return json.dumps({**doc, fields[0]: "@@"}).encode().replace(b"@@", b"\xff\xfe"), False
    return json.dumps(draw(st.one_of(json_scalar, st.lists(json_any, max_size=3)))).encode(), False


class Collect:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, channel, key, value):
        self.sent.append((channel, key, value))


class NoSilences:
    async def current(self):
        return []


CFG = AlertingConfig(escalate_after_s=60, remind_after_s=120, tiers=("room", "duty", "manager"))


@st.composite
def signal_cases(draw):
    return mutate(draw, draw(ALERT), ["id", "type", "severity", "site", "device", "started_at", "updated_at"])


@fuzz("alerts.signal")
@given(cases=st.lists(signal_cases(), min_size=1, max_size=4))
def test_alert_signals_garbage_is_an_error_value_valid_is_applied(cases):
    record("alerts.signal")
    send, table = Collect(), {}
    service = AlertManagerService(send, NoSilences(), CFG, Counter())

    async def run():
        for value, valid in cases:
            error = await service.on_signal(value, table)
            try:
                alert = Alert.model_validate_json(value)
            except ValueError:
                assert isinstance(error, str) and error and valid is not True, (value, error)
                continue
            assert error is None
            fp = fingerprint(alert)
            if alert.status.value == "open":  # applied: the incident is in the table and its state is published
                assert table.get(fp) is not None
                assert any(c == "alerts" for c, _k, _v in send.sent)

    with timed("alerts.signal"):
        asyncio.run(run())
    assert all(Alert.model_validate_json(v) for c, _k, v in send.sent if c == "alerts")


@st.composite
def action_cases(draw):
    doc = {"id": draw(ident), "alert_id": "@target", "fingerprint": "@fp",
           "action": draw(st.sampled_from(["acknowledge", "assign", "resolve", "false_alarm", "tick"])),
           "by": draw(st.text(min_size=1, max_size=20)), "at": draw(epoch)}
    if draw(st.booleans()):
        doc["assignee"] = draw(st.one_of(st.none(), st.text(min_size=1, max_size=20)))
    if draw(st.booleans()):
        doc["note"] = draw(st.text(max_size=50))
    return mutate(draw, doc, ["id", "alert_id", "fingerprint", "action", "by", "at"])


@fuzz("alerts.action")
@given(cases=st.lists(action_cases(), min_size=1, max_size=4), other_fp=st.booleans())
def test_alert_actions_garbage_is_an_error_value_valid_is_applied_or_rejected(cases, other_fp):
    record("alerts.action")
    send, table, counts = Collect(), {}, Counter()
    service = AlertManagerService(send, NoSilences(), CFG, counts)
    opened = Alert(id="ep-1", type="smoke_alarm", severity="high", site="s1", device="smoke-1", started_at=T0,
                   updated_at=T0)
    fp = fingerprint(opened)

    async def run():
        assert await service.on_signal(orjson.dumps(opened.model_dump(mode="json")), table) is None
        for value, valid in cases:
            value = value.replace(b"@target", b"ep-1").replace(b"@fp", b"nobody" if other_fp else fp.encode())
            before = (dict(table), len(send.sent), sum(counts.values()))
            error = await service.on_action(value, table)
            try:
                AlertAction.model_validate_json(value)
            except ValueError:
                assert isinstance(error, str) and error and valid is not True
                assert (dict(table), len(send.sent)) == before[:2]  # nothing applied
                continue
            assert error is None

    with timed("alerts.action"):
        asyncio.run(run())
    assert table.get(fp) is not None


# ------------------------------------------------------------------ the loudspeaker command edge
class QuietLoudspeakers(Loudspeakers):
    """The real on_command (validation, policy, acks); playing is recorded instead of spoken and delivered."""

    def __init__(self, runtime):
        self.runtime, self.cfg, self.plays = runtime, runtime.site.broadcast, []

    async def _play(self, play, speaker, speaker_states):
        self.plays.append(play)


async def _never_active(_alert_id):
    return False


COMMAND = st.fixed_dictionaries(
    {"id": ident, "speaker": st.sampled_from(["spk-1", "spk-lane", "spk-nobody"]),
     "priority": st.sampled_from(["evacuation", "fire_lane", "thrown_object", "information"]),
     "text_zh": st.text(min_size=1, max_size=30), "issued_at": st.just(0.0)},
    optional={"text_en": st.text(max_size=30), "repeat": st.integers(1, 10), "zone": st.one_of(st.none(), ident),
              "alert_id": st.one_of(st.none(), ident)},
)


ISSUED = 1111111111.5  # replaced by the current time when the case runs (generation must not read the clock)


@st.composite
def command_cases(draw):
    doc = dict(draw(COMMAND), issued_at=ISSUED)
    return mutate(draw, doc, ["id", "speaker", "priority", "text_zh", "issued_at"])


class Msg:
    key, headers, topic, partition = b"k", [], "sca.broadcast-commands.v1", 0

    def __init__(self, offset):
        self.offset = offset


@fuzz("broadcast.command")
@given(cases=st.lists(command_cases(), min_size=1, max_size=4))
def test_loudspeaker_commands_garbage_is_dead_lettered_valid_is_acked_or_played(site, cases):
    record("broadcast.command")
    send = Collect()
    speakers = QuietLoudspeakers(Runtime(site, send, WorkerStats("fuzz"), _never_active))
    states: dict = {}

    async def run():
        for offset, (value, valid) in enumerate(cases):
            value = value.replace(repr(ISSUED).encode(), repr(time.time()).encode())
            sent_before, plays_before = len(send.sent), len(speakers.plays)
            await speakers.on_command(Msg(offset), value, states)
            new = send.sent[sent_before:]
            try:
                command = BroadcastCommand.model_validate_json(value)
            except ValueError:
                assert valid is not True
                (channel, _k, letter), = new
                assert channel == "dead_letters"
                assert DeadLetter.model_validate_json(letter).reason == "schema_violation"
                continue
            acks = [orjson.loads(v) for c, _k, v in new if c == "broadcast_acks"]
            assert acks or len(speakers.plays) > plays_before, "a valid command was neither acked nor played"
            assert command.speaker in states

    with timed("broadcast.command"):
        asyncio.run(run())
