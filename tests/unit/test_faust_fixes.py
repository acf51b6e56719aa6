"""The fix for Faust skipping records of a partition taken over before its first offset commit."""
from __future__ import annotations

import asyncio
from collections import defaultdict

from faust.transport.consumer import Consumer
from faust.types import TP

from pipeline import faust_fixes


class FakeConsumer:
    """What `_seek_uncommitted_to_earliest` uses of Faust's consumer."""

    def __init__(self, assigned: set[TP], committed: dict[TP, int], earliest: dict[TP, int]):
        self._assigned, self._earliest = assigned, earliest
        self._committed_offset = defaultdict(lambda: None, committed)
        self.seeks: dict[TP, int] = {}

    def assignment(self) -> set[TP]:
        return self._assigned

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self._earliest[tp] for tp in partitions}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks[tp] = offset


def test_only_source_partitions_without_a_commit_are_read_from_their_earliest_offset() -> None:
    readings = [TP("sca.sensor-readings.v1", p) for p in range(4)]
    changelog = TP("app-sensor-rules-changelog", 3)
    leader = TP("app-__assignor-__leader", 0)
    consumer = FakeConsumer({*readings, changelog, leader},
                            committed={readings[0]: 12, readings[1]: 0},  # 0: Faust treats it as no commit too
                            earliest={tp: 5 if tp == readings[3] else 0 for tp in [*readings, changelog, leader]})
    asyncio.run(faust_fixes._seek_uncommitted_to_earliest(consumer))
    assert consumer.seeks == {readings[1]: 0, readings[2]: 0, readings[3]: 5}  # 5: older records were deleted


def test_install_wraps_faust_once() -> None:
    faust_fixes.install()
    wrapped = Consumer.perform_seek
    faust_fixes.install()
    assert Consumer.perform_seek is wrapped and getattr(wrapped, faust_fixes._PATCHED)


class Acks:
    """What `missing_head` reads: acked offsets per partition, the committed offset, the sought start."""

    def __init__(self, acked: list[int], committed: int | None, start: int | None = None):
        self._acked = {TOPIC: acked}
        self._committed_offset = defaultdict(lambda: None, {TOPIC: committed})
        if start is not None:
            self._sca_start = {TOPIC: start}


TOPIC = TP("sca.sensor-readings.v1", 3)


def test_no_commit_past_a_record_dropped_in_a_rebalance() -> None:
    faust_fixes.install([TOPIC.topic])
    # committed 11 means "11 is next": acks from 12 on leave 11 unprocessed (Faust's own check lets one slip)
    assert faust_fixes.missing_head(Acks([12, 13, 14], committed=11), TOPIC)
    assert not faust_fixes.missing_head(Acks([11, 12, 13], committed=11), TOPIC)
    # no commit yet: the start we sought to is the record that must come first
    assert faust_fixes.missing_head(Acks([10, 11], committed=None, start=0), TOPIC)
    assert not faust_fixes.missing_head(Acks([0, 1], committed=None, start=0), TOPIC)
    # a compacted topic has holes by design: Faust's rule stays
    compacted = TP("sca.alerts.v1", 0)
    acks = Acks([5], committed=2)
    acks._acked[compacted] = [5]
    acks._committed_offset[compacted] = 2
    assert not faust_fixes.missing_head(acks, compacted)


def test_a_record_dropped_in_flight_is_read_again_before_the_ones_after_it() -> None:
    tp = TP("sca.sensor-readings.v1", 3)
    consumer = FakeConsumer({tp}, committed={}, earliest={tp: 0})
    now = [0.0]
    order = faust_fixes.InOrder(give_up_s=10, clock=lambda: now[0])

    def feed(offsets):
        return [o for o in offsets if asyncio.run(order.admit(consumer, tp, o))]

    assert feed([0, 1, 2, 3, 4]) == [0, 1, 2, 3, 4]
    assert feed([6, 7]) == [] and consumer.seeks == {tp: 5}  # 5 went missing: rewind once, pass 6 and 7 over
    assert feed([5, 6, 7, 8]) == [5, 6, 7, 8]  # they come again, in order
    assert feed([3, 4, 5]) == [3, 4, 5]  # a redelivery from further back is processed (the agents absorb it)
    consumer.seeks.clear()
    assert feed([6, 7, 8, 9]) == [6, 7, 8, 9]


def test_a_hole_that_never_fills_is_stepped_over_after_a_while() -> None:
    tp = TP("sca.sensor-readings.v1", 0)
    consumer = FakeConsumer({tp}, committed={tp: 10}, earliest={tp: 0})
    now = [0.0]
    order = faust_fixes.InOrder(give_up_s=10, clock=lambda: now[0])
    assert not asyncio.run(order.admit(consumer, tp, 12))  # 10 and 11 are missing
    now[0] = 5.0
    assert not asyncio.run(order.admit(consumer, tp, 12))
    now[0] = 11.0
    assert asyncio.run(order.admit(consumer, tp, 12)) and order.passed_over == 2
    assert asyncio.run(order.admit(consumer, tp, 13))
