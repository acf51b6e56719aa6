"""The worker on real Kafka and Redis: alerts, dead letters, device offline."""
from __future__ import annotations

import base64
import time
from pathlib import Path

import orjson
import pytest

from pipeline.alerts.store import AlertReader
from pipeline.contracts import topic
from pipeline import sensors
from pipeline.frames import to_kafka_headers
from pipeline.ingest.camera import ingest_camera
from pipeline.messages import Alert, FrameHeaders, SensorReading
from tests.integration.kafka_io import produce, read_all, wait_for

pytestmark = pytest.mark.integration


def reading(device: str, ts: float, alarm: bool) -> bytes:
    return orjson.dumps({"device": device, "type": "smoke", "ts": ts, "values": {"obscuration_pct": 12.5},
                         "alarm": alarm})


def expected_alert(site, device: str, value: bytes) -> Alert:
    """What the rules must raise for this reading (the same pure function the worker runs)."""
    reading = SensorReading.model_validate_json(value)
    (alert,) = sensors.evaluate(None, reading, site.sensor(device), site).alerts
    return alert


def alerts_on_topic(infra, alert_id: str) -> list[Alert]:
    return [Alert.model_validate_json(r.value) for r in read_all(infra, topic("alerts").name)
            if r.key == alert_id.encode()]


def test_alarm_reading_delivered_twice_is_one_alert_on_topic_and_in_redis(infra, worker, site):
    ts = round(time.time() - 60, 3)  # now: the fault tests before this module moved these devices' clocks on
    value = reading("smoke-t1", ts, True)
    before = worker.count("readings")
    assert produce(infra, topic("readings").name, [(b"smoke-t1", value, None), (b"smoke-t1", value, None)]) == 2
    expected = expected_alert(site, "smoke-t1", value)
    assert expected.type == "smoke_alarm"
    store = AlertReader(infra.redis_url)
    stored = wait_for(lambda: store.get(expected.id), 30, "the alert in Redis")
    wait_for(lambda: worker.count("readings") >= before + 2, 30, "both deliveries processed")
    assert stored.status.value == "open" and stored.device == "smoke-t1"
    assert stored.severity.value == ["high", "critical", "critical"][stored.escalation]  # escalates every 6 s here
    on_topic = wait_for(lambda: alerts_on_topic(infra, expected.id), 30, "the alert on the topic")
    assert {a.count for a in on_topic} == {1}  # the redelivered reading is not a repeat of the incident
    assert [a.id for a in store.recent(1000) if a.device == "smoke-t1" and a.type == "smoke_alarm"] == [expected.id]

    # the alarm clears: the same alert is resolved, in Redis and as the topic's latest record
    produce(infra, topic("readings").name, [(b"smoke-t1", reading("smoke-t1", ts + 30, False), None)])
    wait_for(lambda: store.get(expected.id).status.value == "resolved", 30, "the alert resolved in Redis")
    statuses = [a.status.value for a in alerts_on_topic(infra, expected.id)]
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == ["open", "resolved"]


def test_malformed_reading_goes_to_dead_letters_and_the_next_is_processed(infra, worker, site):
    bad = b'{"device": "smoke-t2", "type": "smoke", "ts": 17'  # truncated JSON
    ts = round(time.time() - 50, 3)
    produce(infra, topic("readings").name, [(b"smoke-t2", bad, None), (b"smoke-t2", reading("smoke-t2", ts, True), None)])
    expected = expected_alert(site, "smoke-t2", reading("smoke-t2", ts, True))
    wait_for(lambda: AlertReader(infra.redis_url).get(expected.id), 30, "the good reading's alert")
    letters = [orjson.loads(r.value) for r in read_all(infra, topic("dead_letters").name)]
    mine = [d for d in letters if base64.b64decode(d["value_b64"]) == bad]
    assert len(mine) == 1
    assert mine[0]["reason"] == "bad_json" and mine[0]["source_topic"] == topic("readings").name
    assert base64.b64decode(mine[0]["key_b64"]) == b"smoke-t2"


def test_bad_frames_are_dead_letters_and_good_frames_still_flow(infra, worker, data_dir):
    jpeg = (data_dir / "images" / "zidane.jpg").read_bytes()
    good = to_kafka_headers(FrameHeaders(camera="cam-t2", ts=1.7e9, seq=1, width=1280, height=720))
    stranger = to_kafka_headers(FrameHeaders(camera="cam-zz", ts=1.7e9, seq=1, width=1280, height=720))
    frames_before = worker.count("frames")
    started = time.time()
    produce(infra, topic("frames").name, [
        (b"cam-t2", b"\xff\xd8\xff\xe0 not really a jpeg", good),
        (b"cam-zz", jpeg, stranger),
        (b"cam-t2", jpeg, [("camera", b"cam-t2")]),
        (b"cam-t2", jpeg, good),
    ])
    wait_for(lambda: worker.count("frames") >= frames_before + 1, 30, "the good frame decoded")
    letters = wait_for(lambda: [d for d in (orjson.loads(r.value) for r in read_all(infra, topic("dead_letters").name))
                                if d["source_topic"] == topic("frames").name and d["at"] >= started], 30,
                       "frame dead letters")
    reasons = sorted(d["reason"] for d in letters)
    assert reasons == ["bad_headers", "undecodable_image", "unknown_device"]
    assert any(base64.b64decode(d["value_b64"]) == jpeg and d["reason"] == "unknown_device" for d in letters)


def test_camera_that_stops_sending_raises_offline_and_resolves_when_frames_return(infra, worker, data_dir):
    clip = str(data_dir / "video" / "parking-aisle-overhead.mp4")
    store = AlertReader(infra.redis_url)
    ingest_camera(infra, "cam-t1", clip, speed=0, limit=5, show_progress=False)

    def offline_after_frames():
        return [a for a in store.recent(1000) if a.type == "device_offline" and a.device == "cam-t1"
                and a.details.get("last_seen") is not None and a.status.value == "open"]

    (raised,) = wait_for(offline_after_frames, 30, "device_offline for cam-t1")
    assert raised.details["timeout_s"] == 3
    # raised as medium; the test site escalates an unacknowledged alert one step every 6 s
    assert raised.severity.value == ["medium", "high", "critical"][raised.escalation]
    ingest_camera(infra, "cam-t1", clip, speed=0, limit=3, show_progress=False)
    resolved = wait_for(lambda: (a := store.get(raised.id)) and a.status.value == "resolved" and a, 30,
                        "the offline alert resolved")
    assert resolved.ended_at >= raised.started_at
    assert raised.id not in store.active_ids()


def test_smoke_and_heat_in_one_location_give_one_fire_and_an_evacuation_broadcast(infra, worker):
    base = round(time.time() - 40, 3)
    smoke = orjson.dumps({"device": "smoke-k1", "type": "smoke", "ts": base, "alarm": True})
    heat = [orjson.dumps({"device": "heat-k1", "type": "heat", "ts": base + t, "values": {"temp_c": c}})
            for t, c in [(0, 25.0), (5, 45.0), (10, 62.0), (15, 66.0), (20, 70.0)]]
    produce(infra, topic("readings").name, [(b"smoke-k1", smoke, None)] + [(b"heat-k1", v, None) for v in heat])
    store = AlertReader(infra.redis_url)
    kitchen = "B1 1F kitchen 101"
    fires = wait_for(lambda: [a for a in store.recent(1000) if a.type == "fire_confirmed" and a.location == kitchen],
                     60, "fire_confirmed")
    assert len(fires) == 1 and fires[0].severity.value == "critical" and fires[0].location == "B1 1F kitchen 101"

    def partials():
        """The smoke and heat alerts, once both show the fire that inhibits them.

        Each is its own fingerprint on its own partition, so the manager may store the fire before
        it has applied their republished (inhibited) versions: the state converges, in any order.
        """
        found = [a for a in store.recent(1000) if a.type in ("smoke_alarm", "heat_alarm")
                 and a.location == fires[0].location and a.started_at >= base]
        done = {a.type for a in found} == {"smoke_alarm", "heat_alarm"} and all(
            a.details.get("inhibited_by") for a in found)
        return found if done else None

    inhibited = wait_for(partials, 30, "the smoke and heat alerts inhibited by the fire")
    assert {a.details.get("inhibited_by") for a in inhibited} == {fires[0].id}

    def evacuations():
        commands = [orjson.loads(r.value) for r in read_all(infra, topic("broadcast_commands").name)]
        return [(c["speaker"], c["priority"]) for c in commands
                if c["priority"] == "evacuation" and c.get("alert_id") == fires[0].id]

    wait_for(evacuations, 30, "the evacuation broadcast")
    time.sleep(1)  # a second command for the same fire would be a bug: give it the chance to show
    assert evacuations() == [("spk-1", "evacuation")]


def test_vehicle_in_fire_lane_is_warned_escalated_and_resolved_when_it_leaves(infra, worker, data_dir):
    """The fire-lane core in the worker, with the real detector, on real Kafka: a bus stands in the lane."""
    import cv2
    import numpy as np

    bus = (data_dir / "images" / "bus.jpg").read_bytes()
    empty = cv2.imencode(".jpg", np.full((1080, 810, 3), 128, np.uint8))[1].tobytes()
    base = round(time.time(), 3)  # live frames: the loudspeaker service drops warnings older than 5 minutes
    frames = [bus] * 20 + [empty] * 12  # 5 s of a standing bus, then 3 s of an empty lane, at 4 fps
    items = [(b"cam-lane-t", jpeg, to_kafka_headers(FrameHeaders(camera="cam-lane-t", ts=base + i / 4, seq=i,
                                                                 width=810, height=1080)))
             for i, jpeg in enumerate(frames)]
    produce(infra, topic("frames").name, items)
    store = AlertReader(infra.redis_url)

    def lane_alert():
        found = [a for a in store.recent(1000) if a.type == "fire_lane_occupied" and a.location == "lane-t"]
        return found if found and found[0].status.value == "resolved" else None

    alerts = wait_for(lane_alert, 90, "the fire-lane alert to open and resolve")
    assert len(alerts) == 1, [(a.status.value, a.started_at - base, a.ended_at and a.ended_at - base) for a in alerts]
    alert = alerts[0]
    assert alert.severity.value == "critical"  # escalated after max_broadcasts
    assert base + 0.9 <= alert.started_at <= base + 2.5 and alert.ended_at <= base + 8
    commands = [orjson.loads(r.value) for r in read_all(infra, topic("broadcast_commands").name)]
    lane = [c for c in commands if c["priority"] == "fire_lane"]
    assert len(lane) == 2 and {c["speaker"] for c in lane} == {"spk-lane"}
    assert "消防通道禁止停车" in lane[0]["text_zh"] and len({c["id"] for c in lane}) == 2


def test_loudspeaker_speaks_each_command_once_and_acknowledges_it(infra, worker, speakers):
    """Runs after the fire and fire-lane tests: their commands reach the simulator as real speech, once."""
    import httpx

    from pipeline.broadcast.tts import wav_stats

    def received():
        """What the fire and fire-lane commands made the speakers play (other modules' drills aside)."""
        ours = {c["id"] for c in commands}
        return [item for speaker in ("spk-1", "spk-lane")
                for item in httpx.get(f"{speakers.url}/speakers/{speaker}/received", timeout=5).json()
                if item["command_id"] in ours]

    def acks():
        return {a["command_id"]: a for a in (orjson.loads(r.value) for r in read_all(infra, topic("broadcast_acks").name))}

    # the pipeline's own commands (they name their alert); the fault tests' drills do not
    commands = [c for c in (orjson.loads(r.value) for r in read_all(infra, topic("broadcast_commands").name))
                if c.get("alert_id")]
    evacuation = [c for c in commands if c["priority"] == "evacuation"]
    lane = [c for c in commands if c["priority"] == "fire_lane"]
    assert evacuation and len(lane) == 2
    wait_for(lambda: all(c["id"] in acks() for c in commands), 60, "an ack for every command")
    status = {c["id"]: acks()[c["id"]]["status"] for c in commands}
    assert status[evacuation[0]["id"]] == "delivered" and status[lane[0]["id"]] == "delivered"
    assert status[lane[1]["id"]] == "suppressed"  # the same warning again within the 30 s cooldown
    played = wait_for(lambda: received() or None, 30, "WAVs at the simulator")
    assert sorted(p["command_id"] for p in played) == sorted([evacuation[0]["id"], lane[0]["id"]])
    evac = next(p for p in played if p["command_id"] == evacuation[0]["id"])
    assert evac["volume"] == 100
    duration, rms = wav_stats(Path(evac["file"]))
    assert duration > 2.0 and rms > 0.01  # real speech, not silence

    # the same command delivered again is acknowledged as a duplicate and not spoken a second time
    raw = next(r for r in read_all(infra, topic("broadcast_commands").name) if orjson.loads(r.value)["id"] == lane[0]["id"])
    produce(infra, topic("broadcast_commands").name, [(raw.key, raw.value, None)])
    wait_for(lambda: acks()[lane[0]["id"]]["status"] == "duplicate", 30, "the duplicate's ack")
    assert len(received()) == len(played)
