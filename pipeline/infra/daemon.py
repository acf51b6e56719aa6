"""A local service that daemonizes itself (redis-server, mosquitto): pid file, readiness, stop."""
from __future__ import annotations

import subprocess

from pipeline.infra.process import InfraError, pid_alive, port_open, read_pid, stop_pid, wait_until
from pipeline.settings import Settings


class DaemonService:
    """Subclasses name the binary, the port, the launch arguments and a real readiness probe."""

    name = ""
    marker = ""  # a string in the process's command line, against pid reuse
    install_hint = ""
    port_variable = ""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.run_dir / self.name
        self.pid_file = settings.run_dir / f"{self.name}.pid"
        self.log = settings.run_dir / "logs" / f"{self.name}.log"

    @property
    def port(self) -> int:
        raise NotImplementedError

    def binary(self) -> str | None:
        raise NotImplementedError

    def launch_args(self, binary: str) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid_alive(pid, self.marker) else None

    def status(self) -> str:
        pid = self.running_pid()
        return f"running (pid {pid}, 127.0.0.1:{self.port})" if pid else "stopped"

    def up(self, timeout_s: float = 20.0) -> str:
        if self.running_pid():
            wait_until(self.answers, timeout_s, self.name, self.log)
            return "already running"
        binary = self.binary()
        if binary is None:
            raise InfraError(f"missing: {self.marker} — install {self.install_hint}")
        if port_open(self.port):
            raise InfraError(f"port {self.port} on 127.0.0.1 is taken by another process; "
                             f"stop it or set {self.port_variable}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(self.launch_args(binary), capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"{self.marker} failed to start: {result.stderr or result.stdout}; see {self.log}")
        wait_until(self.answers, timeout_s, f"{self.name} on port {self.port}", self.log)
        return f"started (pid {read_pid(self.pid_file)})"

    def down(self) -> str:
        pid = self.running_pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        stop_pid(pid, self.marker, timeout_s=15.0)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"
