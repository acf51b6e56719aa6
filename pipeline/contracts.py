"""The topic contract, read from `topics/asyncapi.yaml` so that code and documentation cannot drift."""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.settings import REPO_ROOT

ASYNCAPI = REPO_ROOT / "topics" / "asyncapi.yaml"


@dataclass(frozen=True)
class TopicSpec:
    channel: str
    name: str
    key: str
    partitions: int
    config: dict[str, str]
    python_type: str
    schema_file: Path | None

    def model(self):
        module, _, attr = self.python_type.partition(":")
        return getattr(importlib.import_module(module), attr)

    def schema(self) -> dict:
        if self.schema_file is None:
            raise ValueError(f"{self.name} has no schema file")
        return json.loads(self.schema_file.read_text())


def _topic_config(raw: dict) -> dict[str, str]:
    config = {}
    for key, value in raw.items():
        config[key] = ",".join(value) if isinstance(value, list) else str(value)
    return config


def _schema_file(message: dict, base: Path) -> Path | None:
    ref = (message.get("payload") or {}).get("$ref") or (message.get("headers") or {}).get("$ref")
    return (base / ref).resolve() if ref else None


@lru_cache(maxsize=4)
def load_topics(path: Path = ASYNCAPI) -> dict[str, TopicSpec]:
    """Every channel of the AsyncAPI file as a TopicSpec, by channel name."""
    doc = yaml.safe_load(path.read_text())
    specs = {}
    for channel, body in doc["channels"].items():
        kafka = body["bindings"]["kafka"]
        (message,) = body["messages"].values()
        specs[channel] = TopicSpec(
            channel=channel,
            name=body["address"],
            key=body["x-key"],
            partitions=int(kafka["partitions"]),
            config=_topic_config(kafka.get("topicConfiguration", {})),
            python_type=body["x-python"],
            schema_file=_schema_file(message, path.parent),
        )
    return specs


def topic(channel: str) -> TopicSpec:
    return load_topics()[channel]


def generated_schema(spec: TopicSpec) -> dict:
    """The JSON Schema of the topic's Python type, as published in topics/schemas/."""
    schema = spec.model().model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:sca:schema:{spec.schema_file.stem if spec.schema_file else spec.name}",
        "x-topic": spec.name,
        **schema,
    }


def write_schemas(specs: dict[str, TopicSpec] | None = None) -> list[Path]:
    written = []
    for spec in (specs or load_topics()).values():
        if spec.schema_file is None:
            continue
        spec.schema_file.parent.mkdir(parents=True, exist_ok=True)
        spec.schema_file.write_text(json.dumps(generated_schema(spec), indent=2, ensure_ascii=False) + "\n")
        written.append(spec.schema_file)
    return written
