"""Holes in a partition's offsets are found and the missing records handed over first, in order."""
from __future__ import annotations

import asyncio

from faust.types import TP

from pipeline.offset_gaps import MAX_FILL, GapFiller, Record

READINGS = TP("sca.sensor-readings.v1", 2)
OTHER = TP("sca.sensor-readings.v1", 5)


class FakeKafka:
    """Offsets 0.. of each partition hold b'<offset>'; remembers what was asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[TP, int, int]] = []

    async def __call__(self, tp: TP, first: int, end: int) -> list[Record]:
        self.asked.append((tp, first, end))
        return [Record(tp.topic, tp.partition, o, b"k", str(o).encode()) for o in range(first, end)]


def delivered(filler: GapFiller, tp: TP, offsets: list[int]) -> list[int]:
    """The offsets an agent processes, in order, when Faust delivers `offsets`."""
    out: list[int] = []
    for offset in offsets:
        out += [r.offset for r in asyncio.run(filler.before(tp, offset))]
        out.append(offset)
    return out


def test_a_record_dropped_in_flight_is_read_back_before_the_next_one():
    kafka = FakeKafka()
    filler = GapFiller(kafka, committed=lambda tp: None)
    assert delivered(filler, READINGS, [10, 11, 13, 14, 17]) == [10, 11, 12, 13, 14, 15, 16, 17]
    assert kafka.asked == [(READINGS, 12, 13), (READINGS, 15, 17)]


def test_redelivered_records_are_no_hole_and_pass_as_they_are():
    kafka = FakeKafka()
    filler = GapFiller(kafka, committed=lambda tp: None)
    # a rebalance seeks back to the committed offset: 8..11 again, then on
    assert delivered(filler, READINGS, [8, 9, 10, 11, 8, 9, 10, 11, 12]) == [8, 9, 10, 11, 8, 9, 10, 11, 12]
    assert kafka.asked == []


def test_a_partition_just_taken_over_is_checked_against_the_committed_offset():
    kafka = FakeKafka()
    filler = GapFiller(kafka, committed={READINGS: 40}.get)
    assert delivered(filler, READINGS, [42, 43]) == [40, 41, 42, 43]
    # no commit known (Faust reads such a partition from its earliest offset): nothing to compare with
    assert delivered(filler, OTHER, [7, 8]) == [7, 8]


def test_partitions_given_away_are_forgotten_so_their_progress_elsewhere_is_no_hole():
    kafka = FakeKafka()
    committed = {READINGS: 100}
    filler = GapFiller(kafka, committed=committed.get)
    delivered(filler, READINGS, [100, 101])
    delivered(filler, OTHER, [5])
    filler.on_assigned({OTHER})            # READINGS went to another worker, which processed up to 199
    filler.on_assigned({OTHER, READINGS})  # and came back, committed at 200
    committed[READINGS] = 200
    assert delivered(filler, READINGS, [200]) == [200]
    assert delivered(filler, OTHER, [7]) == [6, 7]  # kept partitions keep their memory
    assert kafka.asked == [(OTHER, 6, 7)]


def test_a_huge_hole_reads_back_only_the_newest_records_and_says_so(caplog):
    kafka = FakeKafka()
    filler = GapFiller(kafka, committed=lambda tp: None)
    delivered(filler, READINGS, [0])
    records = asyncio.run(filler.before(READINGS, MAX_FILL + 50))
    assert kafka.asked == [(READINGS, 50, MAX_FILL + 50)] and len(records) == MAX_FILL
    assert "records missing" in caplog.text
