"""Eclipse Mosquitto from Debian's `mosquitto` package: the MQTT broker sensors publish to, on 127.0.0.1."""
from __future__ import annotations

import getpass
import os
import shutil

from pipeline.infra.daemon import DaemonService


class MosquittoBroker(DaemonService):
    name = "mosquitto"
    marker = "mosquitto"
    install_hint = "Eclipse Mosquitto (Debian: apt-get install mosquitto)"
    port_variable = "SCA_MQTT_PORT"

    @property
    def port(self) -> int:
        return self.settings.mqtt_port

    def binary(self) -> str | None:
        # Debian installs it in /usr/sbin, which a non-root PATH often lacks.
        return shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")

    def config(self) -> str:
        return "\n".join([
            f"listener {self.port} 127.0.0.1",
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

    def launch_args(self, binary: str) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.config())
        return [binary, "-c", str(conf), "-d"]

    def answers(self) -> bool:
        """A real MQTT CONNECT/CONNACK round trip, not just an open port."""
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sca-infra-probe")
        try:
            return client.connect("127.0.0.1", self.port, keepalive=5) == mqtt.MQTT_ERR_SUCCESS and \
                client.loop(timeout=1.0) == mqtt.MQTT_ERR_SUCCESS and client.is_connected()
        finally:
            client.disconnect()
