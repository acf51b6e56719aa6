"""Eclipse Mosquitto from Debian's `mosquitto` package: the MQTT broker sensors publish to, on 127.0.0.1."""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess

from pipeline.infra.process import InfraError, pid_alive, port_open, read_pid, stop_pid, wait_until
from pipeline.settings import Settings

MARKER = "mosquitto"


def _answers(port: int) -> bool:
    """A real MQTT CONNECT/CONNACK round trip, not just an open port."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sca-infra-probe")
    try:
        return client.connect("127.0.0.1", port, keepalive=5) == mqtt.MQTT_ERR_SUCCESS and \
            client.loop(timeout=1.0) == mqtt.MQTT_ERR_SUCCESS and client.is_connected()
    finally:
        client.disconnect()


class MosquittoBroker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.dir = settings.run_dir / "mosquitto"
        self.pid_file = settings.run_dir / "mosquitto.pid"
        self.log = settings.run_dir / "logs" / "mosquitto.log"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        return pid if pid_alive(pid, MARKER) else None

    def status(self) -> str:
        pid = self.running_pid()
        return f"running (pid {pid}, 127.0.0.1:{self.settings.mqtt_port})" if pid else "stopped"

    def config(self) -> str:
        return "\n".join([
            f"listener {self.settings.mqtt_port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.log}",
            f"pid_file {self.pid_file}",
            "max_packet_size 1048576",
            "max_queued_messages 100000",
            # Started as root, mosquitto would switch to user `mosquitto`, who cannot write our run directory.
            f"user {getpass.getuser()}",
            "",
        ])

    def up(self, timeout_s: float = 20.0) -> str:
        if self.running_pid():
            wait_until(lambda: _answers(self.settings.mqtt_port), timeout_s, "Mosquitto", self.log)
            return "already running"
        # Debian installs it in /usr/sbin, which a non-root PATH often lacks.
        binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")
        if binary is None:
            raise InfraError("missing: mosquitto — install Eclipse Mosquitto (Debian: apt-get install mosquitto)")
        if port_open(self.settings.mqtt_port):
            raise InfraError(f"port {self.settings.mqtt_port} on 127.0.0.1 is taken by another process; "
                             "stop it or set SCA_MQTT_PORT")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.config())
        result = subprocess.run([binary, "-c", str(conf), "-d"], capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"mosquitto failed to start: {result.stderr or result.stdout}; see {self.log}")
        wait_until(lambda: _answers(self.settings.mqtt_port), timeout_s,
                   f"Mosquitto on port {self.settings.mqtt_port}", self.log)
        return f"started (pid {read_pid(self.pid_file)})"

    def down(self) -> str:
        pid = self.running_pid()
        if not pid:
            self.pid_file.unlink(missing_ok=True)
            return "not running"
        stop_pid(pid, MARKER, timeout_s=15.0)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"
