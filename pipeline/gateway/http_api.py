"""HTTP front end of the sensor gateway (FastAPI).

POST /v1/readings with one reading, a list, or {"readings": [...]}:
  202 {"accepted": n}    every reading is on the readings topic (broker acknowledged)
  400 bad JSON · 413 body over the limit · 422 a field is wrong (each problem names index and field)
  503 the broker did not acknowledge in time: resend; duplicates are harmless (same device and time)
Nothing of a refused payload is sent.
"""
from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipeline.config import Site
from pipeline.gateway.batch import BatchRejected, validate_payload
from pipeline.messages import SensorReading

MAX_BODY_BYTES = 1024 * 1024
STATUS = {"bad_json": 400, "too_large": 413}


def create_http_app(site: Site, send: Callable[[list[SensorReading]], int]) -> FastAPI:
    app = FastAPI(title="Sensor gateway", version="1", description=__doc__)
    counts = {"accepted": 0, "rejected": 0}

    @app.get("/healthz")
    def health() -> dict:
        return {"status": "ok", "site": site.site.id, **counts}

    @app.post("/v1/readings", status_code=202)
    async def post_readings(request: Request):
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _refuse(counts, 413, "too_large", [{"field": "(body)", "message": f"over {MAX_BODY_BYTES} bytes"}])
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _refuse(counts, 413, "too_large", [{"field": "(body)", "message": f"over {MAX_BODY_BYTES} bytes"}])
        try:
            readings = validate_payload(site, bytes(body))
        except BatchRejected as exc:
            return _refuse(counts, STATUS.get(exc.reason, 422), exc.reason, [p.as_dict() for p in exc.problems])
        from starlette.concurrency import run_in_threadpool

        try:
            acked = await run_in_threadpool(send, readings)
        except Exception as exc:  # broker unreachable or timed out
            return JSONResponse({"error": "broker_unavailable", "detail": str(exc)[:300],
                                 "hint": "resend the same payload; duplicates are harmless"}, status_code=503)
        counts["accepted"] += acked
        return {"accepted": acked}

    return app


def _refuse(counts: dict, status: int, reason: str, problems: list[dict]) -> JSONResponse:
    counts["rejected"] += 1
    return JSONResponse({"error": reason, "problems": problems[:50], "accepted": 0}, status_code=status)
