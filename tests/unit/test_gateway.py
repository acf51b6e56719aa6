"""The gateway's contract with senders: all or nothing, and a 4xx that names the field."""
import orjson
import pytest
from fastapi.testclient import TestClient

from pipeline.gateway.batch import BatchRejected, validate_payload
from pipeline.gateway.http_api import MAX_BODY_BYTES, create_http_app


def reading(device="smoke-t1", ts=1.7e9, **over):
    return {"device": device, "type": "smoke", "ts": ts, "values": {"o": 1.0}, "alarm": False, **over}


@pytest.fixture()
def client(site):
    sent = []

    def send(readings):
        sent.extend(readings)
        return len(readings)

    test_client = TestClient(create_http_app(site, send))
    test_client.sent = sent
    return test_client


@pytest.mark.parametrize("body", [reading(), [reading(), reading("smoke-t2")], {"readings": [reading()]}])
def test_accepted_shapes(client, body):
    response = client.post("/v1/readings", content=orjson.dumps(body))
    assert response.status_code == 202
    assert response.json()["accepted"] == len(client.sent) >= 1


def test_one_bad_reading_refuses_the_whole_batch_and_names_it(client):
    body = [reading(), reading(ts="noon"), reading("smoke-t2", battery=140)]
    response = client.post("/v1/readings", content=orjson.dumps(body))
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert {(p["index"], p["field"]) for p in problems} == {(1, "ts"), (2, "battery")}
    assert client.sent == []


def test_unknown_device_and_wrong_type_are_422(client):
    response = client.post("/v1/readings", content=orjson.dumps([reading("smoke-zz"), reading("heat-t1")]))
    assert response.status_code == 422
    fields = {p["index"]: p["field"] for p in response.json()["problems"]}
    assert fields == {0: "device", 1: "type"} and client.sent == []


@pytest.mark.parametrize("raw,status", [(b"{nope", 400), (b"\xff\xfe", 400), (b"[]", 422), (b"42", 422),
                                        (b'{"device": "smoke-t1", "type": "smoke", "ts": NaN}', 400)])
def test_malformed_bodies(client, raw, status):
    response = client.post("/v1/readings", content=raw)
    assert response.status_code == status and client.sent == []


def test_oversized_body_is_413(client):
    response = client.post("/v1/readings", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413 and client.sent == []


def test_broker_failure_is_503_with_advice(site):
    def broken(_readings):
        raise TimeoutError("no ack")

    response = TestClient(create_http_app(site, broken)).post("/v1/readings", content=orjson.dumps(reading()))
    assert response.status_code == 503 and "resend" in response.json()["hint"]


def test_mqtt_topic_device_must_match(site):
    with pytest.raises(BatchRejected) as err:
        validate_payload(site, orjson.dumps(reading("smoke-t2")), device_from_topic="smoke-t1")
    assert err.value.problems[0].field == "device"
    assert [r.device for r in validate_payload(site, orjson.dumps(reading()), device_from_topic="smoke-t1")] == ["smoke-t1"]
