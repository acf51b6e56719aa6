"""docker-compose.yml must stay true to what the local scripts run."""
import re

import yaml

from pipeline.settings import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_kafka_image_is_the_version_the_pom_pins():
    pom = (REPO_ROOT / "pipeline" / "infra" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom).group(1)
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{version}"


def test_broker_settings_match_the_local_launcher():
    from pipeline.infra.kafka_broker import server_properties
    from pipeline.settings import load_settings

    local = dict(line.split("=", 1) for line in server_properties(load_settings(), REPO_ROOT).splitlines())
    env = COMPOSE["services"]["kafka"]["environment"]
    for key in ("message.max.bytes", "auto.create.topics.enable", "group.initial.rebalance.delay.ms",
                "offsets.topic.replication.factor", "process.roles"):
        assert env["KAFKA_" + key.upper().replace(".", "_")] == local[key], key


def test_workers_run_the_same_commands_with_known_settings():
    services = COMPOSE["services"]
    assert services["worker"]["command"][0] == "worker"
    assert services["topics"]["command"] == ["topics", "apply"]
    settings_source = (REPO_ROOT / "pipeline" / "settings.py").read_text()
    for name in services["worker"]["environment"]:
        assert f'"{name}"' in settings_source, f"{name} is not read by pipeline/settings.py"


def test_host_ports_are_loopback_only():
    for name, service in COMPOSE["services"].items():
        for mapping in service.get("ports", []):
            assert mapping.startswith("127.0.0.1:"), (name, mapping)


def test_image_carries_the_topic_contract():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY topics" in dockerfile and "pip install --no-cache-dir -e ." in dockerfile


def test_gateway_and_mqtt_broker_are_deployed_like_locally():
    services = COMPOSE["services"]
    assert services["gateway"]["command"][0] == "gateway"
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    local_conf_keys = {"listener", "allow_anonymous", "persistence", "max_packet_size"}
    assert all(key in services["mosquitto"]["command"][2] for key in local_conf_keys)


def test_control_room_is_deployed_with_the_workers_evidence_and_speech():
    services = COMPOSE["services"]
    room = services["control-room"]
    assert room["command"][0] == "control-room"
    assert "evidence:/evidence:ro" in room["volumes"] and "evidence:/evidence" in services["worker"]["volumes"]
    assert services["worker"]["environment"]["SCA_EVIDENCE_DIR"] == "/evidence"
    assert "espeak-ng" in (REPO_ROOT / "Dockerfile").read_text()  # the loudspeaker service speaks in the worker
