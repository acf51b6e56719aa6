"""The per-zone dwell machine: grace, voice warnings, escalation, resolution, id switches and restarts."""
import json

from pipeline.config import ZoneConfig
from pipeline.messages import Alert, BroadcastCommand
from pipeline.vision.firelane import dwell
from pipeline.vision.firelane.outputs import TEXT_ZH, messages

T0 = 1.7e9
ZONE = ZoneConfig(id="lane-a", kind="fire_lane", camera="cam-1", polygon=[(0, 0), (100, 0), (100, 100)],
                  grace_s=60, rebroadcast_s=60, max_broadcasts=3, clear_s=10, speaker="spk-1")
CAR = dwell.Sighting((100.0, 200.0, 180.0, 260.0), "car", 0.9, track=7)


def run(zone, frames, state=None):
    """frames: [(seconds from T0, [sightings])] at whatever rate; returns (state, transitions)."""
    out = []
    for t, sightings in frames:
        decision = dwell.step(zone, state, T0 + t, sightings)
        state = decision.state
        out += decision.transitions
    return state, out


def parked(start, stop, every=1.0, sighting=CAR):
    return [(start + i * every, [sighting]) for i in range(int((stop - start) / every) + 1)]


def kinds(transitions):
    return [(t.kind, round(t.ts - T0)) for t in transitions]


def test_grace_then_broadcasts_then_escalation_then_resolved():
    frames = parked(0, 250) + [(250 + i, []) for i in range(1, 15)]
    _, transitions = run(ZONE, frames)
    assert kinds(transitions) == [("occupied", 60), ("broadcast", 60), ("broadcast", 120), ("broadcast", 180),
                                  ("escalated", 240), ("resolved", 260)]


def test_short_stop_within_grace_is_no_alert():
    _, transitions = run(ZONE, parked(0, 59) + [(60 + i, []) for i in range(20)])
    assert transitions == []


def test_moving_traffic_never_accumulates_dwell():
    driving = [(t * 0.1, [dwell.Sighting((10.0 + 15 * t, 200.0, 90.0 + 15 * t, 260.0), "car", 0.9, 3)])
               for t in range(1200)]
    _, transitions = run(ZONE.model_copy(update={"grace_s": 5}), driving)
    assert transitions == []


def test_track_id_switch_and_missed_frames_continue_the_dwell():
    moved = dwell.Sighting((103.0, 198.0, 182.0, 262.0), "truck", 0.6, track=42)  # new id, class flicker, jitter
    frames = parked(0, 30) + [(31 + i, []) for i in range(5)] + parked(36, 70, sighting=moved)
    _, transitions = run(ZONE, frames)
    assert kinds(transitions)[:2] == [("occupied", 60), ("broadcast", 60)]


def test_restart_from_serialised_state_continues_the_timers():
    frames = parked(0, 130)
    _, straight = run(ZONE, frames)
    state, first = run(ZONE, frames[:50])
    restored = json.loads(json.dumps(state))
    _, second = run(ZONE, frames[50:], restored)
    assert kinds(first + second) == kinds(straight) == [("occupied", 60), ("broadcast", 60), ("broadcast", 120)]


def test_redelivered_old_frame_changes_nothing():
    state, _ = run(ZONE, parked(0, 70))
    again = dwell.step(ZONE, state, T0 + 30, [CAR])
    assert again.state == state and again.transitions == []


def test_another_car_keeps_the_zone_occupied():
    other = dwell.Sighting((300.0, 200.0, 380.0, 260.0), "car", 0.9, track=8)
    frames = parked(0, 100) + [(100 + i, [other]) for i in range(1, 9)]  # other arrives as the first leaves ...
    frames += [(100 + i, [other]) for i in range(9, 80)]                  # ... and stays past its own grace
    _, transitions = run(ZONE.model_copy(update={"clear_s": 10}), frames)
    assert [k for k, _ in kinds(transitions)].count("occupied") == 1
    assert "resolved" not in [k for k, _ in kinds(transitions)]


def test_messages_alert_lifecycle_and_broadcasts():
    frames = parked(0, 250) + [(250 + i, []) for i in range(1, 15)]
    state, out = None, []
    for t, sightings in frames:
        decision = dwell.step(ZONE, state, T0 + t, sightings)
        state = decision.state
        out += messages("site-1", ZONE, "cam-1", decision.transitions)
    alerts = [m for m in out if isinstance(m, Alert)]
    commands = [m for m in out if isinstance(m, BroadcastCommand)]
    assert len({a.id for a in alerts}) == 1 and alerts[0].type == "fire_lane_occupied"
    assert [a.severity.value for a in alerts] == ["high", "high", "high", "critical", "critical"]
    assert [a.status.value for a in alerts][-1] == "resolved" and alerts[-1].ended_at == T0 + 260
    assert alerts[3].details["guard_dispatch"] == "requested" and alerts[0].details["guard_dispatch"] == "not_requested"
    assert [c.issued_at - T0 for c in commands] == [60, 120, 180]
    assert all(c.text_zh == TEXT_ZH and c.speaker == "spk-1" and c.priority.value == "fire_lane" for c in commands)
    assert len({c.id for c in commands}) == 3 and all(c.alert_id == alerts[0].id for c in commands)
    replay = messages("site-1", ZONE, "cam-1", run(ZONE, parked(0, 60))[1])
    assert {m.id for m in replay} <= {m.id for m in out}  # deterministic ids: a replay duplicates, never adds


def test_zone_without_speaker_still_tracks_broadcast_times():
    quiet = ZONE.model_copy(update={"speaker": None, "max_broadcasts": 0})
    _, transitions = run(quiet, parked(0, 130))
    assert kinds(transitions) == [("occupied", 60), ("escalated", 120)]
    assert not any(isinstance(m, BroadcastCommand) for m in messages("s", quiet, "cam-1", transitions))


def test_an_empty_lane_after_resolution_stays_quiet():
    """The car drove off: the held memory of it must not open a new occupancy on the empty frames that follow."""
    zone = ZONE.model_copy(update={"grace_s": 1, "rebroadcast_s": 1, "max_broadcasts": 1, "clear_s": 1})
    frames = parked(0, 5, every=0.25) + [(5 + i * 0.25, []) for i in range(1, 60)]
    _state, transitions = run(zone, frames)
    assert [k for k, _ in kinds(transitions)] == ["occupied", "broadcast", "escalated", "resolved"]


def test_a_vehicle_creeping_into_its_stop_is_not_yet_parked():
    """A truck rolling to a stop at about 0.13 of its size a second (a few px/s far from the camera, as in
    RoadTrack 04-17_08_K204_1853) is not stationary: it must not complete the grace while it still rolls."""
    zone = ZONE.model_copy(update={"grace_s": 5})
    size = 25.0
    creeping = [(i * 0.1, [dwell.Sighting((380.0 - 0.13 * size * i * 0.1, 120.0, 402.0 - 0.13 * size * i * 0.1,
                                           148.0), "truck", 0.85, track=5)]) for i in range(80)]
    _, transitions = run(zone, creeping)
    assert transitions == []
