"""A loudspeaker simulator for tests and the demo: stores what it is sent, fails when told to.

    POST /speakers/{id}                 body audio/wav; headers X-Command-Id, X-Priority, X-Volume, X-Preempt
    GET  /speakers/{id}/received        [{command_id, priority, volume, preempt, bytes, duration_s, at, file}]
    POST /webhooks/{id}                 a webhook subscriber: keeps body and headers as received
    GET  /webhooks/{id}/received        [{body (text), signature, delivery, event, at}]
    POST /control/fail?speaker=ID&count=N   the next N posts to that speaker (or webhook id) answer 503
    POST /control/reset                 forget everything received and every pending failure

Every WAV is also written under `store_dir/<speaker>/` (when given). `serve_in_thread(port)` runs it
with uvicorn on 127.0.0.1 in a daemon thread (port 0: a free one) and returns a handle with `.url`
and `.stop()`.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from pipeline.broadcast.tts import wav_stats
from pipeline.serving import Running
from pipeline.serving import serve_in_thread as serve_app


def create_app(store_dir: str | Path | None = None) -> FastAPI:
    app = FastAPI(title="speaker simulator")
    lock = threading.Lock()
    received: dict[str, list[dict]] = {}
    fail: dict[str, int] = {}
    hooks: dict[str, list[dict]] = {}
    store = Path(store_dir) if store_dir is not None else None
    app.state.received = received
    app.state.fail = fail

    @app.post("/speakers/{speaker}")
    async def play(speaker: str, request: Request):
        body = await request.body()
        with lock:
            if fail.get(speaker, 0) > 0:
                fail[speaker] -= 1
                return JSONResponse({"error": "simulated failure"}, status_code=503)
        if request.headers.get("content-type", "").split(";")[0].strip() != "audio/wav":
            raise HTTPException(415, "expected Content-Type audio/wav")
        try:
            duration, rms = wav_stats(body)
        except Exception as exc:  # noqa: BLE001 - anything unreadable is the client's fault
            raise HTTPException(400, f"not a 16-bit PCM WAV: {exc}") from None
        command_id = request.headers.get("x-command-id", "")
        record = {"command_id": command_id, "priority": request.headers.get("x-priority", ""),
                  "volume": int(request.headers.get("x-volume", "0") or 0),
                  "preempt": request.headers.get("x-preempt") == "1", "bytes": len(body),
                  "duration_s": round(duration, 3), "rms": round(rms, 5), "at": time.time(), "file": None}
        with lock:
            items = received.setdefault(speaker, [])
            if store is not None:
                folder = store / "".join(c if c.isalnum() or c in "-_." else "_" for c in speaker)
                folder.mkdir(parents=True, exist_ok=True)
                safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in command_id)[:100]
                path = folder / f"{len(items):05d}-{safe or 'noid'}.wav"
                path.write_bytes(body)
                record["file"] = str(path)
            items.append(record)
        return {"ok": True, "duration_s": record["duration_s"]}

    @app.post("/webhooks/{hook}")
    async def webhook(hook: str, request: Request):
        body = await request.body()
        with lock:
            if fail.get(hook, 0) > 0:
                fail[hook] -= 1
                return JSONResponse({"error": "simulated failure"}, status_code=503)
            hooks.setdefault(hook, []).append({
                "body": body.decode("utf-8", "replace"), "signature": request.headers.get("x-sca-signature", ""),
                "delivery": request.headers.get("x-sca-delivery", ""), "event": request.headers.get("x-sca-event", ""),
                "at": time.time()})
        return {"ok": True}

    @app.get("/webhooks/{hook}/received")
    def webhook_received(hook: str):
        with lock:
            return list(hooks.get(hook, []))

    @app.get("/speakers/{speaker}/received")
    def received_by(speaker: str):
        with lock:
            return list(received.get(speaker, []))

    @app.post("/control/fail")
    def control_fail(speaker: str, count: int = 1):
        with lock:
            fail[speaker] = max(0, count)
        return {"speaker": speaker, "fail_next": fail[speaker]}

    @app.post("/control/reset")
    def control_reset():
        with lock:
            received.clear()
            fail.clear()
            hooks.clear()
        return {"ok": True}

    return app


def serve_in_thread(port: int = 0, store_dir: str | Path | None = None, startup_timeout_s: float = 10.0) -> Running:
    """Run the simulator on 127.0.0.1:`port` (0: any free port) in a daemon thread; returns once it listens."""
    return serve_app(create_app(store_dir), port, "speaker simulator", startup_timeout_s)
