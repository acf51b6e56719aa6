"""Control-room users: a YAML file of names, roles and SHA-256 hashes of their bearer tokens.

Only hashes are stored, so the file (or a backup of it) does not let anyone in; a token is shown
once, when `sca users add` or the admin API creates it. Roles: `operator` acts on alerts; `admin`
also manages silences, subscribers and users.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

Role = Literal["operator", "admin"]
ROLES: tuple[Role, ...] = ("operator", "admin")
_lock = threading.Lock()


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        return needed == "operator" or self.role == "admin"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserBook:
    """The users file, re-read when it changes (another process may add a user)."""

    def __init__(self, path: Path):
        self.path = path
        self._mtime: float | None = None
        self._entries: list[dict] = []

    def _load(self) -> list[dict]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        if mtime != self._mtime:
            raw = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            self._entries = list(raw.get("users") or [])
            self._mtime = mtime
        return self._entries

    def authenticate(self, token: str | None) -> User | None:
        if not token:
            return None
        digest = token_hash(token)
        for entry in self._load():
            if hmac.compare_digest(str(entry.get("token_sha256", "")), digest):
                return User(str(entry["name"]), entry["role"])
        return None

    def users(self) -> list[User]:
        return [User(str(e["name"]), e["role"]) for e in self._load()]

    def add(self, name: str, role: Role, token: str | None = None) -> str:
        """Create (or replace the token of) `name`; returns the token, which is stored only as a hash."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError("name: 1-64 letters, digits, '-', '_' or '.'")
        token = token or secrets.token_urlsafe(24)
        with _lock:
            entries = [e for e in self._load() if e.get("name") != name]
            entries.append({"name": name, "role": role, "token_sha256": token_hash(token)})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(yaml.safe_dump({"users": entries}, allow_unicode=True), encoding="utf-8")
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)
            self._mtime = None
        return token
