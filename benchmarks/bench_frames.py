"""Frames through Kafka into the worker: frames/s and MB/s sustained, produce-to-alert latency p50/p99.

    .venv/bin/python -m benchmarks.bench_frames [--frames 3000] [--clip facade-office1.mp4]

Runs on its own Kafka and Redis (free ports, fresh run dir). Real frames from a clip in
../shared/data/video are JPEG-encoded once, then published as fast as the producer can.
Side by side on the same frames:
  - baseline "kafka only": a plain kafka-python consumer that reads the frames and does nothing;
  - baseline "decode": the same consumer plus cv2.imdecode of each JPEG, in full and at the 1/8-scale
    integrity check the worker does for a camera without a vision core;
  - the Faust worker (validation, decode, liveness table, stats), counted through its Redis counters.
All three drain the same backlog of frames already on the topic. While the worker drains it,
alarm-flag readings (a generic sensor: its flag opens and resolves at once) go in every 200 ms and the time from their produce call to the matching
alert record on the alerts topic is the latency; the same is measured with no frame load.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time

import cv2
import numpy as np
import orjson
from kafka import KafkaConsumer, TopicPartition

from benchmarks.common import DATA, RESULTS, machine, private_infra, table, worker_process
from pipeline.contracts import topic
from pipeline.frames import VALIDATE_ONLY, to_kafka_headers
from pipeline.ingest.camera import encode_jpeg
from pipeline.ingest.producer import make_producer
from pipeline.messages import FrameHeaders

CAMERAS = [f"cam-bench-{i}" for i in range(4)]
SITE = """
site: {id: bench}
cameras:
""" + "".join(f"  - {{id: {c}, source: x.mp4}}\n" for c in CAMERAS) + """
sensors:
  - {id: alarm-bench, type: generic}
liveness: {camera_timeout_s: 600, sensor_timeout_s: 3600, check_interval_s: 1}
"""


def load_frames(clip: str, count: int) -> list[tuple[bytes, int, int]]:
    capture = cv2.VideoCapture(str(DATA / "video" / clip))
    frames = []
    while len(frames) < min(count, 400):
        ok, image = capture.read()
        if not ok:
            break
        frames.append(encode_jpeg(image, 85, 2_000_000))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames in {clip}")
    return [frames[i % len(frames)] for i in range(count)]


def publish_frames(settings, frames) -> float:
    producer = make_producer(settings, linger_ms=20)
    name = topic("frames").name
    start = time.monotonic()
    for seq, (data, w, h) in enumerate(frames):
        camera = CAMERAS[seq % len(CAMERAS)]
        meta = FrameHeaders(camera=camera, ts=time.time(), seq=seq, width=w, height=h)
        producer.send(name, key=camera.encode(), value=data, headers=to_kafka_headers(meta))
    producer.flush()
    producer.close()
    return time.monotonic() - start


def drain(settings, count: int, decode: int | None) -> float:
    """Baseline consumer: read `count` frames from the start of the topic, decoding each with `decode` (a cv2 flag)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    parts = [TopicPartition(topic("frames").name, p) for p in range(topic("frames").partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen = 0
    start = time.monotonic()
    while seen < count:
        for batch in consumer.poll(timeout_ms=500, max_records=500).values():
            for record in batch:
                if decode is not None:
                    cv2.imdecode(np.frombuffer(record.value, np.uint8), decode)
                seen += 1
    consumer.close()
    return time.monotonic() - start


class LatencyProbe(threading.Thread):
    """Sends alarm on/off readings and times each until its alert record arrives on the alerts topic."""

    def __init__(self, settings, period_s: float = 0.2):
        super().__init__(daemon=True)
        self.settings, self.period_s = settings, period_s
        self.stop = threading.Event()
        self.sent: dict[tuple[float, str], float] = {}
        self.latencies: list[float] = []
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        parts = [TopicPartition(topic("alerts").name, p) for p in range(topic("alerts").partitions)]
        self.consumer.assign(parts)
        self.consumer.seek_to_end(*parts)
        for tp in parts:
            self.consumer.position(tp)
        self.ts = 0.0  # reading times: wall clock, strictly increasing across probes

    def run(self) -> None:
        producer = make_producer(self.settings, linger_ms=0)
        name = topic("readings").name
        alarm = True
        next_send = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_send:
                self.ts = max(self.ts + 0.001, round(time.time(), 3))
                value = orjson.dumps({"device": "alarm-bench", "type": "generic", "ts": self.ts, "alarm": alarm})
                status = "open" if alarm else "resolved"
                self.sent[(round(self.ts, 3), status)] = time.monotonic()
                producer.send(name, key=b"alarm-bench", value=value)
                producer.flush()
                alarm = not alarm
                next_send = now + self.period_s
            for batch in self.consumer.poll(timeout_ms=20).values():
                arrived = time.monotonic()
                for record in batch:
                    alert = orjson.loads(record.value)
                    key = (round(alert["ended_at"] if alert["status"] == "resolved" else alert["started_at"], 3),
                           alert["status"])
                    if key in self.sent:
                        self.latencies.append(arrived - self.sent.pop(key))
        producer.close()
        self.consumer.close()


def percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--clip", default="facade-office1.mp4")
    parser.add_argument("--idle-s", type=float, default=8.0, help="latency probe without frame load")
    args = parser.parse_args()

    frames = load_frames(args.clip, args.frames)
    mb = sum(len(f[0]) for f in frames) / 1e6
    w, h = frames[0][1], frames[0][2]
    print(f"{args.frames} frames of {args.clip} ({w}x{h}), {mb / args.frames * 1000:.0f} kB each", file=sys.stderr)
    with private_infra(SITE) as settings:
        produce_s = publish_frames(settings, frames)  # the backlog every consumer below drains
        kafka_s = drain(settings, args.frames, decode=None)
        decode_s = drain(settings, args.frames, decode=cv2.IMREAD_COLOR)
        same_s = drain(settings, args.frames, decode=VALIDATE_ONLY)
        with worker_process(settings) as stats:
            probe = LatencyProbe(settings)  # alarms go in while the worker drains the frame backlog
            probe.start()
            first, start = int(stats().get("frames", 0)), time.monotonic()
            while int(stats().get("frames", 0)) < args.frames:
                time.sleep(0.05)
                if time.monotonic() - start > 600:
                    raise SystemExit("worker did not finish within 600 s")
            worker_s = (time.monotonic() - start) * args.frames / max(args.frames - first, 1)
            probe.stop.set()
            probe.join()
            idle = LatencyProbe(settings)
            idle.start()
            time.sleep(args.idle_s)
            idle.stop.set()
            idle.join()

    idle_p50, idle_p99 = percentiles(idle.latencies)
    load_p50, load_p99 = percentiles(probe.latencies)
    fps = args.frames / worker_s
    result = {
        "machine": machine(), "command": " ".join(["python", *sys.argv]), "clip": args.clip, "frames": args.frames,
        "frame_size": [w, h], "mb": mb, "produce_fps": args.frames / produce_s,
        "worker_fps": fps, "worker_mb_s": mb / worker_s,
        "baseline_kafka_only_fps": args.frames / kafka_s, "baseline_decode_only_fps": args.frames / decode_s,
        "baseline_same_decode_fps": args.frames / same_s,
        "latency_idle_ms": {"p50": idle_p50, "p99": idle_p99, "n": len(idle.latencies)},
        "latency_under_load_ms": {"p50": load_p50, "p99": load_p99, "n": len(probe.latencies)},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "frames.json").write_text(json.dumps(result, indent=2))
    print(f"\nmachine: {result['machine']}\ncommand: {result['command']}\n")
    same = result["baseline_same_decode_fps"]
    print(table([
        ("measure", "Faust worker (ours)", "baseline, same run", "ratio"),
        ("frames/s: worker vs consumer doing the same checks", f"{fps:.0f}",
         f"{same:.0f} (kafka-python + 1/8-scale imdecode)", f"{fps / same:.2f}"),
        ("frames/s: worker vs consumer decoding every frame in full", f"{fps:.0f}",
         f"{result['baseline_decode_only_fps']:.0f} (kafka-python + full imdecode)",
         f"{fps / result['baseline_decode_only_fps']:.2f}"),
        ("frames/s: worker vs reading Kafka only", f"{fps:.0f}",
         f"{result['baseline_kafka_only_fps']:.0f} (kafka-python, no decode)",
         f"{fps / result['baseline_kafka_only_fps']:.2f}"),
        ("MB/s sustained", f"{mb / worker_s:.1f}", f"{mb / same_s:.1f}", f"{same_s / worker_s:.2f}"),
        ("produce->alert p50 / p99 ms", f"{load_p50:.0f} / {load_p99:.0f} while draining frames (n={len(probe.latencies)})",
         f"{idle_p50:.0f} / {idle_p99:.0f} idle (n={len(idle.latencies)})", "-"),
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
