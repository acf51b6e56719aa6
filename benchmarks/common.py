"""Shared pieces of the benchmarks: private infrastructure, the machine's description, a results table."""
from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from pipeline.infra import services
from pipeline.settings import REPO_ROOT, Settings, load_settings
from pipeline.stats import read_all
from pipeline.topics_admin import apply_topics

RESULTS = REPO_ROOT / "benchmarks" / "results"
DATA = Path(os.environ.get("SCA_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data")))


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def private_infra(site_yaml: str):
    """Kafka and Redis of its own on free ports and a fresh run dir, so numbers start from empty topics."""
    run_dir = Path(tempfile.mkdtemp(prefix="sca-bench-"))
    site = run_dir / "site.yaml"
    site.write_text(site_yaml)
    env = {"SCA_RUN_DIR": str(run_dir), "SCA_KAFKA_PORT": str(_free_port()),
           "SCA_KAFKA_CONTROLLER_PORT": str(_free_port()), "SCA_REDIS_PORT": str(_free_port()), "SCA_MQTT_PORT": str(_free_port()),
           "SCA_SITE": str(site), "SCA_APP_ID": "sca-bench"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    settings = load_settings()
    try:
        services.up(settings, progress=lambda m: print(f"  {m}", file=sys.stderr))
        apply_topics(settings.kafka_bootstrap)
        yield settings
    finally:
        services.down(settings)
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def worker_process(settings: Settings):
    log = settings.run_dir / "logs" / "bench-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "warning"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=os.environ.copy())
    client = redis.Redis.from_url(settings.redis_url)

    def stats() -> dict[str, str]:
        return next((s for s in read_all(client) if s.get("pid") == str(proc.pid)), {})

    try:
        deadline = time.monotonic() + 120
        while stats().get("ready") != "1":
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start; see {log}")
            time.sleep(0.3)
        yield stats
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
