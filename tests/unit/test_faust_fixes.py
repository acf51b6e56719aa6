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

