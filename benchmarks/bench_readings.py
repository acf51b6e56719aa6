"""Sensor readings through Kafka into the worker: readings/s sustained, with the rules engine on.

    .venv/bin/python -m benchmarks.bench_readings [--devices 40] [--per-device 500]

Runs on its own Kafka and Redis. Real rows of ../shared/data/sensors/smoke_detection_iot.csv
(temperature, humidity, eCO2 and the recorded Fire Alarm flag) are spread over N smoke
detectors, each replaying its own slice at 1 Hz, and put on the readings topic as a backlog.
Drained side by side:
  - baseline "kafka only": a kafka-python consumer that reads the readings and does nothing;
  - baseline "same work, no Faust": the consumer plus JSON parse, validation and the rules
    engine (`pipeline.sensors.evaluate`, state in a dict), in one process;
  - the Faust worker: validation, liveness table, rules with their changelog-backed table,
    fire-confirmation stage, alert publishing, counted through its Redis counters.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import orjson
from kafka import KafkaConsumer, TopicPartition

from benchmarks.common import DATA, RESULTS, machine, private_infra, table, worker_process
from pipeline import sensors
from pipeline.config import load_site
from pipeline.contracts import topic
from pipeline.ingest.producer import make_producer
from pipeline.ingest.sensors import Mapping, load_readings
from pipeline.readings import parse_reading


def site_yaml(devices: int) -> str:
    rows = "".join(f"  - {{id: smoke-{i:03d}, type: smoke, location: B1 flat {i:03d}, building: B1, "
                   f"report_interval_s: 1}}\n" for i in range(devices))
    return ("site: {id: bench}\nzones:\n  - {id: b1, kind: building, building: B1}\n"
            "speakers:\n  - {id: spk-b1, zone: b1, endpoint: 'http://127.0.0.1:9/x'}\n"
            f"sensors:\n{rows}liveness: {{camera_timeout_s: 600, sensor_timeout_s: 36000}}\n")


def build_readings(devices: int, per_device: int) -> list[bytes]:
    path = DATA / "sensors" / "smoke_detection_iot.csv"
    start = time.time() - per_device - 60
    out: list[tuple[float, bytes]] = []
    for i in range(devices):
        # slices around the recorded alarm onsets, so the rules open and resolve alerts as they would live
        skip = (3000 + i * 997) % 60000
        mapping = Mapping(device=f"smoke-{i:03d}", type="smoke", alarm_column="Fire Alarm", skip=skip,
                          limit=per_device, start=start - skip)
        out += [(r.ts, orjson.dumps(r.model_dump(mode="json", exclude_none=True)))
                for r in load_readings(path, mapping)]
    return [value for _, value in sorted(out, key=lambda item: item[0])]


def publish(settings, values: list[bytes]) -> float:
    producer = make_producer(settings, linger_ms=20)
    name = topic("readings").name
    start = time.monotonic()
    for value in values:
        producer.send(name, key=orjson.loads(value)["device"].encode(), value=value)
    producer.flush()
    producer.close()
    return time.monotonic() - start


def drain(settings, count: int, work=None) -> float:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic("readings").name, p) for p in range(topic("readings").partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    seen, start = 0, time.monotonic()
    while seen < count:
        for batch in consumer.poll(timeout_ms=500, max_records=2000).values():
            for record in batch:
                if work is not None:
                    work(record.value)
                seen += 1
    consumer.close()
    return time.monotonic() - start


def same_work(site, rules):
    states: dict = {}

    def work(value: bytes) -> None:
        reading, sensor = parse_reading(site, value)
        decision = sensors.evaluate(states.get(sensor.id), reading, sensor, site, rules)
        if decision.changed:
            states[sensor.id] = decision.state
    return work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--per-device", type=int, default=500)
    args = parser.parse_args()
    values = build_readings(args.devices, args.per_device)
    count = len(values)
    print(f"{count} real readings over {args.devices} smoke detectors", file=sys.stderr)
    with private_infra(site_yaml(args.devices)) as settings:
        site = load_site(settings.site_file)
        produce_s = publish(settings, values)
        kafka_s = drain(settings, count)
        same_s = drain(settings, count, same_work(site, sensors.RulesConfig()))
        with worker_process(settings) as stats:
            first, start = int(stats().get("readings", 0)), time.monotonic()
            while int(stats().get("readings", 0)) < count:
                time.sleep(0.05)
                if time.monotonic() - start > 600:
                    raise SystemExit("worker did not finish within 600 s")
            worker_s = (time.monotonic() - start) * count / max(count - first, 1)
            time.sleep(1.5)
            final = stats()
    rate = count / worker_s
    result = {"machine": machine(), "command": " ".join(["python", *sys.argv]), "readings": count,
              "devices": args.devices, "produce_per_s": count / produce_s, "worker_per_s": rate,
              "baseline_kafka_only_per_s": count / kafka_s, "baseline_same_work_per_s": count / same_s,
              "alerts_opened": int(final.get("alerts_opened", 0)), "alerts_resolved": int(final.get("alerts_resolved", 0))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "readings.json").write_text(json.dumps(result, indent=2))
    print(f"\nmachine: {result['machine']}\ncommand: {result['command']}\n")
    print(table([
        ("measure", "Faust worker (ours)", "baseline, same run", "ratio"),
        ("readings/s: worker vs one process doing the same work", f"{rate:.0f}",
         f"{result['baseline_same_work_per_s']:.0f} (kafka-python + validate + rules)",
         f"{rate / result['baseline_same_work_per_s']:.2f}"),
        ("readings/s: worker vs reading Kafka only", f"{rate:.0f}",
         f"{result['baseline_kafka_only_per_s']:.0f} (kafka-python, no work)",
         f"{rate / result['baseline_kafka_only_per_s']:.2f}"),
        ("alerts while draining (opened / resolved)", f"{result['alerts_opened']} / {result['alerts_resolved']}", "-", "-"),
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
