"""A fix for faust-streaming losing messages of a partition that has no committed offset yet.

Found by the worker-kill fault test (three of eighteen alerts lost in one run): a worker is killed
before it ever commits an offset on a readings partition; the survivor takes the partition over.
During the rebalance its fetcher already reads the partition from the start, and Faust drops those
records because they carry the previous consumer generation. Faust then "seeks stream partitions to
committed offsets" to read them again, but `seek_to_committed` skips a partition with no commit (and
one committed at 0), so the fetch position stays *after* the dropped records. The first record
processed is acknowledged and, with no committed offset to compare against, Faust commits past the
gap (`Consumer._new_offset`): those records are never processed by anyone.

The fix: after Faust's own seek, every assigned source partition (not a table changelog) that has no
committed offset is sought to its earliest offset, which is what `auto_offset_reset="earliest"`
promises. Records processed before are processed again, which at-least-once processing allows and
the idempotent agents absorb.

A second hole, found the same way (one alert lost in about one kill run of five): `_new_offset` refuses
to commit past a missing record only when `min(acked) - committed > 1`, but the committed offset is the
*next* offset to read, so a single record dropped during a rebalance (acked 12, 13, ... with 11 never
processed) is committed over. For topics that are not compacted the offsets are dense, so here the
commit waits until the record at the committed offset (or at the start we sought to) has been
processed; compacted topics keep Faust's rule, because compaction leaves holes Faust tracks itself.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from faust.transport.consumer import Consumer
from faust.types import TP

log = logging.getLogger(__name__)
_PATCHED = "_sca_seek_uncommitted"
_DENSE_TOPICS: set[str] = set()  # source topics without compaction: every offset is a record


def _is_source(topic: str) -> bool:
    """Input topics of the agents; changelogs and Faust's assignor topic are Faust's own business."""
    return not topic.endswith("-changelog") and "__assignor" not in topic


async def _seek_uncommitted_to_earliest(consumer: Consumer) -> None:
    uncommitted = [tp for tp in consumer.assignment()
                   if _is_source(tp.topic) and not consumer._committed_offset.get(tp)]
    if not uncommitted:
        return
    earliest = await consumer.earliest_offsets(*uncommitted)
    starts = consumer.__dict__.setdefault("_sca_start", {})
    for tp in uncommitted:
        offset = earliest.get(tp)
        if offset is not None and offset >= 0:
            await consumer.seek(tp, offset)
            starts[tp] = offset
    log.info("no committed offset yet: reading %d partitions from their earliest offset (%s)", len(uncommitted),
             ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(uncommitted)))


def missing_head(consumer: Consumer, tp: TP) -> bool:
    """Whether the record the next commit must start at has not been processed (dense topics only)."""
    acked = consumer._acked[tp]
    if tp.topic not in _DENSE_TOPICS or not acked:
        return False
    expected = consumer._committed_offset.get(tp) or consumer.__dict__.get("_sca_start", {}).get(tp)
    return expected is not None and min(acked) > expected


def install(dense_topics: Iterable[str] = ()) -> None:
    """Wrap `Consumer.perform_seek` and `Consumer._new_offset` once per process.

    `dense_topics`: the agents' source topics that are not compacted (see `topics/`).
    """
    _DENSE_TOPICS.update(dense_topics)
    if getattr(Consumer.perform_seek, _PATCHED, False):
        return
    original_seek, original_new_offset = Consumer.perform_seek, Consumer._new_offset

    async def perform_seek(self: Consumer) -> None:
        await original_seek(self)
        await _seek_uncommitted_to_earliest(self)

    def _new_offset(self: Consumer, tp: TP) -> int | None:
        if missing_head(self, tp):
            log.debug("%s[%d]: not committing past an unprocessed record", tp.topic, tp.partition)
            return None
        return original_new_offset(self, tp)

    setattr(perform_seek, _PATCHED, True)
    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]


class InOrder:
    """Hands one agent each partition's records in offset order with none missing, or rewinds to the hole.

    Faust can drop a record that was in flight when a rebalance or seek happened and still deliver the
    ones after it. For our agents that is worse than late: the sensor rules ignore a reading older than
    the last one applied, so a record processed after its successors is as good as lost. When a record
    arrives beyond the next expected offset, the partition is sought back to the hole and the records
    ahead of it are passed over until it comes (they come again after it). Earlier offsets are let
    through: they are redeliveries, which the agents absorb. A hole that does not fill within
    `give_up_s` (records deleted by retention) is logged and stepped over.
    """

    def __init__(self, give_up_s: float = 10.0, clock=None):
        import time

        self._next: dict[TP, int] = {}
        self._rewinding: dict[TP, tuple[int, float]] = {}
        self.give_up_s = give_up_s
        self.clock = clock or time.monotonic
        self.passed_over = 0

    def _expected(self, consumer: Consumer, tp: TP) -> int | None:
        known = [o for o in (self._next.get(tp), consumer._committed_offset.get(tp),
                             consumer.__dict__.get("_sca_start", {}).get(tp)) if o is not None]
        return max(known) if known else None

    async def admit(self, consumer: Consumer, tp: TP, offset: int) -> bool:
        """Whether the agent should process this record now."""
        expected = self._expected(consumer, tp)
        if expected is None or offset <= expected:
            self._next[tp] = offset + 1
            self._rewinding.pop(tp, None)
            return True
        hole, since = self._rewinding.get(tp, (None, self.clock()))
        if hole != expected:
            self._rewinding[tp] = (expected, since)
            log.warning("%s[%d]: record %d arrived before %d; reading again from %d",
                        tp.topic, tp.partition, offset, expected, expected)
            await consumer.seek(tp, expected)
        elif self.clock() - since > self.give_up_s:
            log.error("%s[%d]: records %d..%d never came back; going on from %d",
                      tp.topic, tp.partition, expected, offset - 1, offset)
            self._next[tp] = offset + 1
            self._rewinding.pop(tp, None)
            return True
        self.passed_over += 1
        return False

    async def events(self, stream):
        """`stream.events()`, in order per partition (see the class)."""
        consumer = stream.app.consumer
        async for event in stream.events():
            if await self.admit(consumer, event.message.tp, event.message.offset):
                yield event
