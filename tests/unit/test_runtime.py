"""The agents' handlers driven without Kafka: tables are dicts, sends are recorded."""
import asyncio
from types import SimpleNamespace

import orjson

from pipeline.alerts import manager
from pipeline.messages import Alert
from pipeline.runtime import Runtime
from pipeline.stats import WorkerStats


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def __call__(self, channel, key, value):
        self.sent.append((channel, key, value))

    def on(self, channel):
        return [orjson.loads(v) for c, _, v in self.sent if c == channel]


def message(value: bytes, offset=0, topic="sca.sensor-readings.v1"):
    return SimpleNamespace(key=b"smoke-t1", headers=[], topic=topic, partition=0, offset=offset, value=value)


async def not_active(_alert_id):
    return False


def make_runtime(site):
    send = Recorder()
    return Runtime(site, send, WorkerStats("w-test"), not_active), send


def test_redelivered_alarm_reading_gives_one_alert(site):
    runtime, send = make_runtime(site)
    beats, rules, episodes = {}, {}, {}
    value = orjson.dumps({"device": "smoke-t1", "type": "smoke", "ts": 1.7e9, "alarm": True})

    async def scenario():
        await runtime.on_reading(message(value, 1), value, beats, rules, episodes)
        await runtime.on_reading(message(value, 1), value, beats, rules, episodes)

    asyncio.run(scenario())
    signals = send.on("alert_signals")
    # The redelivery repeats the signal word for word (a crash may have lost the first); the manager groups it away.
    assert signals[0]["type"] == "smoke_alarm" and signals[0]["status"] == "open"
    assert all(signal == signals[0] for signal in signals)
    state, managed = None, []
    for signal in signals:
        decision = manager.on_signal(state, Alert.model_validate(signal))
        state, managed = decision.state, managed + decision.alerts
    assert len(managed) == 1 and managed[0].count == 1
    assert send.on("alert_updates") == []  # lifecycle events are the manager's
    assert {p["id"] for p in send.on("fire_partials")} == {signals[0]["id"]}
    assert "smoke-t1" in beats and rules["smoke-t1"]["last_ts"] == 1.7e9


def test_alert_lost_by_a_worker_killed_after_its_state_write_comes_out_on_the_replay(site):
    """The changelog has the new state, the alert never left: the next worker's replay of the reading sends it."""
    class DiesOnSignal(Recorder):
        async def __call__(self, channel, key, value):
            if channel == "alert_signals":
                raise ConnectionError("worker killed")
            await super().__call__(channel, key, value)

    beats, rules, episodes = {}, {}, {}
    value = orjson.dumps({"device": "smoke-t1", "type": "smoke", "ts": 1.7e9, "alarm": True})
    dying = Runtime(site, DiesOnSignal(), WorkerStats("w-dies"), not_active)
    try:
        asyncio.run(dying.on_reading(message(value, 1), value, beats, rules, episodes))
    except ConnectionError:
        pass
    assert rules["smoke-t1"]["last_ts"] == 1.7e9  # the table already counts the reading as applied
    successor, send = make_runtime(site)
    asyncio.run(successor.on_reading(message(value, 1), value, beats, rules, episodes))
    (signal,) = send.on("alert_signals")
    assert signal["type"] == "smoke_alarm" and signal["status"] == "open" and signal["device"] == "smoke-t1"
    later = orjson.dumps({"device": "smoke-t1", "type": "smoke", "ts": 1.7e9 + 1, "alarm": True})
    asyncio.run(successor.on_reading(message(later, 2), later, beats, rules, episodes))
    older = orjson.dumps({"device": "smoke-t1", "type": "smoke", "ts": 1.7e9 - 1, "alarm": True})
    asyncio.run(successor.on_reading(message(older, 3), older, beats, rules, episodes))
    assert len(send.on("alert_signals")) == 1  # a later or an older reading does not repeat it


def test_generic_sensor_flag_uses_the_plain_alarm_detector(site):
    runtime, send = make_runtime(site)
    beats, rules, episodes = {}, {}, {}
    on = orjson.dumps({"device": "pump-t1", "type": "generic", "ts": 1.7e9, "alarm": True})
    off = orjson.dumps({"device": "pump-t1", "type": "generic", "ts": 1.7e9 + 5, "alarm": False})

    async def scenario():
        for value in (on, on, off):
            await runtime.on_reading(message(value), value, beats, rules, episodes)

    asyncio.run(scenario())
    assert [(a["type"], a["status"]) for a in send.on("alert_signals")] == [("sensor_alarm", "open"),
                                                                     ("sensor_alarm", "resolved")]


def test_smoke_and_heat_in_one_kitchen_confirm_a_fire_and_evacuate(site):
    runtime, send = make_runtime(site)
    beats, rules, episodes, fires = {}, {}, {}, {}
    smoke = orjson.dumps({"device": "smoke-k1", "type": "smoke", "ts": 1.7e9, "alarm": True})
    heats = [orjson.dumps({"device": "heat-k1", "type": "heat", "ts": 1.7e9 + t, "values": {"temp_c": c}})
             for t, c in [(0, 25.0), (5, 40.0), (10, 62.0), (15, 66.0), (20, 70.0)]]

    async def scenario():
        for value in [smoke, *heats]:
            await runtime.on_reading(message(value), value, beats, rules, episodes)
        for _channel, _key, value in [s for s in send.sent if s[0] == "fire_partials"]:
            await runtime.on_partial_alarm(value, fires, now=1.7e9 + 30)

    asyncio.run(scenario())
    types = [a["type"] for a in send.on("alert_signals")]
    assert "smoke_alarm" in types and "heat_alarm" in types
    fire = [a for a in send.on("alert_signals") if a["type"] == "fire_confirmed"]
    assert len(fire) == 1 and fire[0]["severity"] == "critical"
    inhibited = [a for a in send.on("alert_signals") if a.get("details", {}).get("inhibited_by") == fire[0]["id"]]
    assert {a["type"] for a in inhibited} == {"smoke_alarm", "heat_alarm"}
    (command,) = send.on("broadcast_commands")
    assert command["speaker"] == "spk-1" and command["priority"] == "evacuation"


def test_bad_message_goes_to_dead_letters_and_next_one_is_processed(site):
    runtime, send = make_runtime(site)
    beats, episodes = {}, {}
    bad = b'{"device": "smoke-t1", "type": "smoke", "ts": "later"}'
    good = orjson.dumps({"device": "smoke-t2", "type": "smoke", "ts": 1.7e9, "alarm": True})

    async def scenario():
        await runtime.on_reading(message(bad, 5), bad, beats, {}, episodes)
        await runtime.on_reading(message(good, 6), good, beats, {}, episodes)

    asyncio.run(scenario())
    (letter,) = send.on("dead_letters")
    assert letter["reason"] == "schema_violation" and letter["offset"] == 5 and "ts" in letter["error"]
    assert [a["device"] for a in send.on("alert_signals")] == ["smoke-t2"]
    assert runtime.stats.counts["dead_letters"] == 1 and runtime.stats.counts["readings"] == 1


def test_silent_camera_raises_once_and_resolves_when_frames_return(site, data_dir):
    runtime, send = make_runtime(site)
    beats = {"cam-t1": 1.7e9 + 1000}

    async def scenario():
        await runtime.check_liveness("camera", beats.items(), now=1.7e9 + 1010)
        await runtime.check_liveness("camera", beats.items(), now=1.7e9 + 1011)  # no second alert
        await runtime.heartbeat(beats, "camera", "cam-t1", now=1.7e9 + 1012)

    asyncio.run(scenario())
    opened, resolved = send.on("alert_signals")
    assert opened["id"] == resolved["id"] and opened["status"] == "open" and resolved["status"] == "resolved"
    assert beats["cam-t1"] == 1.7e9 + 1012
