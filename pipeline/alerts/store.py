"""Current alert state in Redis: one JSON document per alert plus a time index and an open set.

Redis is a fast view; the compacted alerts topic is the record. The upsert is one Lua
script so that a redelivered or older record can never overwrite a newer one, and a
record already stored changes nothing (idempotent by id).
"""
from __future__ import annotations

import orjson
import redis
import redis.asyncio as aioredis

from pipeline.messages import Alert, AlertUpdate

PREFIX = "sca:"
BY_TIME = PREFIX + "alerts:by_time"
ACTIVE = PREFIX + "alerts:active"
CHANGES = PREFIX + "alerts:changes"  # pub/sub channel: every stored change, for the API's event stream

UPSERT_LUA = """
local current = redis.call('GET', KEYS[1])
local incoming = cjson.decode(ARGV[1])
if current then
  if current == ARGV[1] then return 0 end
  local stored = cjson.decode(current)
  if tonumber(stored.updated_at) > tonumber(incoming.updated_at) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], incoming.started_at, incoming.id)
if incoming.status == 'resolved' or incoming.status == 'false_alarm' then
  redis.call('SREM', KEYS[3], incoming.id)
else
  redis.call('SADD', KEYS[3], incoming.id)
end
redis.call('PUBLISH', KEYS[4], ARGV[1])
if current then return 2 end
return 1
"""

UPSERT_RESULT = {0: "unchanged", 1: "created", 2: "updated"}


def alert_key(alert_id: str) -> str:
    return f"{PREFIX}alert:{alert_id}"


def history_key(alert_id: str) -> str:
    return f"{PREFIX}alert:{alert_id}:history"


def upsert_keys(alert_id: str) -> list[str]:
    return [alert_key(alert_id), BY_TIME, ACTIVE, CHANGES]


def encode(alert: Alert) -> bytes:
    return orjson.dumps(alert.model_dump(mode="json"))


class AsyncAlertStore:
    """Used by the worker's alert-store agent."""

    def __init__(self, url: str):
        self.client = aioredis.Redis.from_url(url)
        self._upsert = self.client.register_script(UPSERT_LUA)

    async def upsert(self, alert: Alert) -> str:
        code = await self._upsert(keys=upsert_keys(alert.id), args=[encode(alert)])
        return UPSERT_RESULT[int(code)]

    async def add_history(self, update: AlertUpdate) -> bool:
        """Keep one lifecycle event; the same event twice is stored once (same member, same score)."""
        return bool(await self.client.zadd(history_key(update.alert_id), {update.model_dump_json(): update.at}))

    async def is_active(self, alert_id: str) -> bool:
        return bool(await self.client.sismember(ACTIVE, alert_id))

    async def close(self) -> None:
        await self.client.aclose()


class AlertReader:
    """Synchronous reads for the CLI, the demo and tests."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)

    def get(self, alert_id: str) -> Alert | None:
        raw = self.client.get(alert_key(alert_id))
        return Alert.model_validate_json(raw) if raw else None

    def recent(self, limit: int = 100) -> list[Alert]:
        ids = self.client.zrevrange(BY_TIME, 0, limit - 1)
        raws = self.client.mget([alert_key(i.decode()) for i in ids]) if ids else []
        return [Alert.model_validate_json(r) for r in raws if r]

    def active_ids(self) -> set[str]:
        return {i.decode() for i in self.client.smembers(ACTIVE)}

    def history(self, alert_id: str) -> list[AlertUpdate]:
        return [AlertUpdate.model_validate_json(r) for r in self.client.zrange(history_key(alert_id), 0, -1)]
