"""Pid files, liveness and port checks shared by the Kafka and Redis launchers."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


class InfraError(RuntimeError):
    """A service cannot be started or reached; the message says what to do."""


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int | None, cmdline_marker: str) -> bool:
    """True when `pid` runs and its command line contains the marker (guards against pid reuse)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z" and cmdline_marker in cmdline


def port_open(port: int, host: str = "127.0.0.1", timeout_s: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        return sock.connect_ex((host, port)) == 0


def stop_pid(pid: int, marker: str, timeout_s: float) -> None:
    """SIGTERM, wait for a clean shutdown (Kafka flushes its logs), then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid, marker):
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while pid_alive(pid, marker):
        time.sleep(0.1)


def wait_until(check, timeout_s: float, what: str, log_file: Path | None = None) -> None:
    """Poll `check()` until it is true; on time-out name the log to read."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # the service is still starting; remember why
            last_error = exc
        time.sleep(0.3)
    hint = f"; see {log_file}" if log_file else ""
    raise InfraError(f"{what} did not answer within {timeout_s:.0f} s ({last_error or 'no answer'}){hint}")
