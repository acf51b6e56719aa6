"""Serve an ASGI app with uvicorn on 127.0.0.1 in a daemon thread: the speaker simulator, the demo's
control room and tests use it. `serve_in_thread` returns once the server listens; `.stop()` ends it."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn


@dataclass
class Running:
    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    app: object

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)


def serve_in_thread(app, port: int = 0, name: str = "http", startup_timeout_s: float = 10.0,
                    lifespan: str = "off") -> Running:
    """Run `app` on 127.0.0.1:`port` (0: any free port); raise with the port named if it cannot start."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"{name}: cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"{name}-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{name} did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    return Running(f"http://127.0.0.1:{port}", port, server, thread, app)
