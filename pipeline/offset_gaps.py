"""Records an agent never got: find holes in a partition's offsets and read them back from Kafka.

Why: the worker-kill fault test lost one alert in about one run in five under load. Faust can drop a
record in flight during a rebalance (its stream skips, and acks, events of the old consumer generation;
its fetch loop marks a record read when the delivery was cancelled) while the records after it are
delivered, and its commit check is off by one (`min(acked) - committed > 1`), so the offset is committed
over the hole and no worker ever processes that record. The order-sensitive agents (sensor rules, alert
manager) then drop it for good. Rewinding Faust's own consumer to the hole stalls the partition (Faust
drops re-fetched records below its read offset), so the hole is filled beside it: the agent asks
`GapFiller.before(message)` for the records it missed and processes them, in offset order, before the
message itself. A separate consumer without a group reads them (`KafkaRangeReader`), so Faust's offsets
and fetch positions are never touched.

What counts as a hole: on a partition this worker kept, an offset beyond the one after the last it
processed; on a partition it was just given, a first offset beyond the group's committed one. A record
at or below what was already processed (Faust's at-least-once redelivery) is no hole and passes as it is:
the agents are idempotent. Only for topics without compaction or transactions, where offsets are dense.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from faust.types import TP

log = logging.getLogger(__name__)
MAX_FILL = 10_000
"""Most records read back for one hole: past that something else is wrong (a reset topic, a seek far
ahead), and a worker stuck reading history would be worse than the loss, which is logged."""


@dataclass(frozen=True)
class Record:
    """A record read back for a hole: what the agents use of a Faust message."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


ReadRange = Callable[[TP, int, int], Awaitable[list[Record]]]
"""(partition, first offset, end offset exclusive) -> the records there, in offset order."""


@dataclass
class GapFiller:
    """Per-worker memory of the next offset expected on each source partition of one or more agents."""

    read_range: ReadRange
    committed: Callable[[TP], int | None]
    """The group's committed offset (the next to read) of a partition, as the consumer knows it after a seek."""
    expected: dict[TP, int] = field(default_factory=dict)

    def on_assigned(self, assigned: Iterable[TP]) -> None:
        """Forget partitions this worker no longer holds: another worker may have moved them on meanwhile,
        so what this one remembers would make a hole of records it simply did not own."""
        keep = set(assigned)
        for tp in [tp for tp in self.expected if tp not in keep]:
            del self.expected[tp]

    def hole(self, tp: TP, offset: int) -> tuple[int, int] | None:
        """[first, end) missing before `offset`, or None; remembers `offset` as processed."""
        start = self.expected.get(tp)
        if start is None:
            start = self.committed(tp)
        self.expected[tp] = max(offset + 1, self.expected.get(tp, 0))
        if start is None or offset <= start:
            return None
        return start, offset

    async def before(self, tp: TP, offset: int) -> list[Record]:
        """The records missing on `tp` before `offset` (usually none), read back from Kafka."""
        gap = self.hole(tp, offset)
        if gap is None:
            return []
        first, end = gap
        if end - first > MAX_FILL:
            log.error("%s[%d]: %d records missing before offset %d; reading back only the last %d",
                      tp.topic, tp.partition, end - first, end, MAX_FILL)
            first = end - MAX_FILL
        records = await self.read_range(tp, first, end)
        log.warning("%s[%d]: offsets %d-%d were never delivered to this agent; read back %d records",
                    tp.topic, tp.partition, first, end - 1, len(records))
        return records


class KafkaRangeReader:
    """Reads offset ranges with a consumer of its own (no group, no commits): Faust's state is untouched."""

    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s

    async def __call__(self, tp: TP, first: int, end: int) -> list[Record]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        part = TopicPartition(tp.topic, tp.partition)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=16 * 1024 * 1024)
        await consumer.start()
        out: list[Record] = []
        try:
            consumer.assign([part])
            consumer.seek(part, first)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout_s
            while loop.time() < deadline:
                batch = await consumer.getmany(part, timeout_ms=500, max_records=500)
                for rec in batch.get(part, []):
                    if rec.offset >= end:
                        return out
                    if rec.offset >= first:
                        out.append(Record(rec.topic, rec.partition, rec.offset, rec.key, rec.value,
                                          list(rec.headers or [])))
                if out and out[-1].offset >= end - 1:
                    return out
                if await consumer.position(part) >= end:
                    return out
            log.error("%s[%d]: reading back offsets %d-%d timed out after %.0f s with %d records", tp.topic,
                      tp.partition, first, end - 1, self.timeout_s, len(out))
            return out
        finally:
            await consumer.stop()
