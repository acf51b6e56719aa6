"""Kafka stopped and started again (`sca infra`'s own stop/start) while a sensor keeps producing.

The producer is the one every ingest path uses (acks=all, idempotent, long delivery timeout): it
buffers while the broker is away and retries. Afterwards every reading the broker acknowledged is on
the topic exactly once, none failed, and the worker, left alone, has processed them all. The gaps
(broker down, producer without acks, worker without progress) are measured and written to
`<run dir>/fault-broker-restart.json`.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import orjson
import pytest

from pipeline.contracts import topic
from pipeline.infra import services
from pipeline.infra.kafka_broker import KafkaBroker
from pipeline.ingest.producer import make_producer
from tests.integration.kafka_io import read_all, wait_for

pytestmark = pytest.mark.integration
DEVICE = "pump-t1"
PERIOD_S = 0.05
STOP_AT_S, DOWN_S, AFTER_S = 5.0, 6.0, 5.0


class Progress:
    """The worker's `readings` counter sampled over time, to find its longest stall."""

    def __init__(self, worker):
        self.worker = worker
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.time(), self.worker.count("readings")))
            except Exception:  # noqa: BLE001 - Redis is up; a failed read just leaves a gap in the samples
                pass
            time.sleep(0.2)

    def longest_stall(self, until: float) -> float:
        """Longest time without the counter moving, while there was still work queued (before `until`)."""
        longest, since, last = 0.0, None, None
        for t, count in self.samples:
            if t > until:
                break
            if last is not None and count == last:
                since = since or t
                longest = max(longest, t - since)
            else:
                since = None
            last = count
        return longest


def test_producer_and_worker_ride_out_a_broker_restart(infra, worker):
    run = uuid.uuid4().hex[:6]
    producer = make_producer(infra, client_id=f"fault-{run}")
    acked: dict[int, float] = {}
    failed: dict[int, str] = {}
    lock = threading.Lock()
    progress = Progress(worker)
    before = worker.count("readings")
    progress.thread.start()

    def send(i: int) -> None:
        value = orjson.dumps({"device": DEVICE, "type": "generic", "ts": time.time(), "values": {"seq": i},
                              "alarm": False, "battery": 90.0})
        future = producer.send(topic("readings").name, key=DEVICE.encode(), value=value,
                               headers=[("fault-run", run.encode())])
        future.add_callback(lambda _md, i=i: _record(acked, i, time.time()))
        future.add_errback(lambda exc, i=i: _record(failed, i, repr(exc)))

    def _record(target: dict, i: int, what) -> None:
        with lock:
            target[i] = what

    times: dict[str, float] = {}

    def restart() -> None:
        """Stop Kafka a few seconds in, keep it down, start it again: the sensor never notices."""
        time.sleep(STOP_AT_S)
        times["stopping"] = time.time()
        services.down(infra, only=["kafka"])
        times["stopped"] = time.time()
        time.sleep(DOWN_S)
        KafkaBroker(infra).up()
        times["restarted"] = time.time()

    restarter = threading.Thread(target=restart, daemon=True)
    restarter.start()
    i = 0
    while restarter.is_alive() or time.time() - times["restarted"] < AFTER_S:
        send(i)
        i += 1
        time.sleep(PERIOD_S)
    stopped_at, restarted_at = times["stopping"], times["restarted"]
    producer.flush(timeout=180)
    producer.close(timeout=10)
    sent = i

    assert failed == {}, f"{len(failed)} sends failed, e.g. {next(iter(failed.values()))}"
    assert len(acked) == sent
    on_topic = [orjson.loads(r.value)["values"]["seq"] for r in read_all(infra, topic("readings").name, 60)
                if (b"fault-run", run.encode()) in [(k.encode() if isinstance(k, str) else k, v) for k, v in r.headers]]
    missing = sorted(set(acked) - set(on_topic))
    duplicates = len(on_topic) - len(set(on_topic))
    assert missing == [], f"acknowledged but not on the topic: {missing[:20]}"
    assert duplicates == 0  # the idempotent producer wrote each retried batch once

    wait_for(lambda: worker.count("readings") >= before + sent, 120, "the worker to process every reading")
    done_at = time.time()
    progress.stop.set()
    ack_times = sorted(acked.values())
    producer_gap = max(b - a for a, b in zip(ack_times, ack_times[1:]))
    report = {"sent": sent, "acked": len(acked), "failed": len(failed), "lost": len(missing),
              "duplicates_on_topic": duplicates, "broker_down_s": round(restarted_at - stopped_at, 1),
              "broker_stop_s": round(times["stopped"] - stopped_at, 1),
              "broker_start_s": round(restarted_at - times["stopped"] - DOWN_S, 1),
              "producer_longest_gap_between_acks_s": round(producer_gap, 1),
              "worker_longest_stall_s": round(progress.longest_stall(done_at), 1),
              "worker_caught_up_s_after_restart": round(done_at - restarted_at, 1)}
    (infra.run_dir / "fault-broker-restart.json").write_text(json.dumps(report, indent=1))
    print("broker-restart fault:", report)
