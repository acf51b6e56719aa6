"""`sca infra`: idempotent, and a broker restart loses no acknowledged message."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from pipeline.infra import services
from pipeline.settings import REPO_ROOT
from tests.integration.kafka_io import produce, read_all

pytestmark = pytest.mark.integration


def sca(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=os.environ.copy(), timeout=120)


def test_up_is_idempotent_and_status_reports_both(infra):
    again = sca("infra", "up")
    assert again.returncode == 0, again.stderr
    for name in ("kafka", "redis", "mosquitto"):
        assert f"{name}: already running" in again.stderr
    status = sca("infra", "status")
    assert status.returncode == 0
    assert f"127.0.0.1:{infra.kafka_port}" in status.stdout and f"127.0.0.1:{infra.redis_port}" in status.stdout


def test_services_listen_on_loopback_only(infra):
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    loopback = ("127.0.0.1:", "[::ffff:127.0.0.1]:")
    for port in (infra.kafka_port, infra.kafka_controller_port, infra.redis_port, infra.mqtt_port):
        local = [line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
        assert local and all(addr.startswith(loopback) for addr in local), (port, local)


def test_broker_down_and_up_loses_no_acknowledged_message(infra):
    name = "sca.test-durability"
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    admin.create_topics([NewTopic(name, 3, 1)])
    admin.close()
    payloads = [f"msg-{i:05d}".encode() * 20 for i in range(2000)]
    acked = produce(infra, name, [(str(i % 7).encode(), p, None) for i, p in enumerate(payloads)])
    assert acked == len(payloads)

    assert services.down(infra, ["kafka"]) == {"kafka": "stopped"}
    assert services.status(infra)["kafka"] == "stopped"
    assert services.up(infra, progress=lambda _m: None)["kafka"].startswith("started")

    back = read_all(infra, name, timeout_s=60)
    assert sorted(r.value for r in back) == sorted(payloads)


def test_a_hole_is_read_back_from_kafka_with_keys_values_and_headers(infra):
    """The gap filler's reader (pipeline.offset_gaps) on the real broker: exactly the asked range, in order."""
    import asyncio

    from faust.types import TP

    from pipeline.offset_gaps import KafkaRangeReader

    name = "sca.test-read-back"
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    admin.create_topics([NewTopic(name, 1, 1)])
    admin.close()
    assert produce(infra, name, [(b"dev-%d" % i, b"value-%d" % i, [("n", b"%d" % i)]) for i in range(1200)]) == 1200
    records = asyncio.run(KafkaRangeReader(infra.kafka_bootstrap)(TP(name, 0), 17, 1103))
    assert [r.offset for r in records] == list(range(17, 1103))
    assert (records[0].key, records[0].value, records[0].headers) == (b"dev-17", b"value-17", [("n", b"17")])
    assert records[-1].value == b"value-1102"
