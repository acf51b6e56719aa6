"""The manager's glue: a worker killed between its table write and its sends loses nothing on the replay."""
from __future__ import annotations

import asyncio
from collections import Counter

import orjson

from pipeline.alerts.manager import AlertingConfig
from pipeline.alerts.service import AlertManagerService
from pipeline.messages import Alert

T0 = 1_760_000_000.0


class NoSilences:
    async def current(self):
        return []


class Sent:
    def __init__(self, dies_on: str | None = None):
        self.dies_on = dies_on
        self.sent: list[tuple[str, dict]] = []

    async def __call__(self, channel: str, key: bytes, value: bytes) -> None:
        if channel == self.dies_on:
            raise ConnectionError("worker killed")
        self.sent.append((channel, orjson.loads(value)))

    def on(self, channel: str) -> list[dict]:
        return [value for c, value in self.sent if c == channel]


def signal(at: float, sid: str = "smoke-a") -> bytes:
    return Alert(id=sid, type="sensor_alarm", severity="high", site="s1", device="smoke-1", location="B1 3F",
                 status="open", started_at=at, updated_at=at, title="smoke").model_dump_json().encode()


def service(send: Sent) -> AlertManagerService:
    return AlertManagerService(send, NoSilences(), AlertingConfig(), Counter())


def test_replay_after_a_kill_between_table_write_and_send_publishes_the_alert() -> None:
    table: dict = {}
    dying = Sent(dies_on="alerts")
    try:
        asyncio.run(service(dying).on_signal(signal(T0), table))
    except ConnectionError:
        pass
    assert len(table) == 1 and dying.on("alerts") == []  # the state says "opened"; nothing left the worker
    successor = Sent()
    asyncio.run(service(successor).on_signal(signal(T0), table))
    (alert,) = successor.on("alerts")
    assert alert["status"] == "open" and alert["count"] == 1
    assert [u["action"] for u in successor.on("alert_updates")] == ["opened"]


def test_only_the_message_that_made_the_last_change_is_published_again() -> None:
    table: dict = {}
    send = Sent()
    svc = service(send)
    asyncio.run(svc.on_signal(signal(T0), table))
    asyncio.run(svc.on_signal(signal(T0 + 5, sid="smoke-b"), table))  # a repeat: grouped, count 2
    asyncio.run(svc.on_signal(signal(T0), table))  # an older message redelivered: nothing to send
    assert [a["count"] for a in send.on("alerts")] == [1, 2]
    asyncio.run(svc.on_signal(signal(T0 + 5, sid="smoke-b"), table))  # the last one redelivered: sent again
    assert [a["count"] for a in send.on("alerts")] == [1, 2, 2]
    assert send.on("alerts")[-1] == send.on("alerts")[-2]  # word for word: the store and subscribers drop it
