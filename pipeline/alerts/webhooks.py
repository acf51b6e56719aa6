"""Webhook subscribers: filters, HMAC-SHA256 signatures, retries with backoff, a dead letter after the last try.

Each managed alert record (opened, grouped, escalated, acknowledged, resolved, ...) is POSTed as JSON to
every subscriber whose filter matches, unless the alert is silenced or inhibited by a confirmed fire.

Headers a subscriber gets:
- `X-SCA-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body with the subscriber's secret
  (`verify_signature` shows how to check it; compare in constant time);
- `X-SCA-Delivery`: alert id and version; delivery is at least once, so a subscriber may see the same
  delivery id twice and should drop the second;
- `X-SCA-Event: alert`.
The secret comes from the environment variable the site file names (`secret_env`), never from the file.
"""
from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os

from pydantic import BaseModel, ConfigDict, Field

from pipeline.messages import Alert, Identifier, Severity

SEVERITY_ORDER = list(Severity)


class SubscriberConfig(BaseModel):
    """One entry of the site file's `subscribers:` list."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    id: Identifier
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$", description="environment variable holding the HMAC secret")
    types: tuple[str, ...] = Field(default=("*",), description="alert types, shell-style patterns")
    min_severity: Severity = Severity.info
    sites: tuple[str, ...] = ("*",)
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=1.0, ge=0, description="first retry delay; doubles each try")
    max_backoff_s: float = Field(default=30.0, ge=0)

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env)
        if not value:
            raise LookupError(f"subscriber {self.id}: environment variable {self.secret_env} (its HMAC secret) is not set")
        return value.encode()

    def wants(self, alert: Alert) -> bool:
        if alert.silenced_by or alert.details.get("inhibited_by"):
            return False
        return (any(fnmatch.fnmatchcase(alert.type, p) for p in self.types)
                and any(fnmatch.fnmatchcase(alert.site, p) for p in self.sites)
                and SEVERITY_ORDER.index(alert.severity) >= SEVERITY_ORDER.index(self.min_severity))


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """What a subscriber runs on each request: the signature must match the exact bytes received."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


def delivery_id(alert: Alert) -> str:
    return f"{alert.id}@{alert.updated_at:.6f}"


def request_for(subscriber: SubscriberConfig, body: bytes, alert: Alert) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-SCA-Event": "alert", "X-SCA-Delivery": delivery_id(alert),
            "X-SCA-Signature": sign(subscriber.secret(), body)}
