"""Load and soak: N simulated cameras at 25 fps plus sensor traffic through Kafka into the Faust worker.

    .venv/bin/python -m benchmarks.load.run_load                          # search N (60 s steps), then a 600 s soak
    .venv/bin/python -m benchmarks.load.run_load --long                   # soak 1800 s
    .venv/bin/python -m benchmarks.load.run_load --duration-s 60 --step-s 30   # short form for development
    .venv/bin/python -m benchmarks.load.run_load --n 3 --duration-s 300   # no search: soak at N=3

Every phase runs on a Kafka and Redis of its own (free ports on 127.0.0.1, fresh run dir, deleted after),
so no phase inherits another's backlog. Cameras: role `facade` (the thrown-object core runs on every frame), each
with its own copy of tests/fixtures/facades/office1.json, fed the real clip ../shared/data/video/facade-office1.mp4
(1280x720) looped, JPEG-encoded once up front (cached in --out) and reused. One producer process paces every camera
at 25 fps with wall-clock capture times and staggered clip positions, and sends sensor readings (half smoke, half
heat, one every --sensor-period-s each; a few smoke/heat pairs go into alarm for 30 s every 90 s so sensor alerts
and fire confirmations flow). The clip has two falls about 8.5 s into each 13.3 s loop (at 25 fps), so every camera
raises thrown_object alerts all the time.

Sampled every --sample-s: the worker group's lag on the frames and readings topics (committed offsets vs end
offsets), which worker owns which partition (DescribeGroups), worker frame counters (Redis), CPU% and RSS of the
workers, the producer, Kafka and Redis, the load average. Frame-to-alert latency: the timestamp of the alert record
on sca.alerts.v1 minus the capture time of the frame that completed the fall (the alert's updated_at).

Search: N = 1, 2, 3, 4, 6, 8, ... for --step-s each, stopping at the first N that is not sustained (see
benchmarks/load/analysis.py: lag slope over the second half, end lag, producer rate). Soak: the largest sustained N
for --duration-s; at 50% a second worker starts, at 65% the first gets SIGTERM; partition ownership and lag show
the takeover. Writes summary.json, timeline.csv, latency.csv and load.png into --out (default build/load/).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.load import analysis

FPS = 25.0
FRAMES_PARTS, READINGS_PARTS = 4, 4


def log(msg: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ inputs

def load_frames(clip: str, cache_dir: Path) -> list[tuple[bytes, int, int]]:
    """Every frame of the clip as JPEG (q85, under the topic's limit), encoded once and cached."""
    from benchmarks.common import DATA

    source = DATA / "video" / clip
    st = source.stat()
    cache = cache_dir / f".frames-{clip}-{st.st_size}-{int(st.st_mtime)}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import cv2

    from pipeline.contracts import topic
    from pipeline.ingest.camera import HEADER_ALLOWANCE, encode_jpeg

    max_bytes = int(topic("frames").config.get("max.message.bytes", 1_000_000)) - HEADER_ALLOWANCE
    log(f"encoding {clip} once (JPEG q85) ...")
    capture = cv2.VideoCapture(str(source))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(encode_jpeg(image, 85, max_bytes))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames in {source}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(frames))
    return frames


def camera_ids(n: int) -> list[str]:
    return [f"cam-{i:03d}" for i in range(n)]


def sensor_ids(count: int) -> list[tuple[str, str, str]]:
    """(id, type, location): smoke and heat in pairs sharing a location."""
    out = []
    for i in range(count):
        pair, kind = divmod(i, 2)
        out.append((f"{'smoke' if kind == 0 else 'heat'}-{pair:03d}", "smoke" if kind == 0 else "heat",
                    f"B1 flat {pair:03d}"))
    return out


def site_yaml(n: int, sensors: int, sensor_period_s: float) -> str:
    cams = "".join(f"  - {{id: {c}, source: facade-office1.mp4, fps: {FPS:g}, role: facade, "
                   f"calibration: facades/{c}.json, location: 'load {c}'}}\n" for c in camera_ids(n))
    sens = "".join(f"  - {{id: {sid}, type: {kind}, location: '{loc}', report_interval_s: {sensor_period_s:g}}}\n"
                   for sid, kind, loc in sensor_ids(sensors))
    return (f"site: {{id: load}}\ncameras:\n{cams}sensors:\n{sens}"
            "liveness: {camera_timeout_s: 30, offline_intervals: 5, check_interval_s: 1}\n")


def write_calibrations(run_dir: Path, n: int) -> None:
    from pipeline.settings import REPO_ROOT

    base = json.loads((REPO_ROOT / "tests" / "fixtures" / "facades" / "office1.json").read_text())
    folder = run_dir / "facades"
    folder.mkdir(parents=True, exist_ok=True)
    for cam in camera_ids(n):
        (folder / f"{cam}.json").write_text(json.dumps({**base, "camera": cam}))


def sensor_value(kind: str, pair: int, now: float, alarm_pairs: int) -> tuple[dict, bool | None]:
    """Readings of one sensor at `now`: pairs below `alarm_pairs` are in alarm 30 s of every 90 s."""
    alarmed = pair < alarm_pairs and (now + pair * 30) % 90 < 30
    if kind == "smoke":
        return {"obscuration_pct_per_m": 4.0 if alarmed else 0.2}, alarmed
    return {"temperature_c": 70.0 if alarmed else 22.0 + (pair % 5) * 0.3}, None


# ------------------------------------------------------------------------------------------------ producer process

def produce_main(argv: list[str]) -> int:
    """The producer process: every camera at --fps with wall-clock capture times, and the sensors."""
    import heapq

    import orjson

    from pipeline.contracts import topic
    from pipeline.frames import to_kafka_headers
    from pipeline.ingest.producer import DeliveryCount, make_producer
    from pipeline.messages import FrameHeaders
    from pipeline.settings import load_settings

    p = argparse.ArgumentParser()
    p.add_argument("--cameras", type=int, required=True)
    p.add_argument("--fps", type=float, default=FPS)
    p.add_argument("--duration-s", type=float, required=True)
    p.add_argument("--frames-cache", required=True)
    p.add_argument("--sensors", type=int, default=50)
    p.add_argument("--sensor-period-s", type=float, default=2.0)
    p.add_argument("--alarm-pairs", type=int, default=3)
    a = p.parse_args(argv)
    frames = pickle.loads(Path(a.frames_cache).read_bytes())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    producer = make_producer(load_settings(), client_id="sca-load")
    delivery = DeliveryCount()
    frames_topic, readings_topic = topic("frames").name, topic("readings").name
    cams, sensors = camera_ids(a.cameras), sensor_ids(a.sensors)
    period = 1.0 / a.fps
    start = time.monotonic() + 0.5
    end = start + a.duration_s
    # (due, kind, index): cameras spread over one frame interval, sensors over one reporting period
    queue = [(start + i * period / max(1, len(cams)), 0, i) for i in range(len(cams))]
    queue += [(start + j * a.sensor_period_s / max(1, len(sensors)), 1, j) for j in range(len(sensors))]
    heapq.heapify(queue)
    position = [i * len(frames) // max(1, len(cams)) for i in range(len(cams))]  # staggered clip positions
    seq = [0] * len(cams)
    sent = readings = nbytes = late = 0
    behind = max_behind = 0.0
    next_status = start
    while queue and not stop.is_set():
        due, kind, idx = queue[0]
        if due >= end:
            break
        now = time.monotonic()
        if now >= next_status:
            print(json.dumps({"t": time.time(), "frames": sent, "readings": readings, "bytes": nbytes,
                              "acked": delivery.acked, "failed": delivery.failed, "behind_s": round(behind, 4),
                              "max_behind_s": round(max_behind, 4), "late": late}), flush=True)
            next_status += 1.0
        if due > now:
            time.sleep(min(due - now, max(0.0, next_status - now)) or 0.0005)
            continue
        heapq.heappop(queue)
        behind = now - due
        max_behind = max(max_behind, behind)
        if kind == 0:
            late += behind > period
            data, w, h = frames[position[idx] % len(frames)]
            position[idx] += 1
            cam = cams[idx]
            meta = FrameHeaders(camera=cam, ts=time.time(), seq=seq[idx], width=w, height=h)
            seq[idx] += 1
            delivery.track(producer.send(frames_topic, key=cam.encode(), value=data, headers=to_kafka_headers(meta)))
            sent += 1
            nbytes += len(data)
            heapq.heappush(queue, (due + period, 0, idx))
        else:
            sid, stype, _loc = sensors[idx]
            ts = time.time()
            values, alarm = sensor_value(stype, idx // 2, ts, a.alarm_pairs)
            reading = {"device": sid, "type": stype, "ts": ts, "values": values, "battery": 90.0}
            if alarm is not None:
                reading["alarm"] = alarm
            delivery.track(producer.send(readings_topic, key=sid.encode(), value=orjson.dumps(reading)))
            readings += 1
            heapq.heappush(queue, (due + a.sensor_period_s, 1, idx))
    producer.flush(timeout=60)
    producer.close(timeout=10)
    print(json.dumps({"t": time.time(), "frames": sent, "readings": readings, "bytes": nbytes, "acked": delivery.acked,
                      "failed": delivery.failed, "behind_s": round(behind, 4), "max_behind_s": round(max_behind, 4),
                      "late": late, "done": True, "errors": delivery.errors}), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------ measuring

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_times(pid: int) -> tuple[float, float] | None:
    """(CPU seconds used, RSS MiB) of a process: psutil when installed (the `bench` extra), else /proc."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                if proc.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped
                    return None
                times = proc.cpu_times()
                return times.user + times.system, proc.memory_info().rss / 2**20
        except (psutil.Error, ValueError):
            return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):  # exited, not yet reaped
            return None
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        rss = 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
                break
        return cpu, rss
    except (OSError, ValueError, IndexError):
        return None


def system_busy() -> tuple[float, float]:
    """(busy jiffies, total jiffies) from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


def assigned(member: dict) -> list[tuple[str, int]]:
    """The (topic, partition) pairs of one member of a DescribeGroups answer, whatever shape the client gives."""
    value = member.get("member_assignment")
    if value is None:
        return []
    if hasattr(value, "partitions"):
        return [(tp.topic, tp.partition) for tp in value.partitions()]
    if isinstance(value, dict):
        pairs = value.get("assigned_partitions") or value.get("assignment") or []
        out = []
        for item in pairs:
            if isinstance(item, dict):
                out += [(item.get("topic"), p) for p in item.get("partitions", [])]
            else:
                out += [(item[0], p) for p in item[1]]
        return out
    return []


class Monitor(threading.Thread):
    """Samples lag, ownership, counters, CPU and memory every `sample_s` into `rows`."""

    def __init__(self, settings, phase: str, n: int, t0: float, sample_s: float, producer_status: dict,
                 watcher: "AlertWatcher"):
        super().__init__(daemon=True, name=f"monitor-{phase}")
        import redis
        from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

        from pipeline.contracts import topic
        from pipeline.infra import services

        self.settings, self.phase, self.n, self.t0, self.sample_s = settings, phase, n, t0, sample_s
        self.producer_status, self.watcher = producer_status, watcher
        self.group = settings.app_id
        self.admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="sca-load-monitor")
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, client_id="sca-load-offsets")
        self.frames_topic, self.readings_topic = topic("frames").name, topic("readings").name
        self.tps = {self.frames_topic: [TopicPartition(self.frames_topic, p) for p in range(topic("frames").partitions)],
                    self.readings_topic: [TopicPartition(self.readings_topic, p)
                                          for p in range(topic("readings").partitions)]}
        self.redis = redis.Redis.from_url(settings.redis_url)
        self.infra = {name: svc.running_pid() for name, svc in services.services(settings).items()}
        self.workers: dict[str, int] = {}  # label -> pid
        self.members: dict[str, str] = {}  # member id -> label
        self.producer_pid: int | None = None
        self.rows: list[dict] = []
        self.stop = threading.Event()
        self._last: dict[str, tuple[float, float]] = {}
        self._sys_last = system_busy()
        self._wall_last = time.monotonic()

    def add_worker(self, label: str, pid: int) -> None:
        self.workers[label] = pid

    def _cpu(self, key: str, pid: int | None, dt: float) -> tuple[float, float]:
        if pid is None:
            return math.nan, math.nan
        got = proc_times(pid)
        if got is None:
            self._last.pop(key, None)
            return math.nan, math.nan
        cpu_s, rss = got
        prev = self._last.get(key)
        self._last[key] = (cpu_s, rss)
        if prev is None or dt <= 0:
            return math.nan, rss
        return 100.0 * (cpu_s - prev[0]) / dt, rss

    def _lags(self) -> tuple[dict, dict]:
        try:
            committed = self.admin.list_group_offsets(self.group).get(self.group, {})
        except Exception:  # the group does not exist until the worker first commits
            committed = {}
        ends = self.consumer.end_offsets([tp for tps in self.tps.values() for tp in tps])
        lag, end_total = {}, {}
        for name, tps in self.tps.items():
            total = ends_sum = 0
            for tp in tps:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset is not None and meta.offset >= 0 else 0
                total += max(0, ends[tp] - done)
                ends_sum += ends[tp]
            lag[name], end_total[name] = total, ends_sum
        return lag, end_total

    def _ownership(self) -> dict[str, dict[str, int]]:
        try:
            desc = self.admin.describe_groups([self.group]).get(self.group, {})
        except Exception:
            return {}
        owned: dict[str, dict[str, int]] = {}
        for member in desc.get("members", []) or []:
            mid = member.get("member_id")
            if mid not in self.members:  # members are named by order of appearance: w1 first, w2 once it started
                self.members[mid] = "w2" if "w2" in self.workers else "w1"
            label = self.members[mid]
            counts = owned.setdefault(label, {"frames": 0, "readings": 0, "all": 0})
            for tname, _p in assigned(member):
                counts["all"] += 1
                if tname == self.frames_topic:
                    counts["frames"] += 1
                elif tname == self.readings_topic:
                    counts["readings"] += 1
        return owned

    def sample(self) -> dict:
        from pipeline.stats import read_all

        wall = time.monotonic()
        dt, self._wall_last = wall - self._wall_last, wall
        busy, total = system_busy()
        sys_cpu = 100.0 * (busy - self._sys_last[0]) / max(1, total - self._sys_last[1])
        self._sys_last = (busy, total)
        row: dict = {"phase": self.phase, "n": self.n, "t": round(time.time() - self.t0, 3),
                     "load1": os.getloadavg()[0], "sys_cpu_pct": round(sys_cpu, 1)}
        try:
            lag, ends = self._lags()
        except Exception as exc:
            log(f"lag sample failed: {exc!r}")
            lag, ends = {}, {}
        row["frames_lag"] = lag.get(self.frames_topic, math.nan)
        row["readings_lag"] = lag.get(self.readings_topic, math.nan)
        row["frames_end"] = ends.get(self.frames_topic, math.nan)
        row["readings_end"] = ends.get(self.readings_topic, math.nan)
        status = dict(self.producer_status)
        row["produced_frames"] = status.get("frames", 0)
        row["produced_readings"] = status.get("readings", 0)
        row["producer_behind_s"] = status.get("behind_s", math.nan)
        try:
            stats = {s.get("pid"): s for s in read_all(self.redis)}
        except Exception:
            stats = {}
        owned = self._ownership()
        for label in ("w1", "w2"):
            pid = self.workers.get(label)
            s = stats.get(str(pid), {}) if pid else {}
            row[f"{label}_frames"] = int(s["frames"]) if "frames" in s else math.nan
            row[f"{label}_readings"] = int(s["readings"]) if "readings" in s else math.nan
            row[f"{label}_alert_signals"] = int(s["alert_signals"]) if "alert_signals" in s else math.nan
            cpu, rss = self._cpu(label, pid, dt)
            row[f"{label}_cpu"], row[f"{label}_rss_mb"] = round(cpu, 1), round(rss, 1)
            o = owned.get(label, {})
            row[f"{label}_frames_parts"] = o.get("frames", 0)
            row[f"{label}_readings_parts"] = o.get("readings", 0)
            row[f"{label}_all_parts"] = o.get("all", 0)
        for key, pid in (("producer", self.producer_pid), ("kafka", self.infra.get("kafka")),
                         ("redis", self.infra.get("redis"))):
            cpu, rss = self._cpu(key, pid, dt)
            row[f"{key}_cpu"], row[f"{key}_rss_mb"] = round(cpu, 1), round(rss, 1)
        ours = [row[k] for k in ("w1_cpu", "w2_cpu", "producer_cpu", "kafka_cpu", "redis_cpu") if not math.isnan(row[k])]
        # everything else on the machine (other people's jobs, mosquitto, this monitor), 100 = one core
        row["others_cpu"] = round(max(0.0, sys_cpu * (os.cpu_count() or 1) - sum(ours)), 1)
        row["alerts_seen"] = self.watcher.records
        row["latencies"] = len(self.watcher.latencies)
        return row

    def run(self) -> None:
        next_t = time.monotonic()
        while not self.stop.is_set():
            try:
                self.rows.append(self.sample())
            except Exception as exc:  # a sample must never end the run
                log(f"sample failed: {exc!r}")
            next_t += self.sample_s
            self.stop.wait(max(0.0, next_t - time.monotonic()))
        with contextlib.suppress(Exception):
            self.admin.close()
            self.consumer.close()


class AlertWatcher(threading.Thread):
    """Reads sca.alerts.v1 from the start and turns thrown_object detections into frame-to-alert latencies."""

    def __init__(self, settings, t0: float):
        super().__init__(daemon=True, name="alerts")
        from kafka import KafkaConsumer, TopicPartition

        from pipeline.contracts import topic

        self.t0 = t0
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                      client_id="sca-load-alerts")
        parts = [TopicPartition(topic("alerts").name, p) for p in range(topic("alerts").partitions)]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)
        self.tracker = analysis.LatencyTracker()
        self.latencies: list[tuple[float, str, float]] = []  # (t of the record, camera, latency s)
        self.types: dict[str, int] = {}
        self.records = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import orjson

        while not self.stop.is_set():
            try:
                batches = self.consumer.poll(timeout_ms=200)
            except Exception as exc:
                log(f"alerts poll failed: {exc!r}")
                time.sleep(1)
                continue
            for batch in batches.values():
                for record in batch:
                    self.records += 1
                    try:
                        alert = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        continue
                    self.types[alert.get("type", "?")] = self.types.get(alert.get("type", "?"), 0) + 1
                    ts = record.timestamp / 1000.0
                    latency = self.tracker.observe(alert, ts)
                    if latency is not None:
                        self.latencies.append((round(ts - self.t0, 3), str(alert.get("device")), latency))
        with contextlib.suppress(Exception):
            self.consumer.close()


# ------------------------------------------------------------------------------------------------ one phase

def bound_frame_retention(settings) -> None:
    """Keep the private broker's disk bounded on long runs: frames older than 3 min go, in 64 MB segments."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    from pipeline.contracts import topic

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="sca-load-config")
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic("frames").name,
                                            configs={"retention.ms": "180000", "segment.bytes": str(64 << 20)})])
    except Exception as exc:
        log(f"could not bound frame retention (disk use grows with the run): {exc!r}")
    finally:
        admin.close()


def run_phase(args, frames_cache: Path, n: int, duration_s: float, phase: str, failover: bool) -> dict:
    from benchmarks.common import private_infra, worker_process

    log(f"{phase}: N={n} cameras x {args.fps:g} fps + {args.sensors} sensors for {duration_s:.0f} s"
        f"{' with failover' if failover else ''}; starting a private Kafka and Redis ...")
    run_dir = None
    result: dict = {"phase": phase, "n": n, "duration_s": duration_s}
    try:
        with private_infra(site_yaml(n, args.sensors, args.sensor_period_s)) as settings, \
                contextlib.ExitStack() as stack:
            run_dir = settings.run_dir
            write_calibrations(run_dir, n)
            bound_frame_retention(settings)
            log(f"{phase}: starting worker 1 ...")
            w1 = stack.enter_context(worker_process(settings))
            w1_pid = int(w1()["pid"])
            t0 = time.time()
            watcher = AlertWatcher(settings, t0)
            status: dict = {}
            monitor = Monitor(settings, phase, n, t0, args.sample_s, status, watcher)
            monitor.add_worker("w1", w1_pid)
            cmd = [sys.executable, "-m", "benchmarks.load.run_load", "_produce", "--cameras", str(n),
                   "--fps", str(args.fps), "--duration-s", str(duration_s), "--frames-cache", str(frames_cache),
                   "--sensors", str(args.sensors), "--sensor-period-s", str(args.sensor_period_s),
                   "--alarm-pairs", str(args.alarm_pairs)]
            prod = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(run_dir / "producer.log", "wb"),
                                    cwd=Path(__file__).resolve().parents[2], env=os.environ.copy(), text=True)
            monitor.producer_pid = prod.pid
            final: dict = {}

            def read_status() -> None:
                for line in prod.stdout:
                    with contextlib.suppress(ValueError):
                        data = json.loads(line)
                        status.update(data)
                        if data.get("done"):
                            final.update(data)

            reader = threading.Thread(target=read_status, daemon=True)
            reader.start()
            watcher.start()
            monitor.start()
            w2_start_at = duration_s * 0.35 if failover else math.inf
            w1_stop_at = duration_s * 0.55 if failover else math.inf
            events: dict = {}
            next_progress = 0.0
            while prod.poll() is None:
                t = time.time() - t0
                if t > duration_s + 120:
                    prod.terminate()
                    log(f"{phase}: producer overran; stopped")
                    break
                if t >= w2_start_at and "w2_start_t" not in events:
                    events["w2_start_t"] = round(t, 2)
                    log(f"{phase}: starting worker 2 at t={t:.0f} s ...")
                    monitor.workers["w2"] = -1  # new group members from now on are worker 2
                    w2 = stack.enter_context(worker_process(settings))
                    monitor.add_worker("w2", int(w2()["pid"]))
                    events["w2_ready_t"] = round(time.time() - t0, 2)
                    log(f"{phase}: worker 2 ready at t={events['w2_ready_t']:.0f} s")
                    w1_stop_at = max(w1_stop_at, events["w2_ready_t"] + 10)
                if t >= w1_stop_at and "w1_stop_t" not in events:
                    events["w1_stop_t"] = round(t, 2)
                    log(f"{phase}: SIGTERM to worker 1 (pid {w1_pid}) at t={t:.0f} s")
                    os.kill(w1_pid, signal.SIGTERM)
                if t >= next_progress and monitor.rows:
                    r = monitor.rows[-1]
                    log(f"{phase} N={n} t={r['t']:.0f}/{duration_s:.0f}s frames lag={r['frames_lag']} "
                        f"readings lag={r['readings_lag']} sent={r['produced_frames']} "
                        f"w1={r['w1_frames']} w2={r['w2_frames']} cpu w1={r['w1_cpu']}% prod={r['producer_cpu']}% "
                        f"kafka={r['kafka_cpu']}% load={r['load1']:.2f} latencies={r['latencies']}")
                    next_progress = t + 10
                time.sleep(0.2)
            reader.join(timeout=30)
            time.sleep(args.sample_s * 2)  # the samples right after the last frame
            monitor.stop.set()
            watcher.stop.set()
            monitor.join(timeout=30)
            watcher.join(timeout=10)
            result.update(analyse_phase(args, n, duration_s, monitor.rows, watcher, final, events, failover))
            result["rows"] = monitor.rows
            result["latency_rows"] = watcher.latencies
            return result
    finally:
        if run_dir is not None and not args.keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)


def _series(rows: list[dict], key: str, t_from: float = -math.inf, t_to: float = math.inf) -> tuple[list, list]:
    pairs = [(r["t"], r[key]) for r in rows
             if t_from <= r["t"] <= t_to and r.get(key) is not None and not (isinstance(r[key], float)
                                                                              and math.isnan(r[key]))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _stats(rows: list[dict], key: str, t_from: float = -math.inf, t_to: float = math.inf) -> dict:
    _, ys = _series(rows, key, t_from, t_to)
    return {"mean": round(analysis.mean(ys), 1), "peak": round(analysis.peak(ys), 1)}


def analyse_phase(args, n: int, duration_s: float, rows: list[dict], watcher: AlertWatcher, final: dict,
                  events: dict, failover: bool) -> dict:
    offered = n * args.fps
    end = duration_s
    judged_to = events.get("w2_start_t", end)  # with a failover, judge the steady state before it
    ts, lags = _series(rows, "frames_lag", 0, judged_to)
    growth = analysis.lag_growth(ts, lags, offered)
    pt, pf = _series(rows, "produced_frames", 5, judged_to)
    produced = analysis.rate(pt, pf)
    verdict = analysis.judge(growth, offered, produced)
    rts, rlags = _series(rows, "readings_lag", 0, judged_to)
    sensor_rate = args.sensors / args.sensor_period_s
    rgrowth = analysis.lag_growth(rts, rlags, sensor_rate)
    # frames processed per second over the judged second half, all workers together
    half = judged_to / 2
    proc_rows = [r for r in rows if half <= r["t"] <= judged_to]
    done = [(r["t"], (0 if math.isnan(r["w1_frames"]) else r["w1_frames"])
             + (0 if math.isnan(r["w2_frames"]) else r["w2_frames"])) for r in proc_rows]
    processed = analysis.rate([d[0] for d in done], [d[1] for d in done])
    lat = [x[2] for x in watcher.latencies if x[0] <= judged_to]
    out = {
        "offered_fps": offered, "produced_fps": round(produced, 1), "processed_fps": round(processed, 1),
        "sustained": verdict.sustained, "reason": verdict.reason,
        "frames_lag": {"slope_msg_s": round(growth.slope, 2), "slope_limit": round(growth.threshold, 2),
                       "end": round(growth.end_lag, 1), "max": analysis.peak(_series(rows, "frames_lag", 0, end)[1])},
        "readings_lag": {"slope_msg_s": round(rgrowth.slope, 3), "end": round(rgrowth.end_lag, 1),
                         "max": analysis.peak(_series(rows, "readings_lag", 0, end)[1])},
        "latency_ms": {"p50": round(analysis.percentile(lat, 50) * 1000, 1),
                       "p99": round(analysis.percentile(lat, 99) * 1000, 1),
                       "max": round(analysis.peak(lat) * 1000, 1) if lat else math.nan, "n": len(lat)},
        "worker_cpu_pct": _stats(rows, "w1_cpu", 0, judged_to),
        "worker_rss_mb": _stats(rows, "w1_rss_mb", 0, judged_to),
        "producer_cpu_pct": _stats(rows, "producer_cpu", 0, end),
        "kafka_cpu_pct": _stats(rows, "kafka_cpu", 0, end), "kafka_rss_mb": _stats(rows, "kafka_rss_mb", 0, end),
        "redis_cpu_pct": _stats(rows, "redis_cpu", 0, end),
        "system_cpu_pct": _stats(rows, "sys_cpu_pct", 0, end), "load1": _stats(rows, "load1", 0, end),
        "others_cpu_pct": _stats(rows, "others_cpu", 0, end),
        "producer": {k: final.get(k) for k in ("frames", "readings", "acked", "failed", "max_behind_s", "late",
                                               "errors")},
        "alert_records": dict(sorted(watcher.types.items())),
    }
    wt, wr = _series(rows, "w1_rss_mb", duration_s * 0.1, judged_to)
    out["worker_rss_growth_mb_per_min"] = round(analysis.slope(wt, wr) * 60, 2)
    # CPU per frame (before any failover): robust to other jobs taking cores, unlike frames/s
    steady = [r for r in rows if 0 <= r["t"] <= judged_to]
    tsw = [r["t"] for r in steady]
    cost = {"worker": analysis.cpu_ms_per_item(tsw, [r["w1_cpu"] for r in steady], [r["w1_frames"] for r in steady]),
            "kafka": analysis.cpu_ms_per_item(tsw, [r["kafka_cpu"] for r in steady],
                                              [r["produced_frames"] for r in steady]),
            "producer": analysis.cpu_ms_per_item(tsw, [r["producer_cpu"] for r in steady],
                                                 [r["produced_frames"] for r in steady])}
    total = sum(v for v in cost.values() if not math.isnan(v))
    out["cpu_ms_per_frame"] = {k: round(v, 1) for k, v in {**cost, "total": total}.items()}
    out["cameras_if_machine_were_ours"] = round(analysis.cameras_if_alone(os.cpu_count() or 1, args.fps, total), 2)
    if failover:
        last = max((r["t"] for r in rows), default=end)
        out["failover"] = analyse_failover(rows, events, offered, args.recovered_lag_s, watcher, min(end, last))
    return out


def analyse_failover(rows: list[dict], events: dict, offered: float, recovered_lag_s: float, watcher,
                     end: float) -> dict:
    info = dict(events)
    stop = events.get("w1_stop_t")
    if stop is None or stop >= end - 5:
        info["note"] = "worker 1 was not stopped before the producer ended: run too short to see the takeover"
        return info
    ts = [r["t"] for r in rows]
    owned = [r["w2_frames_parts"] + r["w2_readings_parts"] for r in rows]
    lags = [r["frames_lag"] if not math.isnan(r["frames_lag"]) else 0 for r in rows]
    fo = analysis.failover_times(ts, owned, lags, stop, FRAMES_PARTS + READINGS_PARTS, recovered_lag_s * offered)
    before = [r for r in rows if events.get("w2_ready_t", stop) + 5 <= r["t"] < stop]
    info.update({
        "partitions_before_stop": {w: int(before[-1][f"{w}_frames_parts"] + before[-1][f"{w}_readings_parts"])
                                   if before else None for w in ("w1", "w2")},
        "w2_owned_all_after_s": None if fo.all_owned_after_s is None else round(fo.all_owned_after_s, 1),
        "lag_recovered_after_s": None if fo.lag_recovered_after_s is None else round(fo.lag_recovered_after_s, 1),
        "lag_limit_msgs": fo.lag_limit, "frames_lag_max_after_stop": fo.lag_max_after,
    })
    w2_at_stop = next((r["w2_frames"] for r in rows if r["t"] >= stop and not math.isnan(r["w2_frames"])), None)
    w2_end = next((r["w2_frames"] for r in reversed(rows) if r["t"] <= end and not math.isnan(r["w2_frames"])), None)
    info["w2_frames_at_stop"], info["w2_frames_at_end"] = w2_at_stop, w2_end
    if w2_at_stop is not None and w2_end is not None:
        info["w2_fps_after_stop"] = round((w2_end - w2_at_stop) / max(1e-6, end - stop), 1)
    after = [x[2] for x in watcher.latencies if x[0] >= stop]
    info["latency_after_stop_ms"] = {"p50": round(analysis.percentile(after, 50) * 1000, 1),
                                     "p99": round(analysis.percentile(after, 99) * 1000, 1), "n": len(after)}
    ts2, lag2 = _series(rows, "frames_lag", stop + (fo.lag_recovered_after_s or 0), end)
    info["lag_slope_after_recovery_msg_s"] = round(analysis.slope(ts2, lag2), 2)
    wt, wr = _series(rows, "w2_rss_mb", stop, end)
    info["w2_cpu_pct_after_stop"] = _stats(rows, "w2_cpu", stop, end)
    info["w2_rss_mb_after_stop"] = {"mean": round(analysis.mean(wr), 1), "peak": round(analysis.peak(wr), 1)}
    return info


# ------------------------------------------------------------------------------------------------ output

TIMELINE_COLUMNS = ["phase", "n", "t", "load1", "sys_cpu_pct", "produced_frames", "produced_readings",
                    "producer_behind_s", "frames_end", "frames_lag", "readings_end", "readings_lag",
                    "w1_frames", "w2_frames", "w1_readings", "w2_readings", "w1_alert_signals", "w2_alert_signals",
                    "w1_cpu", "w1_rss_mb", "w2_cpu", "w2_rss_mb", "producer_cpu", "producer_rss_mb",
                    "kafka_cpu", "kafka_rss_mb", "redis_cpu", "redis_rss_mb", "others_cpu",
                    "w1_frames_parts", "w1_readings_parts", "w1_all_parts",
                    "w2_frames_parts", "w2_readings_parts", "w2_all_parts", "alerts_seen", "latencies"]


def _clean(obj):
    """JSON without NaN: NaN becomes null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_outputs(out: Path, summary: dict, phases: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "timeline.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMELINE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for ph in phases:
            writer.writerows(ph.get("rows", []))
    with open(out / "latency.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["phase", "n", "t", "camera", "latency_ms"])
        for ph in phases:
            for t, cam, lat in ph.get("latency_rows", []):
                writer.writerow([ph["phase"], ph["n"], t, cam, round(lat * 1000, 2)])
    (out / "summary.json").write_text(json.dumps(_clean(summary), indent=2))


def print_table(summary: dict) -> None:
    from benchmarks.common import table

    rows = [("phase", "N", "offered fps", "sent fps", "processed fps", "sustained", "frames lag slope/end/max",
             "latency p50/p99 ms (n)", "worker CPU% mean/peak", "worker RSS MB mean/peak", "producer CPU%",
             "kafka CPU%", "other jobs CPU%", "load1 mean/max", "CPU ms/frame worker+kafka+producer")]
    for ph in summary["phases"]:
        fl, lat = ph["frames_lag"], ph["latency_ms"]
        rows.append((ph["phase"], str(ph["n"]), f"{ph['offered_fps']:.0f}", f"{ph['produced_fps']:.1f}",
                     f"{ph['processed_fps']:.1f}", "yes" if ph["sustained"] else "NO",
                     f"{fl['slope_msg_s']:+.2f} / {fl['end']:.0f} / {fl['max']:.0f}",
                     f"{lat['p50']:.0f} / {lat['p99']:.0f} ({lat['n']})",
                     f"{ph['worker_cpu_pct']['mean']:.0f} / {ph['worker_cpu_pct']['peak']:.0f}",
                     f"{ph['worker_rss_mb']['mean']:.0f} / {ph['worker_rss_mb']['peak']:.0f}",
                     f"{ph['producer_cpu_pct']['mean']:.0f}", f"{ph['kafka_cpu_pct']['mean']:.0f}",
                     f"{ph['others_cpu_pct']['mean']:.0f}",
                     f"{ph['load1']['mean']:.2f} / {ph['load1']['peak']:.2f}",
                     "{worker:.0f}+{kafka:.0f}+{producer:.0f}".format(**ph.get("cpu_ms_per_frame", {"worker": math.nan,
                                                                     "kafka": math.nan, "producer": math.nan}))))
    print(table(rows))
    for ph in summary["phases"]:
        print(f"  {ph['phase']} N={ph['n']}: {'sustained' if ph['sustained'] else 'NOT sustained'}: {ph['reason']}")
        fo = ph.get("failover")
        if fo and fo.get("note"):
            print(f"  failover ({ph['phase']}): {fo['note']}")
        elif fo:
            print(f"  failover ({ph['phase']}): worker 2 started t={fo.get('w2_start_t')} s, ready t={fo.get('w2_ready_t')} s, "
                  f"SIGTERM to worker 1 t={fo.get('w1_stop_t')} s; partitions (frames+readings) before the stop "
                  f"{fo.get('partitions_before_stop')}; worker 2 owned all 8 after {fo.get('w2_owned_all_after_s')} s; "
                  f"frames lag max after stop {fo.get('frames_lag_max_after_stop')}, back under "
                  f"{fo.get('lag_limit_msgs'):.0f} after {fo.get('lag_recovered_after_s')} s; worker 2 "
                  f"{fo.get('w2_fps_after_stop')} frames/s after the stop; latency after stop p50/p99 "
                  f"{fo.get('latency_after_stop_ms', {}).get('p50')} / {fo.get('latency_after_stop_ms', {}).get('p99')} ms")
    if summary.get("search"):
        print(f"largest sustained N: {summary['largest_sustained_n']} (tried "
              + ", ".join(f"N={x['n']} {'yes' if x['sustained'] else 'no'}" for x in summary["search"]["tried"]) + ")")
    else:
        print("no search (--n): largest sustained N not measured in this run")


# ------------------------------------------------------------------------------------------------ re-analysis

class _Recorded:
    """What analyse_phase needs of an AlertWatcher, from latency.csv and summary.json."""

    def __init__(self, latencies: list[tuple[float, str, float]], types: dict[str, int]):
        self.latencies, self.types = latencies, types


def reanalyse(out: Path) -> dict:
    """Rebuild summary.json's figures from timeline.csv and latency.csv (after a change to the analysis)."""
    from benchmarks.load.plot import read_timeline

    summary = json.loads((out / "summary.json").read_text())
    timeline = read_timeline(out / "timeline.csv")
    lat: dict[str, list] = {}
    with open(out / "latency.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            lat.setdefault(row["phase"], []).append((float(row["t"]), row["camera"], float(row["latency_ms"]) / 1000))
    args = argparse.Namespace(fps=summary.get("fps", FPS), sensors=summary.get("sensors", 50),
                              sensor_period_s=summary.get("sensor_period_s", 2.0),
                              recovered_lag_s=summary.get("criteria", {}).get("recovered_lag_s_of_offered", 2.0))
    phases = []
    for old in summary["phases"]:
        rows = timeline.get(old["phase"], [])
        fo = old.get("failover") or {}
        events = {k: fo[k] for k in ("w2_start_t", "w2_ready_t", "w1_stop_t") if fo.get(k) is not None}
        new = {"phase": old["phase"], "n": old["n"], "duration_s": old["duration_s"]}
        new.update(analyse_phase(args, old["n"], old["duration_s"], rows, _Recorded(lat.get(old["phase"], []),
                                 old.get("alert_records", {})), old.get("producer") or {}, events,
                                 failover="failover" in old))
        new["rows"], new["latency_rows"] = rows, lat.get(old["phase"], [])
        phases.append(new)
    summary["phases"] = [{k: v for k, v in ph.items() if k not in ("rows", "latency_rows")} for ph in phases]
    summary["reanalysed"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_outputs(out, summary, phases)
    return summary


# ------------------------------------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_produce"]:
        return produce_main(argv[1:])
    from benchmarks.common import machine
    from pipeline.settings import REPO_ROOT

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "load")
    p.add_argument("--candidates", default="1,2,3,4,6,8,12,16", help="N to try, increasing")
    p.add_argument("--step-s", type=float, default=60.0, help="seconds per search step")
    p.add_argument("--duration-s", type=float, default=600.0, help="soak seconds")
    p.add_argument("--long", action="store_true", help="soak 1800 s")
    p.add_argument("--n", type=int, help="skip the search: soak at this N")
    p.add_argument("--no-soak", action="store_true")
    p.add_argument("--no-failover", action="store_true")
    p.add_argument("--fps", type=float, default=FPS)
    p.add_argument("--sensors", type=int, default=50)
    p.add_argument("--sensor-period-s", type=float, default=2.0)
    p.add_argument("--alarm-pairs", type=int, default=3)
    p.add_argument("--sample-s", type=float, default=analysis.SAMPLE_S,
                   help="sampling period; not a divisor of the worker's 1 s commit interval (see analysis.py)")
    p.add_argument("--recovered-lag-s", type=float, default=2.0,
                   help="failover: lag counts as recovered under this many seconds of offered frames")
    p.add_argument("--clip", default="facade-office1.mp4")
    p.add_argument("--keep-run-dir", action="store_true")
    p.add_argument("--reanalyse", action="store_true",
                   help="no run: recompute summary.json from --out's timeline.csv and latency.csv, re-plot, print")
    args = p.parse_args(argv)
    if args.reanalyse:
        summary = reanalyse(args.out)
        from benchmarks.load.plot import plot

        plot(args.out)
        print(f"machine: {summary['machine']}\ncommand: {summary['command']}\n"
              f"load average at start {summary['load_avg_at_start']}, at end {summary.get('load_avg_at_end')}\n")
        print_table(summary)
        return 0
    if args.long:
        args.duration_s = 1800.0
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    frames = load_frames(args.clip, out)
    frames_cache = next(out.glob(f".frames-{args.clip}-*.pkl"))
    log(f"{len(frames)} frames of {args.clip} ({frames[0][1]}x{frames[0][2]}), "
        f"{sum(len(f[0]) for f in frames) / len(frames) / 1e3:.0f} kB each; load average {os.getloadavg()}")
    started = time.time()
    summary: dict = {"machine": machine(), "command": " ".join([".venv/bin/python -m benchmarks.load.run_load", *argv]),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg_at_start": os.getloadavg(),
                     "clip": args.clip, "frame_size": [frames[0][1], frames[0][2]],
                     "frame_kb": round(sum(len(f[0]) for f in frames) / len(frames) / 1e3, 1), "fps": args.fps,
                     "sensors": args.sensors, "sensor_period_s": args.sensor_period_s,
                     "criteria": {"slope_abs_msg_s": analysis.SLOPE_ABS, "slope_rel_of_offered": analysis.SLOPE_REL,
                                  "end_lag_s_of_offered": analysis.END_LAG_S,
                                  "producer_min_of_offered": analysis.PRODUCER_MIN,
                                  "recovered_lag_s_of_offered": args.recovered_lag_s},
                     "phases": []}
    phases: list[dict] = []

    def keep(result: dict) -> None:
        phases.append(result)
        summary["phases"] = [{k: v for k, v in ph.items() if k not in ("rows", "latency_rows")} for ph in phases]
        write_outputs(out, summary, phases)

    if args.n:
        summary["search"] = None  # no search: the largest sustained N is not known from this run
        best = args.n
    else:
        def step(n: int) -> bool:
            result = run_phase(args, frames_cache, n, args.step_s, f"search-N{n}", failover=False)
            keep(result)
            log(f"search N={n}: {'sustained' if result['sustained'] else 'NOT sustained'} ({result['reason']})")
            return result["sustained"]

        found = analysis.search(analysis.parse_candidates(args.candidates), step)
        summary["search"] = {"tried": [{"n": n, "sustained": ok} for n, ok in found.tried], "step_s": args.step_s}
        best = found.largest_sustained
        if found.tried and found.tried[-1][1]:
            summary["search"]["note"] = "every candidate was sustained: the largest N is at least the last one"
    summary["largest_sustained_n"] = None if args.n else best
    if not args.no_soak:
        n = max(1, best)
        if best == 0:
            log("no N was sustained; soaking at N=1 anyway")
        keep(run_phase(args, frames_cache, n, args.duration_s, f"soak-N{n}", failover=not args.no_failover))
    summary["wall_s"] = round(time.time() - started, 1)
    summary["load_avg_at_end"] = os.getloadavg()
    write_outputs(out, summary, phases)
    try:
        from benchmarks.load.plot import plot

        plot(out)
        log(f"plot: {out / 'load.png'}")
    except ImportError as exc:
        log(f"no plot ({exc}): pip install -e '.[bench]'")
    print(f"\nmachine: {summary['machine']}\ncommand: {summary['command']}\n"
          f"load average at start {summary['load_avg_at_start']}, at end {summary['load_avg_at_end']}\n")
    print_table(summary)
    print(f"\n{out / 'summary.json'}, {out / 'timeline.csv'}, {out / 'latency.csv'}, {out / 'load.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
