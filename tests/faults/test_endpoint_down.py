"""A webhook subscriber and a loudspeaker that stop answering for a while: retried, never dropped silently.

- Webhook: while the endpoint answers 503, each alert is tried `attempts` times with backoff, then
  dead-lettered with the reason; the subscriber gets a `subscriber_unreachable` alert; when the
  endpoint answers again the next alert is delivered and that alert resolves.
- Loudspeaker: a speaker that fails its first tries still gets the command, once, and the ack says
  delivered.
"""
from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest

from pipeline.alerts.manager import fingerprint
from pipeline.alerts.store import AlertReader
from pipeline.contracts import topic
from pipeline.messages import Alert
from tests.integration.kafka_io import produce, read_all, wait_for
from tests.live_services import SPEAKER_PORT

pytestmark = pytest.mark.integration
SIM = f"http://127.0.0.1:{SPEAKER_PORT}"


def flaky_signal(n: int) -> Alert:
    now = time.time()
    return Alert(id=f"flaky-{uuid.uuid4().hex[:8]}-{n}", type="flaky_probe", severity="medium", site="test-compound",
                 device=f"probe-{n}", location="lab", started_at=now, updated_at=now, title=f"probe {n}")


def send(infra, alert: Alert) -> None:
    produce(infra, topic("alert_signals").name, [(fingerprint(alert).encode(), alert.model_dump_json().encode(), None)])


def received(path: str) -> list[dict]:
    return httpx.get(f"{SIM}{path}", timeout=5).json()


def test_webhook_down_is_retried_dead_lettered_alerted_and_recovers(infra, worker):
    httpx.post(f"{SIM}/control/fail", params={"speaker": "hook-flaky", "count": 6}, timeout=5)  # 2 alerts x 3 tries
    first, second = flaky_signal(1), flaky_signal(2)
    send(infra, first)
    send(infra, second)

    def letters():
        return [orjson.loads(r.value) for r in read_all(infra, topic("dead_letters").name)
                if b"hook-flaky" in r.value and b"delivery_failed" in r.value]

    found = wait_for(lambda: len(letters()) >= 2 and letters(), 60, "both alerts dead-lettered after retries")
    assert all("after 3 attempts" in d["error"] and "503" in d["error"] for d in found)
    reader = AlertReader(infra.redis_url)
    unreachable = wait_for(lambda: [a for a in reader.recent(2000) if a.type == "subscriber_unreachable"
                                    and a.device == "hook-flaky" and a.status.value == "open"], 30,
                           "a subscriber_unreachable alert for hook-flaky")
    assert len(unreachable) == 1  # one alert for the outage, not one per failed delivery

    third = flaky_signal(3)
    send(infra, third)
    wait_for(lambda: [h for h in received("/webhooks/hook-flaky/received") if third.id in h["body"]], 30,
             "delivery resumes when the endpoint is back")
    wait_for(lambda: reader.get(unreachable[0].id).status.value == "resolved", 30, "the unreachable alert resolved")
    delivered = [orjson.loads(h["body"])["id"] for h in received("/webhooks/hook-flaky/received")]
    assert first.id not in delivered and second.id not in delivered  # they are in the dead letters, not lost


def test_speaker_that_fails_its_first_tries_still_speaks_once(infra, worker):
    httpx.post(f"{SIM}/control/fail", params={"speaker": "spk-1", "count": 3}, timeout=5)
    command_id = f"flaky-speaker-{uuid.uuid4().hex[:8]}"
    command = {"id": command_id, "speaker": "spk-1", "priority": "evacuation", "text_zh": "请注意，这是一次演练",
               "text_en": "Attention, this is a drill", "issued_at": time.time()}
    produce(infra, topic("broadcast_commands").name, [(b"spk-1", orjson.dumps(command), None)])
    played = wait_for(lambda: [r for r in received("/speakers/spk-1/received") if r["command_id"] == command_id],
                      60, "the command played after three failures")
    acks = wait_for(lambda: [orjson.loads(r.value) for r in read_all(infra, topic("broadcast_acks").name)
                             if command_id.encode() in r.value], 30, "the ack")
    assert [a["status"] for a in acks] == ["delivered"]
    time.sleep(1)
    assert len([r for r in received("/speakers/spk-1/received") if r["command_id"] == command_id]) == len(played) == 1
