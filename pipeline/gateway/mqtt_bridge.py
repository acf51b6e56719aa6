"""MQTT front end of the sensor gateway: Mosquitto topic `sca/readings/<device>` to the readings topic.

QoS 1 with manual acknowledgement: the MQTT message is acknowledged only after Kafka has the
readings (or the dead-letter topic has the refused payload), so a gateway crash in between
makes Mosquitto deliver it again instead of losing it.
"""
from __future__ import annotations

import logging
import time

import paho.mqtt.client as mqtt

from pipeline.config import Site
from pipeline.deadletters import BadMessage, dead_letter
from pipeline.gateway.batch import BatchRejected, validate_payload
from pipeline.gateway.sink import KafkaSink

log = logging.getLogger(__name__)
TOPIC_FILTER = "sca/readings/+"
MAX_PAYLOAD_BYTES = 256 * 1024


def handle_payload(site: Site, sink: KafkaSink, topic: str, payload: bytes, mid: int) -> str:
    """Validate and forward one MQTT message; return 'accepted' or the dead-letter reason."""
    device = topic.rsplit("/", 1)[-1]
    try:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise BatchRejected("too_large", [])
        readings = validate_payload(site, payload, device_from_topic=device)
    except BatchRejected as exc:
        error = str(exc) or f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}"
        letter = dead_letter(BadMessage(exc.reason, error), topic=f"mqtt:{topic}", partition=0, offset=mid,
                             key=device.encode(), value=payload, headers=[], now=time.time(), worker="gateway")
        sink.send_dead_letter(letter)
        return exc.reason
    sink.send_readings(readings)
    return "accepted"


class MqttBridge:
    def __init__(self, site: Site, sink: KafkaSink, host: str, port: int, client_id: str = "sca-gateway"):
        self.site, self.sink = site, sink
        self.counts: dict[str, int] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.manual_ack_set(True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code == 0:
            client.subscribe(TOPIC_FILTER, qos=1)
            log.info("MQTT bridge subscribed to %s on %s:%s", TOPIC_FILTER, self.host, self.port)

    def _on_message(self, client, _userdata, message) -> None:
        try:
            outcome = handle_payload(self.site, self.sink, message.topic, message.payload, message.mid)
        except Exception as exc:  # Kafka did not take it: leave unacknowledged so Mosquitto redelivers
            log.error("could not forward MQTT message %s on %s: %s", message.mid, message.topic, exc)
            return
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        client.ack(message.mid, message.qos)

    def start(self) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def wait_subscribed(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no MQTT connection to {self.host}:{self.port}")
            time.sleep(0.05)
        time.sleep(0.2)  # the SUBACK follows the CONNACK

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
