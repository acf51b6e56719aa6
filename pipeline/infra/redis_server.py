"""Redis from Debian's `redis-server`, on 127.0.0.1, append-only file under the run directory."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.infra.process import InfraError, pid_alive, port_open, read_pid, stop_pid, wait_until
from pipeline.settings import Settings

MARKER = "redis-server"


def _ping(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1.0)
    try:
        return bool(client.ping())
    finally:
        client.close()


class RedisServer:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.run_dir / "redis"
        self.pid_file = settings.run_dir / "redis.pid"
        self.log = settings.run_dir / "logs" / "redis.log"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid_alive(pid, MARKER) else None

    def status(self) -> str:
        pid = self.running_pid()
        return f"running (pid {pid}, 127.0.0.1:{self.settings.redis_port})" if pid else "stopped"

    def up(self, timeout_s: float = 20.0) -> str:
        if self.running_pid():
            wait_until(lambda: _ping(self.settings.redis_url), timeout_s, "Redis", self.log)
            return "already running"
        binary = shutil.which("redis-server")
        if binary is None:
            raise InfraError("missing: redis-server — install Redis (Debian: apt-get install redis-server)")
        if port_open(self.settings.redis_port):
            raise InfraError(f"port {self.settings.redis_port} on 127.0.0.1 is taken by another process; "
                             "stop it or set SCA_REDIS_PORT")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [binary, "--bind", "127.0.0.1", "--port", str(self.settings.redis_port), "--protected-mode", "yes",
               "--dir", str(self.dir), "--appendonly", "yes", "--daemonize", "yes",
               "--pidfile", str(self.pid_file), "--logfile", str(self.log), "--save", "60 1"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"redis-server failed to start: {result.stderr or result.stdout}; see {self.log}")
        wait_until(lambda: _ping(self.settings.redis_url), timeout_s, f"Redis on port {self.settings.redis_port}",
                   self.log)
        return f"started (pid {read_pid(self.pid_file)})"

    def down(self) -> str:
        pid = self.running_pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        stop_pid(pid, MARKER, timeout_s=15.0)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"
