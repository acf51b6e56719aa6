"""Redis from Debian's `redis-server`, on 127.0.0.1, append-only file under the run directory."""
from __future__ import annotations

import shutil

from pipeline.infra.daemon import DaemonService


class RedisServer(DaemonService):
    name = "redis"
    marker = "redis-server"
    install_hint = "Redis (Debian: apt-get install redis-server)"
    port_variable = "SCA_REDIS_PORT"

    @property
    def port(self) -> int:
        return self.settings.redis_port

    def binary(self) -> str | None:
        return shutil.which("redis-server")

    def launch_args(self, binary: str) -> list[str]:
        return [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes",
                "--dir", str(self.dir), "--appendonly", "yes", "--daemonize", "yes",
                "--pidfile", str(self.pid_file), "--logfile", str(self.log), "--save", "60 1"]

    def answers(self) -> bool:
        import redis

        client = redis.Redis.from_url(self.settings.redis_url, socket_timeout=1.0)
        try:
            return bool(client.ping())
        finally:
            client.close()
