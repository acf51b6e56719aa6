"""A worker restart mid-dwell on a real RoadTrack stop: the serialised dwell states carry the timers across a
new FireLaneCore with a new ByteTrack (the tracker's ids are lost, the dwell machine matches by place)."""
import json

import pytest

from pipeline.config import ZoneConfig
from pipeline.vision.firelane.core import FireLaneCore
from pipeline.vision.firelane.mot import frames, read_mot

FPS = 10.0
SEQ = "04-16_09_K287_0"  # one car stands from the first frame and leaves at about 28 s
ZONE = ZoneConfig(id="lane-1", kind="fire_lane", camera="cam-1", polygon=[(0, 0), (4000, 0), (4000, 4000), (0, 4000)],
                  grace_s=5, rebroadcast_s=4, max_broadcasts=3, clear_s=10)


def feed(core, chunks):
    out = []
    for number, detections in chunks:
        out += core.process_detections(detections, (number - 1) / FPS).transitions
    return out


def summary(transitions):
    occupied = [t.ts for t in transitions if t.kind == "occupied"]
    final = transitions[-1].episode
    return occupied, final["start"], final["broadcasts"], final["escalated_at"]


@pytest.mark.parametrize("cut_s", [3.0, 7.0])  # inside the grace; between two broadcasts
def test_dwell_timers_survive_a_worker_restart(data_dir, cut_s):
    rows = read_mot(data_dir / "tracks" / "roadtrack-parking" / SEQ / "data" / "det" / "yolo11m_nms05.txt")
    chunks = [(n, d) for n, d in frames(rows) if n <= 200]
    straight = feed(FireLaneCore("cam-1", [ZONE], fps=FPS), chunks)

    cut = int(cut_s * FPS)
    first = FireLaneCore("cam-1", [ZONE], fps=FPS)
    before = feed(first, chunks[:cut])
    persisted = json.dumps(first.states)  # what the changelog table holds
    second = FireLaneCore("cam-1", [ZONE], fps=FPS)  # new process: fresh tracker, fresh gate
    second.restore(json.loads(persisted))
    after = feed(second, chunks[cut:])

    occupied, start, broadcasts, escalated = summary(straight)
    assert len(occupied) == 1 and len(broadcasts) == 3 and escalated is not None
    r_occupied, r_start, r_broadcasts, r_escalated = summary(before + after)
    assert len(r_occupied) == 1  # the restart did not open a second episode
    tick = 1.0 / FPS + 1e-6
    assert r_start == pytest.approx(start, abs=tick)
    assert r_broadcasts == pytest.approx(broadcasts, abs=tick)
    assert r_escalated == pytest.approx(escalated, abs=tick)
