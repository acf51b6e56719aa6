"""The alert lifecycle on real Kafka and Redis: the manager agent, the control-room API, webhooks, rebuild.

Detector output is produced straight onto `sca.alert-signals.v1` (the manager's edge), operators act
through the API (FastAPI in-process, publishing to the real broker), subscribers are the simulator's
webhook endpoints. The test site escalates after 6 s so timers can be watched.
"""
from __future__ import annotations

import signal as signal_module
import subprocess
import sys
import time
import uuid

import httpx
import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from pipeline.alerts.manager import fingerprint
from pipeline.alerts.store import AlertReader, history_key
from pipeline.alerts.webhooks import verify_signature
from pipeline.config import load_site
from pipeline.contracts import topic
from pipeline.control.api import create_control_app
from pipeline.control.publisher import KafkaPublisher
from pipeline.control.users import UserBook
from pipeline.messages import Alert
from pipeline.settings import REPO_ROOT
from tests.integration.conftest import HOOK_SECRET, SPEAKER_PORT
from tests.integration.kafka_io import produce, read_all, wait_for

pytestmark = pytest.mark.integration
ADMIN, OPERATOR = "admin-token-for-tests", "operator-token-for-tests"


@pytest.fixture(scope="module")
def api(infra, worker, tmp_path_factory):
    users = UserBook(infra.users_file)
    users.add("admin-zhao", "admin", ADMIN)
    users.add("guard-wang", "operator", OPERATOR)
    publisher = KafkaPublisher(infra)
    app = create_control_app(load_site(infra.site_file), users, publisher, infra.redis_url,
                             tmp_path_factory.mktemp("evidence"))
    with TestClient(app) as client:
        yield client
    publisher.close()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def signal(device: str, sid: str | None = None, at: float | None = None, type_: str = "sensor_alarm",
           status: str = "open", severity: str = "medium") -> Alert:
    at = at or time.time()
    return Alert(id=sid or f"sig-{uuid.uuid4().hex[:10]}", type=type_, severity=severity, site="test-compound",
                 device=device, location=f"loc-{device}", status=status, started_at=at, updated_at=at,
                 ended_at=at if status == "resolved" else None, title=f"{type_} on {device}")


def send_signals(infra, *alerts: Alert) -> None:
    produce(infra, topic("alert_signals").name,
            [(fingerprint(a).encode(), a.model_dump_json().encode(), None) for a in alerts])


def stored(infra, alert_id: str, check=lambda a: True, timeout_s: float = 30) -> Alert:
    reader = AlertReader(infra.redis_url)
    return wait_for(lambda: (a := reader.get(alert_id)) is not None and check(a) and a, timeout_s,
                    f"alert {alert_id} in Redis")


def hooks(hook: str) -> list[dict]:
    return httpx.get(f"http://127.0.0.1:{SPEAKER_PORT}/webhooks/{hook}/received", timeout=5).json()


def deliveries_for(hook: str, alert_id: str) -> list[dict]:
    return [h for h in hooks(hook) if orjson.loads(h["body"])["id"] == alert_id]


def history_when(infra, alert_id: str, ready, timeout_s: float = 30) -> list:
    """The alert's history once `ready(history)` holds.

    The alert state (sca.alerts.v1) and its history (sca.alert-updates.v1) are stored by two agents from
    two topics, so the stored state can be ahead of the stored history for a moment.
    """
    def current():
        history = AlertReader(infra.redis_url).history(alert_id)
        return history if ready(history) else None

    return wait_for(current, timeout_s, f"the history of {alert_id}")


def test_repeats_group_into_one_alert_and_a_redelivery_is_not_a_repeat(infra, worker):
    first, second = signal("smoke-g1"), signal("smoke-g1")
    send_signals(infra, first, first, second)  # `first` delivered twice
    alert = stored(infra, first.id, lambda a: a.count == 2)
    assert alert.fingerprint == fingerprint(first) and alert.last_seen == second.updated_at
    assert AlertReader(infra.redis_url).get(second.id) is None  # no second alert for the repeat
    history = [u.action for u in history_when(infra, first.id, lambda h: any(u.action == "grouped" for u in h))]
    assert history[:2] == ["opened", "grouped"] and history.count("grouped") == 1


def test_operator_actions_through_the_api_with_who_when_note_and_audit(infra, api):
    sig = signal("smoke-api")
    send_signals(infra, sig)
    stored(infra, sig.id)
    r = api.post(f"/v1/alerts/{sig.id}/acknowledge", json={"note": "on camera 3"}, headers=auth(OPERATOR))
    assert r.status_code == 202, r.text
    stored(infra, sig.id, lambda a: a.status.value == "acknowledged")
    r = api.post(f"/v1/alerts/{sig.id}/assign", json={"assignee": "grid-li", "note": "go and look"},
                 headers=auth(OPERATOR))
    assert r.status_code == 202
    stored(infra, sig.id, lambda a: a.assignee == "grid-li")
    api.post(f"/v1/alerts/{sig.id}/false-alarm", json={"note": "steam from cooking"}, headers=auth(OPERATOR))
    final = stored(infra, sig.id, lambda a: a.status.value == "false_alarm")
    assert final.ended_at is not None

    history_when(infra, sig.id, lambda h: any(u.action == "false_alarm" for u in h))
    detail = api.get(f"/v1/alerts/{sig.id}", headers=auth(OPERATOR)).json()
    steps = [(u["action"], u["by"]) for u in detail["history"]]
    assert steps[0] == ("opened", "system")
    assert ("acknowledged", "guard-wang") in steps and ("false_alarm", "guard-wang") in steps
    assert any("grid-li" in u["note"] and u["action"] == "assigned" for u in detail["history"])
    assert any(u["note"] == "steam from cooking" for u in detail["history"])

    again = api.post(f"/v1/alerts/{sig.id}/resolve", json={}, headers=auth(OPERATOR))
    assert again.status_code == 409 and "false_alarm" in again.json()["detail"]
    audit = api.get("/v1/audit", headers=auth(ADMIN)).json()["audit"]
    mine = [a for a in audit if a["target"] == sig.id]
    assert {a["action"] for a in mine} == {"alert.acknowledge", "alert.assign", "alert.false_alarm"}
    assert all(a["user"] == "guard-wang" for a in mine)
    on_kafka = [orjson.loads(r.value) for r in read_all(infra, topic("audit").name)]
    assert {a["id"] for a in mine} <= {a["id"] for a in on_kafka}


def test_api_refuses_without_token_wrong_role_and_bad_input(api):
    assert api.get("/v1/alerts").status_code == 401
    assert api.get("/v1/alerts", headers=auth("not-a-token")).status_code == 401
    silence = {"matchers": {"type": "x"}, "duration_s": 60, "comment": "test"}
    assert api.post("/v1/silences", json=silence, headers=auth(OPERATOR)).status_code == 403
    bad = api.post("/v1/silences", json={**silence, "duration_s": -5}, headers=auth(ADMIN))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "duration_s"
    no_assignee = api.post("/v1/alerts/whatever/assign", json={"note": "x"}, headers=auth(OPERATOR))
    assert no_assignee.status_code == 422 and no_assignee.json()["detail"][0]["loc"][-1] == "assignee"
    assert api.post("/v1/alerts/no-such-alert/acknowledge", json={}, headers=auth(OPERATOR)).status_code == 404
    assert api.get("/v1/evidence/../../etc/passwd", headers=auth(OPERATOR)).status_code == 404


def test_escalation_fires_on_time_and_stops_when_acknowledged(infra, api):
    sig = signal("smoke-esc", severity="medium")
    send_signals(infra, sig)
    stored(infra, sig.id)
    escalated = stored(infra, sig.id, lambda a: a.escalation == 1, timeout_s=25)
    waited = escalated.updated_at - sig.updated_at
    assert 6 <= waited < 9, waited  # escalate_after_s is 6 in the test site
    assert escalated.severity.value == "high"
    notes = [u.note for u in history_when(infra, sig.id, lambda h: any(u.action == "escalated" for u in h))
             if u.action == "escalated"]
    assert notes and "duty_manager" in notes[0]
    api.post(f"/v1/alerts/{sig.id}/acknowledge", json={"note": "seen"}, headers=auth(OPERATOR))
    acked = stored(infra, sig.id, lambda a: a.status.value == "acknowledged")
    time.sleep(7)
    assert AlertReader(infra.redis_url).get(sig.id).escalation == acked.escalation  # no escalation after ack
    reminded = wait_for(lambda: [u for u in AlertReader(infra.redis_url).history(sig.id) if u.action == "reminded"],
                        15, "a reminder 8 s after the acknowledgement")
    assert reminded[0].at - acked.updated_at == pytest.approx(8, abs=1.5)


def test_silence_mutes_subscribers_and_expires(infra, api):
    r = api.post("/v1/silences", json={"matchers": {"type": "water_leak", "device": "leak-s*"}, "duration_s": 5,
                                       "comment": "plumber at work"}, headers=auth(ADMIN))
    assert r.status_code == 201, r.text
    silence_id = r.json()["id"]
    muted = signal("leak-s1", type_="water_leak")
    send_signals(infra, muted)
    alert = stored(infra, muted.id)
    assert alert.silenced_by == silence_id
    time.sleep(1.5)
    assert deliveries_for("hook-all", muted.id) == []  # subscribers do not hear of a silenced alert
    back = stored(infra, muted.id, lambda a: a.silenced_by is None, timeout_s=15)
    assert back.status.value == "open"
    history = history_when(infra, muted.id, lambda h: any(u.action == "unsilenced" for u in h))
    assert [u.action for u in history][:3] == ["opened", "silenced", "unsilenced"]
    wait_for(lambda: deliveries_for("hook-all", muted.id), 15, "the alert delivered once the silence ended")
    later = signal("leak-s2", type_="water_leak")
    send_signals(infra, later)
    assert stored(infra, later.id).silenced_by is None
    listed = api.get("/v1/silences", headers=auth(OPERATOR)).json()["silences"]
    assert [s["active"] for s in listed if s["id"] == silence_id] == [False]


def test_webhook_is_signed_filtered_and_retried(infra, worker):
    httpx.post(f"http://127.0.0.1:{SPEAKER_PORT}/control/fail", params={"speaker": "hook-all", "count": 2}, timeout=5)
    sig = signal("smoke-hook", type_="sensor_alarm")
    fire = signal("smoke-hook-f", type_="fire_confirmed", severity="critical")
    send_signals(infra, sig, fire)
    got = wait_for(lambda: deliveries_for("hook-all", sig.id), 30, "the webhook after two failed tries")
    body = got[0]["body"].encode()
    assert verify_signature(HOOK_SECRET.encode(), body, got[0]["signature"])
    assert not verify_signature(b"wrong-secret", body, got[0]["signature"])
    assert not verify_signature(HOOK_SECRET.encode(), body + b" ", got[0]["signature"])
    assert got[0]["delivery"].startswith(sig.id + "@")
    wait_for(lambda: deliveries_for("hook-fire", fire.id), 30, "the fire subscriber gets the fire alert")
    assert deliveries_for("hook-fire", sig.id) == []  # filtered by type


def test_unreachable_subscriber_is_dead_lettered_and_raises_an_alert(infra, worker):
    sig = signal("manhole-9", type_="manhole_tilt")
    send_signals(infra, sig)

    def letters():
        return [orjson.loads(r.value) for r in read_all(infra, topic("dead_letters").name)
                if b"delivery_failed" in r.value and b"hook-down" in r.value]

    letter = wait_for(letters, 40, "the dead letter for the unreachable webhook")[0]
    assert "after 3 attempts" in letter["error"]
    unreachable = wait_for(lambda: [a for a in AlertReader(infra.redis_url).recent(500)
                                    if a.type == "subscriber_unreachable" and a.device == "hook-down"],
                           30, "a subscriber_unreachable alert")
    assert unreachable[0].status.value == "open"


def test_redis_lost_then_rebuilt_gives_the_same_state_and_history(infra, worker, api):
    sig = signal("smoke-rb")
    r = api.post("/v1/silences", json={"matchers": {"device": "nothing-*"}, "duration_s": 3600, "comment": "kept"},
                 headers=auth(ADMIN))
    assert r.status_code == 201
    send_signals(infra, sig)
    stored(infra, sig.id)
    api.post(f"/v1/alerts/{sig.id}/acknowledge", json={"note": "before the crash"}, headers=auth(OPERATOR))
    stored(infra, sig.id, lambda a: a.status.value == "acknowledged")
    # A live worker keeps changing state (escalations, reminders): close every alert as an operator would,
    # let the agents catch up, then hold the worker still while Redis is lost and rebuilt.
    reader = AlertReader(infra.redis_url)
    for alert_id in reader.active_ids():
        api.post(f"/v1/alerts/{alert_id}/resolve", json={"note": "end of shift"}, headers=auth(OPERATOR))
    wait_for(lambda: not reader.active_ids(), 30, "every alert closed")
    client = redis.Redis.from_url(infra.redis_url)
    settle(client)  # the agents have written everything the closing made (alerts, history) before we hold still
    # ...and every update on the topic is in Redis: an earlier test's alert can still be resolving (a loaded
    # machine lagged past the quiet window once, and the rebuild then had one history entry more than Redis)
    missing: list = []
    try:
        wait_for(lambda: history_caught_up(infra, client, missing), 60, "every alert update on the topic is in Redis")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; not in Redis: {missing}") from None
    worker.proc.send_signal(signal_module.SIGSTOP)
    try:
        rebuild_and_compare(client)
    finally:
        worker.proc.send_signal(signal_module.SIGCONT)


def history_caught_up(infra, client: redis.Redis, missing: list | None = None) -> bool:
    """Every update id on the alert-updates topic is in its alert's history in Redis (what is not: appended to
    `missing`, replacing what it held: for the failure message)."""
    on_topic = {(u["alert_id"], u["id"]) for u in (orjson.loads(r.value) for r in
                                                   read_all(infra, topic("alert_updates").name) if r.value)}
    in_redis = set()
    for alert_id in {a for a, _ in on_topic}:
        for member in client.zrange(history_key(alert_id), 0, -1):
            in_redis.add((alert_id, orjson.loads(member)["id"]))
    if missing is not None:
        missing[:] = sorted(on_topic - in_redis)[:10]
    return on_topic <= in_redis


def settle(client: redis.Redis, quiet_s: float = 2.0, timeout_s: float = 30.0) -> None:
    """Wait until no alert key or history changes for `quiet_s` (a loaded machine may lag by seconds)."""
    def fingerprint() -> list:
        keys = sorted(client.scan_iter("sca:alert*"))
        return [(k, client.zcard(k) if k.endswith(b":history") else client.get(k)) for k in keys
                if k.endswith(b":history") or client.type(k) == b"string"]

    last, since, deadline = fingerprint(), time.monotonic(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = fingerprint()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


def rebuild_and_compare(client: redis.Redis) -> None:

    def snapshot() -> dict:
        # Worker telemetry (stats, device health, recent readings) refills by itself and is not alert state.
        telemetry = (b"sca:worker", b"sca:audit", b"sca:devices", b"sca:readings:")
        keys = sorted(k for k in client.keys("sca:*") if not k.startswith(telemetry))
        out = {}
        for key in keys:
            kind = client.type(key)
            if kind == b"string":
                out[key] = client.get(key)
            elif kind == b"zset":
                out[key] = client.zrange(key, 0, -1, withscores=True)
            elif kind == b"set":
                out[key] = sorted(client.smembers(key))
            elif kind == b"hash":
                out[key] = client.hgetall(key)
        return out

    before = snapshot()
    assert any(k.endswith(b":history") for k in before) and b"sca:silences" in before
    client.flushdb()
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "alerts", "rebuild"], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    after = snapshot()
    assert after.keys() == before.keys()
    changed = [(k, before[k], after[k]) for k in before if before[k] != after[k]]
    assert changed == []


def test_device_health_and_readings_beside_an_alert(infra, api):
    """A smoke detector reports normally; the control room sees it online with its battery, and the readings
    around an alert on that device come back for the chart."""
    now = time.time()
    values = [orjson.dumps({"device": "smoke-t3", "type": "smoke", "ts": now - 60 + i * 20,
                            "values": {"obscuration_pct": 1.0 + i}, "battery": 76.0, "alarm": False})
              for i in range(3)]
    produce(infra, topic("readings").name, [(b"smoke-t3", v, None) for v in values])

    def sensor():
        found = [s for s in api.get("/v1/devices", headers=auth(OPERATOR)).json()["sensors"] if s["id"] == "smoke-t3"]
        return found and found[0]["last_reading_at"] == now - 60 + 40 and found[0]

    seen = wait_for(sensor, 30, "smoke-t3 in the device board")
    assert seen["status"] == "online" and seen["battery"] == 76.0 and seen["values"] == {"obscuration_pct": 3.0}
    sig = signal("smoke-t3", at=now - 30)
    send_signals(infra, sig)
    stored(infra, sig.id)
    series = api.get(f"/v1/alerts/{sig.id}/readings", params={"before_s": 25, "after_s": 15},
                     headers=auth(OPERATOR)).json()
    assert series["device"] == "smoke-t3"
    assert [p["values"]["obscuration_pct"] for p in series["series"]] == [2.0, 3.0]  # at -40 s and -20 s: in [-55, -15]
