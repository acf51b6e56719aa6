"""Security basics (issue #8 part 7): authentication and roles on every route, webhook signatures, no secret in
logs or in the users file, and the local services listening on loopback only."""
from __future__ import annotations

import logging
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.alerts.dispatch import WebhookDispatcher
from pipeline.alerts.webhooks import SubscriberConfig, sign, verify_signature
from pipeline.control.users import UserBook, token_hash
from pipeline.messages import Alert

T0 = 1.7e9
MUTATING = {"post", "put", "patch", "delete"}
ADMIN_ONLY = {("post", "/v1/silences"), ("delete", "/v1/silences/{silence_id}"), ("post", "/v1/users")}
# a well-formed body per route, so that a refusal can only be about the token
BODIES = {"/v1/alerts/{alert_id}/assign": {"assignee": "guard-li"}, "/v1/users": {"name": "new-op", "role": "operator"},
          "/v1/silences": {"matchers": {"type": "smoke_alarm"}, "duration_s": 60, "comment": "drill"}}


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "dummy-1", path)


@pytest.fixture(scope="module")
def routes(control_room):
    found = [(method, path) for path, item in control_room.app.openapi()["paths"].items() for method in item]
    assert {("post", "/v1/alerts/{alert_id}/acknowledge"), ("post", "/v1/silences"), ("post", "/v1/users"),
            ("delete", "/v1/silences/{silence_id}")} <= set(found)
    return found


def call(client, method, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = BODIES.get(path, {} if method != "delete" else None)
    return client.request(method.upper(), fill(path), headers=headers, **({"json": body} if body is not None else {}))


def test_every_mutating_route_refuses_requests_without_a_valid_token(control_room, routes):
    client = TestClient(control_room.app, raise_server_exceptions=False)
    mutating = [(m, p) for m, p in routes if m in MUTATING]
    assert len(mutating) >= 7
    before = len(control_room.published)
    for method, path in mutating:
        for token in (None, "wrong-token", control_room.tokens["admin"] + "x"):
            response = call(client, method, path, token)
            assert response.status_code == 401, (method, path, token, response.status_code, response.text)
            assert response.headers.get("www-authenticate") == "Bearer"
    assert len(control_room.published) == before


def test_admin_routes_refuse_an_operator(control_room, routes):
    client = TestClient(control_room.app, raise_server_exceptions=False)
    before = len(control_room.published)
    for method, path in routes:
        if (method, path) in ADMIN_ONLY or path in ("/v1/users", "/v1/audit", "/v1/subscribers"):
            response = call(client, method, path, control_room.tokens["operator"])
            assert response.status_code == 403, (method, path, response.status_code, response.text)
    assert len(control_room.published) == before
    # and the admin gets past the role check on the same routes
    response = call(client, "post", "/v1/silences", control_room.tokens["admin"])
    assert response.status_code == 201, response.text


def test_every_v1_read_needs_a_token(control_room, routes):
    client = TestClient(control_room.app, raise_server_exceptions=False)
    reads = [p for m, p in routes if m == "get" and p.startswith("/v1/")]
    assert "/v1/alerts" in reads and "/v1/events" in reads and len(reads) >= 8
    for path in reads:
        for params in ({}, {"token": "wrong-token"}):
            response = client.get(fill(path), params=params)
            assert response.status_code == 401, (path, params, response.status_code)
    # an operator's token opens the reads that are not admin-only
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {control_room.tokens['operator']}"}).json() == \
        {"name": "guard", "role": "operator"}


# ------------------------------------------------------------------ webhook signatures
def test_webhook_signatures_verify_only_the_exact_body_with_the_right_secret():
    secret, body = b"s3cret-hook", b'{"id":"a1","status":"open"}'
    header = sign(secret, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(secret, body, header)
    assert not verify_signature(secret, body + b" ", header)  # tampered body
    assert not verify_signature(secret, body.replace(b"open", b"shut"), header)
    assert not verify_signature(b"other-secret", body, header)  # wrong secret
    assert not verify_signature(secret, body, None) and not verify_signature(secret, body, "")  # missing header
    assert not verify_signature(secret, body, header.removeprefix("sha256="))
    assert not verify_signature(secret, body, header.upper())
    assert not verify_signature(secret, body, "sha256=" + "0" * 64)


# ------------------------------------------------------------------ no secret in logs or files
def test_users_file_keeps_only_the_hash_and_no_token_is_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    book = UserBook(tmp_path / "users.yaml")
    tokens = [book.add("op-1", "operator"), book.add("admin-1", "admin"), book.add("op-2", "operator", "given-token-xyz")]
    text = (tmp_path / "users.yaml").read_text()
    for token in tokens:
        assert token not in text and token_hash(token) in text
        assert token not in caplog.text
        assert book.authenticate(token) is not None
    assert oct((tmp_path / "users.yaml").stat().st_mode & 0o777) == "0o600"


def test_api_calls_with_tokens_log_no_token(control_room, caplog):
    caplog.set_level(logging.DEBUG)
    client = TestClient(control_room.app, raise_server_exceptions=False)
    admin = {"Authorization": f"Bearer {control_room.tokens['admin']}"}
    created = client.post("/v1/users", json={"name": "log-check", "role": "operator"}, headers=admin)
    assert created.status_code == 201
    new_token = created.json()["token"]
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    assert client.get("/v1/alerts", headers=admin).status_code == 200
    assert client.post("/v1/alerts/nope/acknowledge", json={}, headers=admin).status_code == 404
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for token in (new_token, *control_room.tokens.values()):
        assert token not in server_side
    assert new_token not in control_room.users_file.read_text()
    assert all(new_token.encode() not in value for _c, _k, value in control_room.published)  # nor in the audit


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nobody listens there


def test_a_failed_webhook_delivery_logs_and_dead_letters_no_secret(monkeypatch, caplog):
    import asyncio
    from collections import Counter

    secret = "hmac-secret-do-not-log-4242"
    monkeypatch.setenv("SCA_FAULTS_HOOK_SECRET", secret)
    subscriber = SubscriberConfig(id="hook-dead", url=f"http://127.0.0.1:{_dead_port()}/hook",
                                  secret_env="SCA_FAULTS_HOOK_SECRET", attempts=2, backoff_s=0.0, max_backoff_s=0.0)
    alert = Alert(id="al-1", type="smoke_alarm", severity="high", site="s", device="d", started_at=T0, updated_at=T0)
    body = alert.model_dump_json().encode()
    caplog.set_level(logging.DEBUG)
    result = WebhookDispatcher._post(subscriber, body, alert)
    assert not result.ok and secret not in (result.error or "")

    letters, signals = [], []

    async def dead_letter(exc):
        letters.append(exc)

    async def publish(signal):
        signals.append(signal)

    dispatcher = WebhookDispatcher([subscriber], "s", publish, dead_letter, Counter())
    asyncio.run(dispatcher.on_alert(body))
    assert letters and letters[0].reason == "delivery_failed" and signals
    texts = [caplog.text, *(f"{e.error}" for e in letters), *(s.model_dump_json() for s in signals)]
    assert all(secret not in t and sign(secret.encode(), body) not in t for t in texts)


def test_a_token_in_the_query_string_is_not_written_to_the_access_log(control_room, caplog):
    import uvicorn

    token = control_room.tokens["operator"]
    port = _dead_port()
    server = uvicorn.Server(uvicorn.Config(control_room.app, host="127.0.0.1", port=port, log_level="info",
                                           log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.INFO)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        import httpx

        assert httpx.get(f"http://127.0.0.1:{port}/v1/me", params={"token": token}).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
    access = "\n".join(r.getMessage() for r in caplog.records if r.name == "uvicorn.access")
    assert "/v1/me" in access
    assert token not in access


# ------------------------------------------------------------------ services bound to loopback
def _descendants(pids: set[int]) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, grew = set(pids), True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


@pytest.mark.integration
def test_services_started_by_sca_infra_listen_on_loopback_only(infra):
    owners = {}
    for name in ("kafka", "redis", "mosquitto"):
        pid_file = infra.run_dir / f"{name}.pid"
        assert pid_file.is_file(), f"no pid file {pid_file}"
        for pid in _descendants({int(pid_file.read_text().strip())}):
            owners[pid] = name
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    seen: dict[str, list[str]] = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        local = cols[3]
        for pid in map(int, re.findall(r"pid=(\d+)", line)):
            if pid in owners:
                seen.setdefault(owners[pid], []).append(local)
    assert set(seen) == {"kafka", "redis", "mosquitto"}, (seen, out)
    ports = {"kafka": {infra.kafka_port, infra.kafka_controller_port}, "redis": {infra.redis_port},
             "mosquitto": {infra.mqtt_port}}
    for name, addresses in seen.items():
        for address in addresses:
            host, port = address.rsplit(":", 1)
            assert host in ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"), f"{name} listens on {address}"  # Java: v4-mapped
        assert ports[name] <= {int(a.rsplit(":", 1)[1]) for a in addresses}, (name, addresses)
    print("listening:", seen)
