"""The sensor gateway on real Kafka and Mosquitto: readings land on the topic, bad payloads in dead letters."""
from __future__ import annotations

import base64

import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from pipeline.contracts import topic
from pipeline.gateway.http_api import create_http_app
from pipeline.gateway.mqtt_bridge import MqttBridge
from pipeline.gateway.sink import KafkaSink
from tests.integration.kafka_io import read_all, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sink(infra):
    kafka_sink = KafkaSink(infra)
    yield kafka_sink
    kafka_sink.close()


def on_topic(infra, name: str, predicate) -> list:
    return [r for r in read_all(infra, name) if predicate(r)]


def test_http_post_lands_on_the_readings_topic(infra, site, sink):
    body = [{"device": "heat-t1", "type": "heat", "ts": 1_795_100_000.0 + i, "values": {"temp_c": 20 + i}}
            for i in range(3)]
    response = TestClient(create_http_app(site, sink.send_readings)).post("/v1/readings", content=orjson.dumps(body))
    assert response.status_code == 202 and response.json() == {"accepted": 3}
    records = on_topic(infra, topic("readings").name,
                       lambda r: r.key == b"heat-t1" and b'"temp_c"' in r.value  # the fuzz tests' readings aside
                       and orjson.loads(r.value)["ts"] >= 1_795_100_000.0)
    assert sorted(orjson.loads(r.value)["values"]["temp_c"] for r in records) == [20.0, 21.0, 22.0]


def test_mqtt_readings_are_forwarded_and_bad_payloads_dead_lettered(infra, site, sink):
    bridge = MqttBridge(site, sink, "127.0.0.1", infra.mqtt_port, client_id="sca-gateway-test")
    bridge.start()
    bridge.wait_subscribed()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sensor-sim")
    publisher.connect("127.0.0.1", infra.mqtt_port)
    publisher.loop_start()
    good = orjson.dumps({"device": "smoke-t3", "type": "smoke", "ts": 1_795_200_000.0, "alarm": False})
    bad = b'{"device": "smoke-t3", "type": "smoke", "ts": "later"}'
    try:
        for payload in (bad, good):
            publisher.publish("sca/readings/smoke-t3", payload, qos=1).wait_for_publish(timeout=10)
        wait_for(lambda: sum(bridge.counts.values()) >= 2, 30, "the bridge to handle both messages")
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        bridge.stop()
    assert bridge.counts == {"schema_violation": 1, "accepted": 1}
    forwarded = on_topic(infra, topic("readings").name, lambda r: r.value == orjson.dumps(
        {"device": "smoke-t3", "type": "smoke", "ts": 1_795_200_000.0, "values": {}, "alarm": False, "v": 1}))
    assert len(forwarded) == 1
    letters = [orjson.loads(r.value) for r in read_all(infra, topic("dead_letters").name)]
    mine = [d for d in letters if d["source_topic"] == "mqtt:sca/readings/smoke-t3"]
    assert len(mine) == 1 and mine[0]["reason"] == "schema_violation" and "ts" in mine[0]["error"]
    assert base64.b64decode(mine[0]["value_b64"]) == bad
