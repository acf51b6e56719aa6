"""The control-room HTTP API: alerts, their history and evidence, lifecycle actions, silences, users, audit.

Reads come from Redis (the view the worker keeps); every change goes through Kafka (an `AlertAction`
for the alert manager, a `Silence` on the compacted silences topic) so that the manager stays the one
writer of alert state and Redis can always be rebuilt. An action is answered `202 Accepted` once the
broker has it; the new state arrives on `/v1/events` (Server-Sent Events) a moment later.

Authentication: `Authorization: Bearer <token>` (or `?token=` where a browser cannot set headers:
EventSource, <img>). 401 without a valid token, 403 when the role is not enough, 422 with the field
named when the input is wrong, 404 for an unknown alert, 409 when the alert's state does not allow
the action. Every change is audited (who, role, what, target, when) on `sca.audit.v1` and in Redis.
"""
from __future__ import annotations

import asyncio
import logging
import mimetypes
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Literal

import orjson
import redis
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.alerts import silences as silence_store
from pipeline.alerts.manager import check_action
from pipeline.alerts.store import CHANGES, AlertReader
from pipeline.config import Site
from pipeline.control.users import Role, User, UserBook
from pipeline.devices import DEVICES, device_health, readings_around
from pipeline.messages import Alert, AlertAction, AuditRecord, EpochSeconds, Silence

AUDIT = "sca:audit"
AUDIT_MAX = 100_000
Publish = Callable[[str, bytes, bytes], None]  # (channel, key, value); returns once the broker has it

mimetypes.add_type("video/x-msvideo", ".avi")
mimetypes.add_type("video/mp4", ".mp4")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class Assignment(Note):
    assignee: str = Field(min_length=1, max_length=128)


class NewSilence(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    matchers: dict[Literal["type", "site", "location", "device"], Annotated[str, Field(min_length=1, max_length=256)]] \
        = Field(min_length=1)
    starts_at: EpochSeconds | None = Field(default=None, description="Unix seconds; default now")
    duration_s: float = Field(gt=0, le=30 * 86400, description="how long the silence lasts")
    comment: str = Field(min_length=1, max_length=1000, description="why: shown to every operator")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    role: Role


ACTIONS = {"acknowledge": "acknowledge", "assign": "assign", "resolve": "resolve", "false-alarm": "false_alarm"}


def create_control_app(site: Site, users: UserBook, publish: Publish, redis_url: str, evidence_dir: Path) -> FastAPI:
    app = FastAPI(title="Smart-community control room", version="1", description=__doc__)
    app.add_exception_handler(RequestValidationError, _validation_error)
    redact_tokens_in_access_log()
    client = redis.Redis.from_url(redis_url)
    reader = AlertReader(redis_url)
    bearer = HTTPBearer(auto_error=False)

    def current_user(request: Request,
                     credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> User:
        token = credentials.credentials if credentials else request.query_params.get("token")
        user = users.authenticate(token)
        if user is None:
            raise HTTPException(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        return user

    def role(needed: Role):
        def check(user: User = Depends(current_user)) -> User:
            if not user.can(needed):
                raise HTTPException(403, f"this needs the {needed} role; {user.name} is {user.role}")
            return user
        return check

    operator, admin = role("operator"), role("admin")

    def audit(user: User, action: str, target: str, **detail) -> None:
        record = AuditRecord(id=uuid.uuid4().hex, user=user.name, role=user.role, action=action, target=target,
                             at=time.time(), detail=detail)
        publish("audit", user.name.encode(), record.model_dump_json().encode())
        client.xadd(AUDIT, {"record": record.model_dump_json()}, maxlen=AUDIT_MAX, approximate=True)

    static = Path(__file__).parent / "static"
    if static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The control-room page; it logs in with the same tokens and talks to this API."""
        index = static / "index.html"
        if not index.is_file():
            raise HTTPException(404, "the control-room page is not installed")
        return FileResponse(index, media_type="text/html; charset=utf-8")

    @app.get("/healthz", tags=["health"])
    def health() -> dict:
        try:
            redis_ok = bool(client.ping())
        except redis.RedisError:
            redis_ok = False
        return {"status": "ok" if redis_ok else "degraded", "site": site.site.id, "redis": redis_ok}

    @app.get("/v1/me", tags=["users"])
    def me(user: User = Depends(current_user)) -> dict:
        return {"name": user.name, "role": user.role}

    @app.get("/v1/alerts", tags=["alerts"])
    def list_alerts(user: User = Depends(operator), status: str | None = None, type: str | None = None,
                    severity: str | None = None, active: bool = False,
                    limit: int = Query(default=100, ge=1, le=1000)) -> dict:
        active_ids = reader.active_ids() if active else None
        found = []
        for alert in reader.recent(5000 if (status or type or severity or active) else limit):
            if ((status and alert.status.value != status) or (type and alert.type != type)
                    or (severity and alert.severity.value != severity)
                    or (active_ids is not None and alert.id not in active_ids)):
                continue
            found.append(alert.model_dump(mode="json"))
            if len(found) >= limit:
                break
        return {"alerts": found, "counts": _counts(found)}

    def load_alert(alert_id: str) -> Alert:
        alert = reader.get(alert_id)
        if alert is None:
            raise HTTPException(404, f"no alert {alert_id!r}")
        return alert

    @app.get("/v1/alerts/{alert_id}", tags=["alerts"])
    def get_alert(alert_id: str, user: User = Depends(operator)) -> dict:
        alert = load_alert(alert_id)
        evidence = [{**e.model_dump(mode="json"), "url": f"/v1/evidence/{e.uri.lstrip('/')}"} for e in alert.evidence]
        return {"alert": alert.model_dump(mode="json"), "evidence": evidence,
                "history": [u.model_dump(mode="json") for u in reader.history(alert_id)]}

    def act(alert_id: str, kind: str, user: User, note: str, assignee: str | None = None) -> dict:
        alert = load_alert(alert_id)
        reason = check_action(alert, kind, assignee)
        if reason:
            raise HTTPException(409, reason)
        action = AlertAction(id=uuid.uuid4().hex, alert_id=alert.id, fingerprint=alert.fingerprint or alert.id,
                             action=kind, by=user.name, at=time.time(), note=note, assignee=assignee)
        publish("alert_actions", action.fingerprint.encode(), action.model_dump_json().encode())
        audit(user, f"alert.{kind}", alert.id, note=note, **({"assignee": assignee} if assignee else {}))
        return {"accepted": action.model_dump(mode="json")}

    @app.post("/v1/alerts/{alert_id}/acknowledge", status_code=202, tags=["alerts"])
    def acknowledge(alert_id: str, body: Note, user: User = Depends(operator)) -> dict:
        return act(alert_id, "acknowledge", user, body.note)

    @app.post("/v1/alerts/{alert_id}/assign", status_code=202, tags=["alerts"])
    def assign(alert_id: str, body: Assignment, user: User = Depends(operator)) -> dict:
        return act(alert_id, "assign", user, body.note, body.assignee)

    @app.post("/v1/alerts/{alert_id}/resolve", status_code=202, tags=["alerts"])
    def resolve(alert_id: str, body: Note, user: User = Depends(operator)) -> dict:
        return act(alert_id, "resolve", user, body.note)

    @app.post("/v1/alerts/{alert_id}/false-alarm", status_code=202, tags=["alerts"])
    def false_alarm(alert_id: str, body: Note, user: User = Depends(operator)) -> dict:
        return act(alert_id, "false_alarm", user, body.note)

    @app.get("/v1/alerts/{alert_id}/readings", tags=["alerts"])
    def alert_readings(alert_id: str, user: User = Depends(operator),
                       before_s: float = Query(default=300, ge=0, le=86400),
                       after_s: float = Query(default=120, ge=0, le=86400)) -> dict:
        """The alert's device readings around the time it started, for the chart beside it."""
        alert = load_alert(alert_id)
        series = readings_around(client, alert.device, alert.started_at - before_s, alert.started_at + after_s)
        return {"device": alert.device, "series": series}

    @app.get("/v1/devices", tags=["devices"])
    def devices(user: User = Depends(operator)) -> dict:
        return device_health(site, client.hgetall(DEVICES))

    @app.get("/v1/silences", tags=["silences"])
    def list_silences(user: User = Depends(operator)) -> dict:
        now = time.time()
        return {"silences": [{**s.model_dump(mode="json"), "active": not s.deleted and s.starts_at <= now < s.ends_at}
                             for s in silence_store.all_silences(client)]}

    @app.post("/v1/silences", status_code=201, tags=["silences"])
    def create_silence(body: NewSilence, user: User = Depends(admin)) -> dict:
        starts = body.starts_at or time.time()
        try:
            silence = Silence(id=f"silence-{uuid.uuid4().hex[:12]}", matchers=body.matchers, starts_at=starts,
                              ends_at=starts + body.duration_s, created_by=user.name, comment=body.comment)
        except ValidationError as exc:
            raise HTTPException(422, [{"loc": ["body", "duration_s"], "msg": e["msg"], "type": e["type"]}
                                      for e in exc.errors()]) from None
        publish("silences", silence.id.encode(), silence.model_dump_json().encode())
        silence_store.put(client, silence)
        audit(user, "silence.create", silence.id, matchers=body.matchers, duration_s=body.duration_s)
        return silence.model_dump(mode="json")

    @app.delete("/v1/silences/{silence_id}", tags=["silences"])
    def delete_silence(silence_id: str, user: User = Depends(admin)) -> dict:
        silence = silence_store.get(client, silence_id)
        if silence is None:
            raise HTTPException(404, f"no silence {silence_id!r}")
        tombstone = silence.model_copy(update={"deleted": True})
        publish("silences", silence.id.encode(), tombstone.model_dump_json().encode())
        silence_store.put(client, tombstone)
        audit(user, "silence.delete", silence.id)
        return tombstone.model_dump(mode="json")

    @app.get("/v1/subscribers", tags=["subscribers"])
    def list_subscribers(user: User = Depends(admin)) -> dict:
        return {"subscribers": [s.model_dump(mode="json") for s in site.subscribers]}  # secrets live in the env

    @app.get("/v1/users", tags=["users"])
    def list_users(user: User = Depends(admin)) -> dict:
        return {"users": [{"name": u.name, "role": u.role} for u in users.users()]}

    @app.post("/v1/users", status_code=201, tags=["users"])
    def create_user(body: NewUser, user: User = Depends(admin)) -> dict:
        token = users.add(body.name, body.role)
        audit(user, "user.create", body.name, role=body.role)
        return {"name": body.name, "role": body.role, "token": token, "note": "shown once; only its hash is kept"}

    @app.get("/v1/audit", tags=["audit"])
    def read_audit(user: User = Depends(admin), limit: int = Query(default=200, ge=1, le=5000)) -> dict:
        entries = client.xrevrange(AUDIT, count=limit)
        return {"audit": [orjson.loads(fields[b"record"]) for _, fields in entries]}

    @app.get("/v1/evidence/{path:path}", tags=["alerts"])
    def evidence(path: str, user: User = Depends(operator)) -> FileResponse:
        root = evidence_dir.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise HTTPException(404, "no such evidence file")
        media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media)

    @app.get("/v1/events", tags=["alerts"])
    async def events(request: Request, user: User = Depends(operator)) -> StreamingResponse:
        return StreamingResponse(_sse(request, redis_url), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 with the raw input made printable: a body that is not UTF-8 must be a 422, not a 500."""
    errors = [{**e, "input": repr(e["input"])[:200] if isinstance(e.get("input"), (bytes, bytearray)) else e.get("input")}
              for e in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors, custom_encoder={bytes: repr})}, status_code=422)


class _RedactTokens(logging.Filter):
    """`?token=` (for EventSource and <img>) must not reach the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(TOKEN_IN_URL.sub(r"\1token=<redacted>", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


TOKEN_IN_URL = re.compile(r"([?&])token=[^&\s]*")


def redact_tokens_in_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokens) for f in access.filters):
        access.addFilter(_RedactTokens())


def _counts(alerts: list[dict]) -> dict:
    by_type: dict[str, int] = {}
    for alert in alerts:
        by_type[alert["type"]] = by_type.get(alert["type"], 0) + 1
    return by_type


async def _sse(request: Request, redis_url: str, keepalive_s: float = 15.0) -> AsyncIterator[bytes]:
    """Every stored alert change as an `alert` event; a comment line now and then keeps proxies from closing it."""
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANGES)
    try:
        yield b": connected\n\n"
        last = time.monotonic()
        while not await request.is_disconnected():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message and message.get("type") == "message":
                data = message["data"]
                alert_id = orjson.loads(data).get("id", "")
                yield b"event: alert\nid: " + alert_id.encode() + b"\ndata: " + data + b"\n\n"
                last = time.monotonic()
            elif time.monotonic() - last > keepalive_s:
                yield b": keepalive\n\n"
                last = time.monotonic()
            await asyncio.sleep(0)
    finally:
        await pubsub.unsubscribe(CHANGES)
        await pubsub.aclose()
        await client.aclose()
