"""`sca topics apply`: make the broker's topics match the contract, idempotently.

Creates missing topics, raises partition counts that are too low (Kafka cannot lower
them: that is reported, not hidden) and sets the configuration the contract names.
"""
from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.contracts import TopicSpec, load_topics


@dataclass
class ApplyResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    warnings: list[str]


def _admin(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="sca-topics", request_timeout_ms=15000)


def _current_partitions(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = admin.describe_topics(names)
    return {t["name"]: len(t["partitions"]) for t in described if not t.get("error_code")}


def _current_config(admin: KafkaAdminClient, name: str, keys: list[str]) -> dict[str, str]:
    response = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    entries = response.get("topic", {}).get(name, {})
    return {k: entries[k]["value"] for k in keys if k in entries}


def apply_topics(bootstrap: str, specs: dict[str, TopicSpec] | None = None) -> ApplyResult:
    specs = specs or load_topics()
    result = ApplyResult([], [], [], [])
    admin = _admin(bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [s for s in specs.values() if s.name not in existing]
        for spec in missing:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)])
                result.created.append(spec.name)
            except TopicAlreadyExistsError:
                existing.add(spec.name)
        present = [s for s in specs.values() if s.name in existing]
        partitions = _current_partitions(admin, [s.name for s in present]) if present else {}
        for spec in present:
            changed = False
            have = partitions.get(spec.name, spec.partitions)
            if have < spec.partitions:
                admin.create_partitions({spec.name: NewPartitions(spec.partitions)})
                changed = True
            elif have > spec.partitions:
                result.warnings.append(f"{spec.name} has {have} partitions, the contract says {spec.partitions}; "
                                       "Kafka cannot reduce them")
            current = _current_config(admin, spec.name, list(spec.config))
            if any(current.get(k) != v for k, v in spec.config.items()):
                admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=spec.config)])
                changed = True
            (result.updated if changed else result.unchanged).append(spec.name)
    finally:
        admin.close()
    return result
