"""`sca demo`: the whole loop on local Kafka and Redis with real recordings.

Brings the services up, applies the topics, starts a worker, replays two real camera clips
and a real smoke-detector recording, and prints alerts as they arrive: a smoke alarm that
opens and resolves, a camera that goes silent (device offline) and comes back. Then it stops
what it started and prints a summary. Ctrl-C at any point leaves nothing running.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import click
import redis
from kafka import KafkaConsumer, TopicPartition

from pipeline.config import load_site
from pipeline.contracts import topic
from pipeline.infra import services
from pipeline.infra.process import InfraError
from pipeline.ingest.camera import ingest_camera
from pipeline.ingest.sensors import Mapping, load_readings, send_readings
from pipeline.messages import Alert
from pipeline.present import format_alert
from pipeline.settings import REPO_ROOT, Settings
from pipeline.stats import read_all

SMOKE_FILE = "sensors/smoke_detection_iot.csv"
DEMO_MODEL = "yolov8n-coco-int8-320.onnx"
SMOKE_ALARM_STARTS = (3170, 20)  # rows 3170-3189: the recorded Fire Alarm flag rises at row 3178
SMOKE_ALARM_CLEARS = (24990, 10)  # rows 24990-24999: it falls back at row 24994


def data_dir() -> Path:
    return Path(os.environ.get("SCA_DATA_DIR", str(REPO_ROOT.parent / "shared" / "data")))


def say(text: str) -> None:
    click.secho(f"==> {text}", fg="cyan", err=True)


class AlertWatcher(threading.Thread):
    """Prints every alert record published after it started (reads the alerts topic, not Redis)."""

    def __init__(self, settings: Settings):
        super().__init__(daemon=True)
        self.seen: list[Alert] = []
        self.stopping = threading.Event()
        name = topic("alerts").name
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False,
                                      client_id="sca-demo-watch")
        partitions = [TopicPartition(name, p) for p in range(topic("alerts").partitions)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            self.consumer.position(tp)  # resolve "end" now, before anything is produced

    def run(self) -> None:
        while not self.stopping.is_set():
            for records in self.consumer.poll(timeout_ms=300).values():
                for record in records:
                    alert = Alert.model_validate_json(record.value)
                    self.seen.append(alert)
                    colour = "red" if alert.status.value == "open" else "green"
                    click.secho(format_alert(alert), fg=colour)
        self.consumer.close()

    def has(self, alert_type: str, status: str, device: str | None = None) -> bool:
        return any(a.type == alert_type and a.status.value == status and (device is None or a.device == device)
                   for a in self.seen)


def _worker_env() -> dict[str, str]:
    """The demo's fire-lane camera needs a detector: use the shared sample model unless one is configured."""
    env = os.environ.copy()
    sample = data_dir().parent / "models" / DEMO_MODEL
    if not env.get("SCA_DETECTOR_MODEL") and sample.exists():
        env["SCA_DETECTOR_MODEL"] = str(sample)
    return env


def _start_worker(settings: Settings, log_path: Path) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker", "--loglevel", "warning"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=REPO_ROOT, env=_worker_env())


def _wait_worker_ready(settings: Settings, proc: subprocess.Popen, log_path: Path, timeout_s: float = 90) -> None:
    client = redis.Redis.from_url(settings.redis_url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InfraError(f"the worker exited with code {proc.returncode}; see {log_path}")
        if any(w.get("ready") == "1" and w.get("pid") == str(proc.pid) for w in read_all(client)):
            return
        time.sleep(0.5)
    raise InfraError(f"the worker was not ready after {timeout_s:.0f} s; see {log_path}")


def _stop_worker(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_for(watcher: AlertWatcher, conditions: list[tuple[str, str, str | None]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(watcher.has(*c) for c in conditions):
            return True
        time.sleep(0.3)
    return False


def run_demo(settings: Settings, timeout_s: float = 180.0, keep_infra: bool = False) -> int:
    started_at = time.monotonic()
    site = load_site(settings.site_file)
    smoke_file = data_dir() / SMOKE_FILE
    if not smoke_file.exists():
        raise InfraError(f"sample data not found at {smoke_file}; set SCA_DATA_DIR to the shared data folder")
    facade = next(c for c in site.cameras if c.role == "facade")
    smoke = next(s for s in site.sensors if s.type.value == "smoke")
    others = [c for c in site.cameras if c.id != facade.id]

    was_running = {name for name, state in services.status(settings).items() if state.startswith("running")}
    worker = watcher = speakers = None
    counts: Counter[str] = Counter()
    log_path = settings.run_dir / "logs" / "demo-worker.log"
    ok = False
    try:
        say("starting Kafka, Redis and Mosquitto on 127.0.0.1")
        services.up(settings, progress=lambda m: click.echo(f"    {m}", err=True))
        from pipeline.topics_admin import apply_topics

        apply_topics(settings.kafka_bootstrap)
        speakers = _start_speakers(site, settings)
        say(f"starting a worker (log: {log_path})")
        worker = _start_worker(settings, log_path)
        _wait_worker_ready(settings, worker, log_path)
        watcher = AlertWatcher(settings)
        watcher.start()

        for camera in [facade, *others]:
            say(f"replaying {Path(camera.source).name} as camera {camera.id}")
            result = ingest_camera(settings, camera.id, str(site.resolve(camera.source)), speed=0)
            counts["frames"] += result.frames
            counts["frame_bytes"] += result.bytes

        say(f"replaying smoke detector {smoke.id}: rows where the recorded alarm rises ({smoke_file.name})")
        mapping = dict(device=smoke.id, type="smoke", alarm_column="Fire Alarm")
        rising = load_readings(smoke_file, Mapping(**mapping, skip=SMOKE_ALARM_STARTS[0], limit=SMOKE_ALARM_STARTS[1]))
        counts["readings"] += send_readings(settings, rising, speed=10).acked

        say(f"camera {facade.id} goes silent; waiting for the device-offline alert "
            f"(timeout {site.liveness.camera_timeout_s:g} s)")
        _wait_for(watcher, [("device_offline", "open", facade.id), ("smoke_alarm", "open", smoke.id)], timeout_s)

        say(f"camera {facade.id} comes back; smoke detector {smoke.id} clears")
        result = ingest_camera(settings, facade.id, str(site.resolve(facade.source)), speed=0, limit=60)
        counts["frames"] += result.frames
        counts["frame_bytes"] += result.bytes
        clearing = load_readings(smoke_file, Mapping(**mapping, skip=SMOKE_ALARM_CLEARS[0], limit=SMOKE_ALARM_CLEARS[1]))
        counts["readings"] += send_readings(settings, clearing, speed=10).acked

        wanted = [("thrown_object", "open", facade.id), ("device_offline", "open", facade.id),
                  ("device_offline", "resolved", facade.id), ("smoke_alarm", "open", smoke.id),
                  ("smoke_alarm", "resolved", smoke.id)]
        ok = _wait_for(watcher, wanted, timeout_s)
        if watcher.has("thrown_object", "open", facade.id):
            ok = _control_room(settings, site, watcher) and ok
        if not ok:
            missing = [w for w in wanted if not watcher.has(*w)]
            click.secho(f"did not see within {timeout_s:g} s: {missing}; see {log_path}", fg="yellow", err=True)
        time.sleep(1.5)  # let the store agent write the last records before we read the counters
        stats = read_all(redis.Redis.from_url(settings.redis_url))
    except KeyboardInterrupt:
        click.echo("interrupted; stopping what the demo started", err=True)
        stats = []
    finally:
        if watcher is not None:
            watcher.stopping.set()
            watcher.join(timeout=5)
        _stop_worker(worker)
        if speakers is not None:
            _report_speakers(speakers)
            speakers.stop()
        if not keep_infra:
            started_here = [n for n in services.services(settings) if n not in was_running]
            if started_here:
                services.down(settings, started_here)
    _summary(counts, watcher, stats, time.monotonic() - started_at, was_running, keep_infra)
    return 0 if ok else 1


def _start_speakers(site, settings: Settings):
    """The speaker simulator where the demo site's loudspeakers point, keeping the WAVs it is sent."""
    from urllib.parse import urlparse

    from pipeline.broadcast.simulator import serve_in_thread

    ports = {urlparse(s.endpoint).port for s in site.speakers if urlparse(s.endpoint).hostname == "127.0.0.1"}
    if len(ports) != 1:
        return None
    store = settings.run_dir / "speakers"
    try:
        running = serve_in_thread(ports.pop(), store_dir=store)
    except RuntimeError as exc:
        click.secho(f"    speaker simulator not started ({exc}); warnings will be retried and reported", fg="yellow",
                    err=True)
        return None
    say(f"speaker simulator on {running.url} (WAVs kept in {store})")
    return running


def _report_speakers(speakers) -> None:
    for speaker, items in sorted(speakers.app.state.received.items()):
        spoken = ", ".join(f"{r['priority']} {r['duration_s']:.1f} s at volume {r['volume']}" for r in items)
        click.echo(f"  loudspeaker {speaker}: {len(items)} played ({spoken})", err=True)


def _control_room(settings: Settings, site, watcher: AlertWatcher) -> bool:
    """Work the thrown-object alert as the control room would: acknowledge, assign a guard, resolve."""
    from pipeline.demo_control import ControlRoom

    alert = next(a for a in reversed(watcher.seen) if a.type == "thrown_object")
    floor, column = alert.details.get("floor"), alert.details.get("column")
    say(f"control room: an operator works alert {alert.id} (floor {floor}, column {column}) through the API")
    room = ControlRoom(settings, site)
    try:
        lines = room.work(alert.id, [
            ("acknowledge", {"note": f"clip checked: object fell from floor {floor}, column {column}"}),
            ("assign", {"assignee": "guard-wang", "note": "check the ground and the flat"}),
            ("resolve", {"note": "flower pot from a balcony; resident warned, area swept"})])
    except (TimeoutError, OSError) as exc:
        click.secho(f"control room step failed: {exc}", fg="yellow", err=True)
        return False
    finally:
        room.close()
    for line in lines:
        click.echo(f"    {line}", err=True)
    return True


def _summary(counts, watcher, stats, seconds, was_running, keep_infra) -> None:
    by_kind = Counter(f"{a.type}/{a.status.value}" for a in (watcher.seen if watcher else []))
    dead = sum(int(w.get("dead_letters", 0)) for w in stats)
    processed = sum(int(w.get("frames", 0)) for w in stats)
    click.echo("")
    click.secho("demo summary", bold=True)
    click.echo(f"  frames sent      {counts['frames']} ({counts['frame_bytes'] / 1e6:.1f} MB); the worker had taken "
               f"{processed} when the demo ended (the fire-lane camera runs the detector)")
    click.echo(f"  readings sent    {counts['readings']}")
    click.echo("  alert records    " + (", ".join(f"{k}: {v}" for k, v in sorted(by_kind.items())) or "none"))
    click.echo(f"  dead letters     {dead}")
    click.echo(f"  elapsed          {seconds:.1f} s")
    left = "left running (--keep-infra or already running before)" if (keep_infra or was_running) else "stopped"
    click.echo(f"  local services   {left}")
