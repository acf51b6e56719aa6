"""Silences in Redis (the fast view the manager reads) backed by the compacted `sca.silences.v1` topic.

The control-room API writes a silence to Kafka first (the record) and then to Redis; `sca alerts rebuild`
restores Redis from the topic. The manager reads the active silences through `SilenceCache`, at most
once a second, and keeps the last list it read if Redis is briefly away: a silence is a convenience
for operators, losing Redis for a moment must not stop alerts.
"""
from __future__ import annotations

import logging
import time

import redis
import redis.asyncio as aioredis

from pipeline.alerts.store import PREFIX
from pipeline.messages import Silence

log = logging.getLogger(__name__)
SILENCES = PREFIX + "silences"


def put(client: redis.Redis, silence: Silence) -> None:
    """Store (or tombstone) one silence; a deleted silence stays visible as such until it would have ended."""
    client.hset(SILENCES, silence.id, silence.model_dump_json())


def get(client: redis.Redis, silence_id: str) -> Silence | None:
    raw = client.hget(SILENCES, silence_id)
    return Silence.model_validate_json(raw) if raw else None


def all_silences(client: redis.Redis) -> list[Silence]:
    return sorted((Silence.model_validate_json(v) for v in client.hvals(SILENCES)), key=lambda s: s.starts_at)


class SilenceCache:
    """The manager's view of silences: re-read from Redis at most every `max_age_s`."""

    def __init__(self, client: aioredis.Redis, max_age_s: float = 1.0):
        self.client = client
        self.max_age_s = max_age_s
        self._silences: list[Silence] = []
        self._read_at = float("-inf")

    async def current(self) -> list[Silence]:
        if time.monotonic() - self._read_at >= self.max_age_s:
            try:
                raw = await self.client.hvals(SILENCES)
                self._silences = [s for s in map(Silence.model_validate_json, raw) if not s.deleted]
            except (redis.RedisError, OSError, ValueError) as exc:
                log.warning("could not read silences, using the last %d known: %s", len(self._silences), exc)
            self._read_at = time.monotonic()
        return self._silences
