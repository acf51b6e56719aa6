"""Runtime settings from environment variables.

Why environment variables: the same code runs under `sca infra` on a laptop, under
docker-compose and on a real cluster; each of those sets a handful of `SCA_*`
variables instead of editing files. Every default points at the local services that
`sca infra up` starts on 127.0.0.1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Where the services are and where local state lives."""

    run_dir: Path = field(default_factory=lambda: Path(_env("SCA_RUN_DIR", str(REPO_ROOT / ".sca"))))
    kafka_port: int = field(default_factory=lambda: int(_env("SCA_KAFKA_PORT", "9092")))
    kafka_controller_port: int = field(default_factory=lambda: int(_env("SCA_KAFKA_CONTROLLER_PORT", "9093")))
    kafka_bootstrap_override: str = field(default_factory=lambda: _env("SCA_KAFKA_BOOTSTRAP", ""))
    redis_port: int = field(default_factory=lambda: int(_env("SCA_REDIS_PORT", "6379")))
    mqtt_port: int = field(default_factory=lambda: int(_env("SCA_MQTT_PORT", "1883")))
    mqtt_host: str = field(default_factory=lambda: _env("SCA_MQTT_HOST", "127.0.0.1"))
    gateway_port: int = field(default_factory=lambda: int(_env("SCA_GATEWAY_PORT", "8088")))
    redis_url_override: str = field(default_factory=lambda: _env("SCA_REDIS_URL", ""))
    site_file: Path = field(default_factory=lambda: Path(_env("SCA_SITE", str(REPO_ROOT / "sites" / "demo" / "site.yaml"))))
    rules_file_override: str = field(default_factory=lambda: _env("SCA_RULES", ""))
    app_id: str = field(default_factory=lambda: _env("SCA_APP_ID", "sca-worker"))
    kafka_heap: str = field(default_factory=lambda: _env("SCA_KAFKA_HEAP", "512m"))
    api_port: int = field(default_factory=lambda: int(_env("SCA_API_PORT", "8080")))
    users_override: str = field(default_factory=lambda: _env("SCA_USERS", ""))
    evidence_override: str = field(default_factory=lambda: _env("SCA_EVIDENCE_DIR", ""))
    recovery_timeout_s: float = field(default_factory=lambda: float(_env("SCA_RECOVERY_TIMEOUT_S", "180")))

    @property
    def users_file(self) -> Path:
        """Control-room users and token hashes (`sca users add`); default in the run directory, not the repo."""
        return Path(self.users_override) if self.users_override else self.run_dir / "users.yaml"

    @property
    def evidence_dir(self) -> Path:
        """Where vision cores write evidence clips and images; the API serves files from here only."""
        return Path(self.evidence_override) if self.evidence_override else self.run_dir / "evidence"

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_override or f"127.0.0.1:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        return self.redis_url_override or f"redis://127.0.0.1:{self.redis_port}/0"

    def rules_file(self, site_dir: Path) -> Path | None:
        """SCA_RULES, else rules.yaml beside the site file, else None (built-in defaults)."""
        if self.rules_file_override:
            return Path(self.rules_file_override)
        beside = site_dir / "rules.yaml"
        return beside if beside.exists() else None

    @property
    def topics_dir(self) -> Path:
        return REPO_ROOT / "topics"


def load_settings() -> Settings:
    """Read the settings now (tests change the environment between calls)."""
    return Settings()
