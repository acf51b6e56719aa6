"""Bad input, faults and security (issue #8): shared settings for the Hypothesis fuzz tests and the case count.

`SCA_FUZZ_EXAMPLES` is the total number of generated cases the fuzz suite aims for, shared out between
the edges by the weights below (default 4,000, about a minute here; `SCA_FUZZ_EXAMPLES=10000` for the full run). Each fuzz test calls `record(edge)` once per case it
runs, and the session's end writes `build/fuzz-report.json` (cases per edge, the total, the seconds
spent) and prints the same in the terminal summary, so "at least 10,000 cases" is a number on file.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from pipeline.settings import REPO_ROOT

REPORT = REPO_ROOT / "build" / "fuzz-report.json"
# 4,000 keeps these files near a minute on a busy two-core machine; SCA_FUZZ_EXAMPLES=10000 is the full run.
TOTAL = int(os.environ.get("SCA_FUZZ_EXAMPLES", "4000"))
# Share of the total per edge; the cheap pure validators get more, HTTP round trips fewer.
WEIGHTS = {
    "frames": 14, "frames.runtime": 4, "frames.seq": 2,
    "readings": 12, "readings.runtime": 5,
    "gateway.batch": 10, "gateway.http": 6, "gateway.mqtt": 7,
    "alerts.signal": 8, "alerts.action": 7,
    "broadcast.command": 8,
    "control.api": 7,
}
COUNTS: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()
# Failing examples are kept under build/ (ignored by git) so a rerun tries them first.
DATABASE = DirectoryBasedExampleDatabase(str(REPO_ROOT / "build" / "hypothesis"))


def examples(edge: str) -> int:
    return max(10, math.ceil(TOTAL * WEIGHTS[edge] / sum(WEIGHTS.values())))


def fuzz(edge: str, deadline_ms: int = 2000):
    """Hypothesis settings for one edge: its share of the cases; a case slower than the deadline is a failure
    (a hang or quadratic blow-up shows up here, with the input, before pytest-timeout kills the test)."""
    return settings(max_examples=examples(edge), deadline=timedelta(milliseconds=deadline_ms), database=DATABASE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
                    print_blob=True)


def record(edge: str) -> None:
    """Count one case; call it after any `assume`, so rejected inputs are not counted."""
    COUNTS[edge] += 1


class timed:
    """`with timed(edge):` around a fuzz test's run adds its wall time to the report."""

    def __init__(self, edge: str):
        self.edge = edge

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *_exc):
        SECONDS[self.edge] += time.perf_counter() - self.start


def pytest_sessionfinish(session, exitstatus):
    if not COUNTS:
        return
    report = {"target_total": TOTAL, "total_cases": sum(COUNTS.values()), "cases": dict(sorted(COUNTS.items())),
              "seconds": {k: round(v, 2) for k, v in sorted(SECONDS.items())},
              "env": {"SCA_FUZZ_EXAMPLES": os.environ.get("SCA_FUZZ_EXAMPLES")}, "exit_status": int(exitstatus)}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter):
    if not COUNTS:
        return
    terminalreporter.section("bad-input fuzz cases")
    for edge, count in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{edge:20s} {count:7d}  {SECONDS.get(edge, 0.0):6.1f} s")
    terminalreporter.write_line(f"{'total':20s} {sum(COUNTS.values()):7d}  (report: {REPORT})")


# ------------------------------------------------------------------ the control-room API on a private Redis
class ControlRoom:
    """The API app, the users book, tokens by role, the Redis URL, and what was published."""

    def __init__(self, app, users, tokens: dict[str, str], redis_url: str, published: list, users_file):
        self.app, self.users, self.tokens, self.redis_url = app, users, tokens, redis_url
        self.published, self.users_file = published, users_file


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    """A redis-server of our own on a free port, no persistence; skip when it cannot start."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def control_room(site, private_redis, tmp_path_factory):
    from pipeline.control.api import create_control_app
    from pipeline.control.users import UserBook

    folder = tmp_path_factory.mktemp("control")
    users = UserBook(folder / "users.yaml")
    tokens = {"admin": users.add("boss", "admin"), "operator": users.add("guard", "operator")}
    published: list[tuple[str, bytes, bytes]] = []
    app = create_control_app(site, users, lambda channel, key, value: published.append((channel, key, value)),
                             private_redis, folder / "evidence")
    return ControlRoom(app, users, tokens, private_redis, published, folder / "users.yaml")

