"""Real Kafka and Redis for the integration and fault tests, started by the project's own launcher.

A pytest plugin (tests/conftest.py loads it), so `tests/integration/` and `tests/faults/` share one
session: one broker, one Redis. Each test session gets its own run directory and free ports, so it
never touches a demo's data or a developer's running services, and stops what it started.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from pipeline.infra import services
from pipeline.recovery_watchdog import EXIT_STUCK
from pipeline.settings import REPO_ROOT, Settings, load_settings
from pipeline.stats import read_all
from pipeline.topics_admin import apply_topics
from tests.conftest import DATA, TEST_SITE



def live_site(run_dir: Path) -> Path:
    """The test site with the simulator's port of this session."""
    copy = TEST_SITE.parent / f".live-site-{SPEAKER_PORT}.yaml"
    copy.write_text(TEST_SITE.read_text().replace(f"127.0.0.1:{SITE_PORT}/", f"127.0.0.1:{SPEAKER_PORT}/"))
    return copy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The test site's speakers and webhooks point at 127.0.0.1:8765; each session serves the simulator on a free
# port instead and runs the worker on a copy of the site file that says so (two sessions never collide).
SITE_PORT = 8765
SPEAKER_PORT = free_port()  # the speaker and webhook simulator of this session


@pytest.fixture(scope="session")
def infra(tmp_path_factory) -> Settings:
    run_dir = tmp_path_factory.mktemp("sca-run")
    patch = pytest.MonkeyPatch()
    env = {"SCA_RUN_DIR": str(run_dir), "SCA_KAFKA_PORT": str(free_port()),
           "SCA_KAFKA_CONTROLLER_PORT": str(free_port()), "SCA_REDIS_PORT": str(free_port()), "SCA_MQTT_PORT": str(free_port()),
           "SCA_SITE": str(live_site(run_dir)), "SCA_DETECTOR_MODEL": str(DATA.parent / "models" / "yolov8n-coco-int8-320.onnx"), "SCA_APP_ID": f"sca-test-{uuid.uuid4().hex[:8]}",
           "SCA_TEST_HOOK_SECRET": HOOK_SECRET, "SCA_USERS": str(run_dir / "users.yaml")}
    for key, value in env.items():
        patch.setenv(key, value)
    settings = load_settings()
    try:
        services.up(settings, progress=lambda _m: None)
        apply_topics(settings.kafka_bootstrap)
        yield settings
    finally:
        services.down(settings)
        patch.undo()
        Path(env["SCA_SITE"]).unlink(missing_ok=True)


class WorkerProcess:
    """A `sca worker` subprocess. With `supervised`, it is started again when it exits with the recovery
    watchdog's code, as docker-compose's `restart: unless-stopped` does in a deployment (the restarts are
    counted in `restarts`, so a test can report them)."""

    def __init__(self, settings: Settings, log: Path, env: dict[str, str] | None = None, supervised: bool = False):
        self.settings = settings
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.restarts = 0
        self.stopping = False
        self.proc = self._start()
        self.redis = redis.Redis.from_url(settings.redis_url)
        if supervised:
            threading.Thread(target=self._supervise, name="worker-supervisor", daemon=True).start()

    def _start(self) -> subprocess.Popen:
        with open(self.log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "info"],
                                    stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=self.env)

    def _supervise(self) -> None:
        while not self.stopping:
            if self.proc.poll() == EXIT_STUCK and not self.stopping:
                self.restarts += 1
                self.proc = self._start()
            time.sleep(0.5)

    def stats(self) -> dict[str, str]:
        for stats in read_all(self.redis):
            if stats.get("pid") == str(self.proc.pid):
                return stats
        return {}

    def count(self, name: str) -> int:
        return int(self.stats().get(name, 0))

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"worker exited; log:\n{self.log.read_text()[-3000:]}"
            if self.stats().get("ready") == "1":
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.stopping = True
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


HOOK_SECRET = "test-hook-secret-0123456789"


@pytest.fixture(scope="session")
def speakers(tmp_path_factory):
    """The speaker simulator: an HTTP server that keeps every WAV the loudspeaker service delivers."""
    from pipeline.broadcast.simulator import serve_in_thread

    running = serve_in_thread(SPEAKER_PORT, store_dir=tmp_path_factory.mktemp("speakers"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def worker(infra, speakers):
    process = WorkerProcess(infra, infra.run_dir / "logs" / f"worker-{uuid.uuid4().hex[:6]}.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
