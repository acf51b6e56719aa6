"""The topic contract: AsyncAPI file, JSON Schemas and Python message types must agree."""
import json

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from pipeline.contracts import ASYNCAPI, generated_schema, load_topics
from pipeline.messages import (Alert, AlertAction, AlertUpdate, AuditRecord, Silence, BroadcastAck, BroadcastCommand, DeadLetter, FrameHeaders,
                               SensorReading, VisionEvent)

SAMPLES = {
    "frames": FrameHeaders(camera="cam-1", ts=1.7e9, seq=3, width=640, height=480),
    "readings": SensorReading(device="smoke-1", type="smoke", ts=1.7e9, values={"temp_c": 21.5}, alarm=True),
    "vision_events": VisionEvent(id="ev-1", type="thrown_object", camera="cam-1", ts=1.7e9, t_start=1.7e9,
                                 confidence=0.9, details={"floor": 7}),
    "alerts": Alert(id="a-1", type="sensor_alarm", severity="high", site="s", device="smoke-1",
                    started_at=1.7e9, updated_at=1.7e9,
                    evidence=[{"kind": "image", "uri": "evidence/a.jpg", "content_type": "image/jpeg"}]),
    "alert_signals": Alert(id="a-1", type="sensor_alarm", severity="high", site="s", device="smoke-1",
                           started_at=1.7e9, updated_at=1.7e9),
    "alert_actions": AlertAction(id="act-1", alert_id="a-1", fingerprint="f" * 20, action="assign", by="guard",
                                 at=1.7e9, assignee="grid-li", note="on my way"),
    "silences": Silence(id="s-1", matchers={"type": "smoke_*"}, starts_at=1.7e9, ends_at=1.7e9 + 3600,
                        created_by="admin"),
    "audit": AuditRecord(id="au-1", user="admin", role="admin", action="silence.create", target="s-1", at=1.7e9),
    "alert_updates": AlertUpdate(id="u-1", alert_id="a-1", action="opened", status="open", at=1.7e9, by="system"),
    "broadcast_commands": BroadcastCommand(id="b-1", speaker="spk-1", priority="fire_lane", text_zh="请驶离",
                                           issued_at=1.7e9),
    "broadcast_acks": BroadcastAck(command_id="b-1", speaker="spk-1", status="delivered", at=1.7e9),
    "dead_letters": DeadLetter(reason="bad_json", error="x", source_topic="t", partition=0, offset=1,
                               value_b64="e30=", at=1.7e9),
}


def test_every_required_topic_is_in_the_contract():
    names = set(load_topics())
    assert {"frames", "readings", "vision_events", "alerts", "alert_updates", "broadcast_commands",
            "broadcast_acks", "dead_letters"} <= names


def test_alerts_topic_is_compacted_and_others_retain_by_time():
    topics = load_topics()
    compacted = {"alerts", "silences"}
    for channel in compacted:
        assert topics[channel].config["cleanup.policy"] == "compact"
    for channel, spec in topics.items():
        assert spec.partitions >= 1 and spec.key
        if channel not in compacted:
            assert "retention.ms" in spec.config, channel


def test_manager_topics_are_co_partitioned():
    """Signals and actions of one fingerprint must land on the same worker as the manager's table."""
    topics = load_topics()
    assert topics["alert_signals"].partitions == topics["alert_actions"].partitions


def test_schema_files_match_the_python_types():
    for spec in load_topics().values():
        assert spec.schema_file is not None and spec.schema_file.exists(), spec.name
        assert spec.schema() == generated_schema(spec), (
            f"{spec.schema_file.name} is stale: run `sca topics schemas --write`")


@pytest.mark.parametrize("channel", sorted(SAMPLES))
def test_python_messages_validate_against_the_published_schema(channel):
    spec = load_topics()[channel]
    sample = SAMPLES[channel]
    assert isinstance(sample, spec.model())
    jsonschema.validate(json.loads(sample.model_dump_json()), spec.schema())


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(unexpected=1),
    lambda d: d.update(ts="yesterday"),
    lambda d: d.pop("device"),
    lambda d: d.update(type="toaster"),
    lambda d: d.update(battery=120),
    lambda d: d.update(device="bad id with spaces"),
])
def test_schema_and_python_reject_the_same_bad_readings(mutate):
    doc = json.loads(SAMPLES["readings"].model_dump_json())
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, load_topics()["readings"].schema())
    with pytest.raises(ValidationError):
        SensorReading.model_validate(doc)


def test_python_rejects_non_finite_numbers():
    with pytest.raises(ValidationError):
        SensorReading(device="d", type="heat", ts=1.7e9, values={"t": float("nan")})


def test_asyncapi_document_is_version_3_and_refs_resolve():
    doc = yaml.safe_load(ASYNCAPI.read_text())
    assert doc["asyncapi"].startswith("3.")
    for name, op in doc["operations"].items():
        channel = op["channel"]["$ref"].split("/")[-1]
        assert channel in doc["channels"], name
