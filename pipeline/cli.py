"""The `sca` command: infrastructure, topics, worker, ingest, alerts and the demo.

click (already a dependency of Faust) gives subcommands, help and typed options.
Errors the user can fix end with exit code 2 and one plain message, not a traceback.
"""
from __future__ import annotations

import sys
from functools import wraps

import click

from pipeline.settings import load_settings

EXPECTED_ERRORS: tuple[type[BaseException], ...] = ()


def _expected_errors() -> tuple[type[BaseException], ...]:
    from pipeline.config import SiteConfigError
    from pipeline.infra.process import InfraError
    from pipeline.ingest.producer import IngestError
    from pipeline.sensors import RulesConfigError

    return (InfraError, IngestError, SiteConfigError, RulesConfigError)


def friendly(func):
    """Turn the errors a user can fix into `error: ...` and exit code 2."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except _expected_errors() as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except _kafka_unreachable() as exc:
            settings = load_settings()
            click.echo(f"error: Kafka at {settings.kafka_bootstrap} does not answer ({exc.__class__.__name__}); "
                       "start it with `sca infra up`", err=True)
            sys.exit(2)

    return wrapper


def _kafka_unreachable() -> tuple[type[BaseException], ...]:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    return (KafkaConnectionError, KafkaTimeoutError)


def _site(path: str | None):
    from pipeline.config import load_site

    return load_site(path or load_settings().site_file)


@click.group()
@click.version_option(package_name="smart-community-alerts")
def main() -> None:
    """Smart-community safety alerts: Kafka + Faust pipeline for cameras and sensors."""


# ------------------------------------------------------------------------- infra
@main.group()
def infra() -> None:
    """Local Kafka (KRaft, Maven jars), Redis and Mosquitto on 127.0.0.1, data under the run directory."""


@infra.command("up")
@friendly
def infra_up() -> None:
    """Start Kafka, Redis and Mosquitto if they are not running; wait until each answers."""
    from pipeline.infra import services

    settings = load_settings()
    services.up(settings, progress=lambda m: click.echo(m, err=True))
    click.echo(f"run directory: {settings.run_dir}")
    click.echo(f"kafka: {settings.kafka_bootstrap}  redis: {settings.redis_url}  "
               f"mqtt: 127.0.0.1:{settings.mqtt_port}")


@infra.command("jars")
@friendly
def infra_jars() -> None:
    """Resolve the Kafka broker's jars from Maven Central (once per pom version)."""
    from pipeline.infra.kafka_broker import ensure_jars

    click.echo(f"kafka jars: {ensure_jars(progress=lambda m: click.echo(m, err=True))}")


@infra.command("down")
@click.option("--only", type=click.Choice(["kafka", "redis", "mosquitto"]), multiple=True,
              help="stop just this service")
@friendly
def infra_down(only: tuple[str, ...]) -> None:
    """Stop the services; their data stays for the next `up`."""
    from pipeline.infra import services

    for name, state in services.down(load_settings(), list(only)).items():
        click.echo(f"{name}: {state}")


@infra.command("status")
@friendly
def infra_status() -> None:
    """Say what runs; exit 1 when something is stopped."""
    from pipeline.infra import services

    states = services.status(load_settings())
    for name, state in states.items():
        click.echo(f"{name}: {state}")
    sys.exit(0 if all(s.startswith("running") for s in states.values()) else 1)


# ------------------------------------------------------------------------- topics
@main.group()
def topics() -> None:
    """The topic contract in topics/asyncapi.yaml."""


@topics.command("apply")
@friendly
def topics_apply() -> None:
    """Create or update every topic the contract names (idempotent)."""
    from pipeline.topics_admin import apply_topics

    result = apply_topics(load_settings().kafka_bootstrap)
    for label in ("created", "updated", "unchanged"):
        for name in getattr(result, label):
            click.echo(f"{label:9} {name}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@topics.command("list")
def topics_list() -> None:
    """Print every topic: name, key, partitions, configuration."""
    from pipeline.contracts import load_topics

    for spec in load_topics().values():
        config = ", ".join(f"{k}={v}" for k, v in spec.config.items())
        click.echo(f"{spec.name:28} key={spec.key:12} partitions={spec.partitions}  {config}")


@topics.command("schemas")
@click.option("--write", is_flag=True, help="regenerate topics/schemas/*.json from the Python types")
def topics_schemas(write: bool) -> None:
    """Check (or rewrite) that the JSON Schemas match the Python message types."""
    from pipeline.contracts import generated_schema, load_topics, write_schemas

    if write:
        for path in write_schemas():
            click.echo(f"wrote {path}")
        return
    stale = [s.name for s in load_topics().values() if s.schema_file and s.schema() != generated_schema(s)]
    if stale:
        click.echo("out of date (run `sca topics schemas --write`): " + ", ".join(stale), err=True)
        sys.exit(1)
    click.echo("schemas match the Python types")


# ------------------------------------------------------------------------- site
@main.command("check-site")
@click.argument("path", required=False)
@friendly
def check_site(path: str | None) -> None:
    """Validate a site file (default: $SCA_SITE or sites/demo/site.yaml)."""
    site = _site(path)
    click.echo(f"{site.site.id}: {len(site.cameras)} cameras, {len(site.zones)} zones, "
               f"{len(site.speakers)} speakers, {len(site.sensors)} sensors — valid")


# ------------------------------------------------------------------------- worker
@main.group(invoke_without_command=True)
@click.option("--site", "site_path", help="site file (default: $SCA_SITE)")
@click.option("--loglevel", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
@friendly
def worker(ctx: click.Context, site_path: str | None, loglevel: str) -> None:
    """Run the Faust worker (agents for frames, readings, alerts)."""
    if ctx.invoked_subcommand is not None:
        return
    import faust

    from pipeline.app import create_app, internal_topics
    from pipeline.contracts import load_topics
    from pipeline.topics_admin import apply_topics

    from pipeline.sensors import load_rules

    settings = load_settings()
    site = _site(site_path)
    rules = load_rules(settings.rules_file(site.base_dir))
    # agents only subscribe to topics that exist at start
    apply_topics(settings.kafka_bootstrap, {**load_topics(), **internal_topics(settings.app_id)})
    app = create_app(settings, site, rules)
    if settings.recovery_timeout_s:
        app.sca_watchdog.start()  # a rebalance that never completes ends the worker (pipeline/recovery_watchdog.py)
    faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False).execute_from_commandline()


@worker.command("status")
@friendly
def worker_status() -> None:
    """Counters of every running worker (from Redis)."""
    import redis

    from pipeline.stats import read_all

    workers = read_all(redis.Redis.from_url(load_settings().redis_url))
    if not workers:
        click.echo("no worker is running")
        sys.exit(1)
    for stats in workers:
        click.echo(" ".join(f"{k}={v}" for k, v in sorted(stats.items())))


# ------------------------------------------------------------------------- gateway
@main.command("gateway")
@click.option("--site", "site_path", help="site file (default: $SCA_SITE)")
@click.option("--port", type=int, help="HTTP port on 127.0.0.1 (default: $SCA_GATEWAY_PORT or 8088)")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP bind address")
@click.option("--mqtt/--no-mqtt", default=True, show_default=True, help="also bridge MQTT sca/readings/<device>")
@friendly
def gateway(site_path: str | None, port: int | None, host: str, mqtt: bool) -> None:
    """Sensor gateway: HTTP POST /v1/readings and MQTT, validated, onto the readings topic."""
    import uvicorn

    from pipeline.gateway.http_api import create_http_app
    from pipeline.gateway.mqtt_bridge import MqttBridge
    from pipeline.gateway.sink import KafkaSink

    settings = load_settings()
    site = _site(site_path)
    sink = KafkaSink(settings)
    bridge = MqttBridge(site, sink, settings.mqtt_host, settings.mqtt_port) if mqtt else None
    if bridge:
        bridge.start()
    try:
        uvicorn.run(create_http_app(site, sink.send_readings), host=host, port=port or settings.gateway_port,
                    log_level="info")
    finally:
        if bridge:
            bridge.stop()
        sink.close()


# ------------------------------------------------------------------------- control room
@main.command("control-room")
@click.option("--site", "site_path", help="site file (default: $SCA_SITE)")
@click.option("--port", type=int, help="HTTP port (default: $SCA_API_PORT or 8080)")
@click.option("--host", default="127.0.0.1", show_default=True, help="bind address")
@friendly
def control_room(site_path: str | None, port: int | None, host: str) -> None:
    """The control-room API (alerts, actions, silences, users, audit, live events) and its web page."""
    import uvicorn

    from pipeline.control.api import create_control_app
    from pipeline.control.publisher import KafkaPublisher
    from pipeline.control.users import UserBook

    settings = load_settings()
    users = UserBook(settings.users_file)
    if not users.users():
        click.echo(f"no users yet in {settings.users_file}: create one with `sca users add NAME --role admin`",
                   err=True)
    publisher = KafkaPublisher(settings)
    try:
        app = create_control_app(_site(site_path), users, publisher, settings.redis_url, settings.evidence_dir)
        uvicorn.run(app, host=host, port=port or settings.api_port, log_level="info")
    finally:
        publisher.close()


@main.group()
def users() -> None:
    """Control-room users (tokens are shown once and stored only as hashes)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "admin"]), default="operator", show_default=True)
@friendly
def users_add(name: str, role: str) -> None:
    """Create NAME (or give it a new token) and print the token."""
    from pipeline.control.users import UserBook

    settings = load_settings()
    try:
        token = UserBook(settings.users_file).add(name, role)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"{name} ({role}) in {settings.users_file}; token (shown once):", err=True)
    click.echo(token)


@users.command("list")
@friendly
def users_list() -> None:
    from pipeline.control.users import UserBook

    for user in UserBook(load_settings().users_file).users():
        click.echo(f"{user.name}\t{user.role}")


# ------------------------------------------------------------------------- ingest
@main.group()
def ingest() -> None:
    """Publish camera frames or sensor readings to Kafka."""


@ingest.command("camera")
@click.option("--camera", required=True, help="camera id (as in the site file)")
@click.option("--source", help="video file or rtsp:// URL (default: the camera's source in the site file)")
@click.option("--site", "site_path", help="site file, to look up the source")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="1 = real time, 4 = four times faster, 0 = as fast as possible")
@click.option("--fps", type=click.FloatRange(min=0.1), help="override the file's frame rate")
@click.option("--limit", type=click.IntRange(min=1), help="stop after this many frames")
@click.option("--start-seq", default=0, type=click.IntRange(min=0), help="sequence number of the first frame")
@click.option("--quality", default=85, type=click.IntRange(35, 100), show_default=True, help="JPEG quality")
@click.option("--loop", is_flag=True, help="replay the file forever")
@click.option("--quiet", is_flag=True, help="no progress bar")
@friendly
def ingest_camera(camera, source, site_path, speed, fps, limit, start_seq, quality, loop, quiet) -> None:
    """Publish JPEG frames keyed by camera, with capture time and sequence number in headers."""
    from pipeline.ingest.camera import ingest_camera as run
    from pipeline.ingest.producer import IngestError

    if source is None:
        site = _site(site_path)
        config = site.camera(camera)
        if config is None:
            raise IngestError(f"camera {camera!r} is not in {site.base_dir}; pass --source")
        source = str(site.resolve(config.source)) if "://" not in config.source else config.source
    result = run(load_settings(), camera, source, speed=speed, fps=fps, limit=limit, start_seq=start_seq,
                 quality=quality, loop=loop, show_progress=not quiet)
    click.echo(f"camera {camera}: {result.frames} frames, {result.bytes / 1e6:.1f} MB, {result.acked} acknowledged, "
               f"{result.frames / max(result.seconds, 1e-9):.1f} frames/s")


@ingest.command("sensors")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--device", help="device id for rows without a `device` column")
@click.option("--type", "sensor_type", help="sensor type for rows without a `type` column")
@click.option("--time-column", help="column with Unix seconds or ISO 8601 times (default: `ts`, else row spacing)")
@click.option("--alarm-column", help="column holding the device's alarm flag (0/1)")
@click.option("--interval-s", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="row spacing when the file has no time column")
@click.option("--skip", default=0, type=click.IntRange(min=0), help="skip this many data rows")
@click.option("--limit", type=click.IntRange(min=1), help="send at most this many readings")
@click.option("--speed", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="0 = as fast as possible, 1 = the readings' own pace")
@click.option("--quiet", is_flag=True, help="no progress bar")
@friendly
def ingest_sensors(path, device, sensor_type, time_column, alarm_column, interval_s, skip, limit, speed, quiet) -> None:
    """Replay readings from CSV or JSONL (validated whole before anything is sent)."""
    from pipeline.ingest.sensors import Mapping, load_readings, send_readings

    mapping = Mapping(device=device, type=sensor_type, time_column=time_column, alarm_column=alarm_column,
                      interval_s=interval_s, skip=skip, limit=limit)
    readings = load_readings(path, mapping)
    delivery = send_readings(load_settings(), readings, speed=speed, show_progress=not quiet)
    click.echo(f"{len(readings)} readings sent, {delivery.acked} acknowledged")


# ------------------------------------------------------------------------- alerts
@main.group("alerts", invoke_without_command=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--active", is_flag=True, help="only alerts not yet resolved")
@click.pass_context
@friendly
def alerts(ctx: click.Context, limit: int, active: bool) -> None:
    """Recent alerts from Redis, newest first (`sca alerts rebuild` restores Redis from Kafka)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.alerts.store import AlertReader
    from pipeline.present import format_alert

    reader = AlertReader(load_settings().redis_url)
    active_ids = reader.active_ids() if active else None
    for alert in reader.recent(limit if not active else 10_000):
        if active_ids is None or alert.id in active_ids:
            click.echo(format_alert(alert))


@alerts.command("rebuild")
@friendly
def alerts_rebuild() -> None:
    """Rebuild the alert state in Redis from Kafka: alerts, their history, silences (idempotent)."""
    from tqdm import tqdm

    from pipeline.alerts.rebuild import rebuild_alerts

    bar = tqdm(unit="record", desc="alerts", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    result = rebuild_alerts(load_settings(), progress)
    bar.close()
    click.echo(f"{result.records} records: {result.created} created, {result.updated} updated, "
               f"{result.unchanged} unchanged, {result.invalid} invalid; {result.history} history events added, "
               f"{result.silences} silences")


# ------------------------------------------------------------------------- analyze
@main.group()
def analyze() -> None:
    """Offline runs of the same cores the agents use, on files; results as JSON lines."""


def _register_analyzers() -> None:
    from pipeline.analyze.firelane import fire_lane_command
    from pipeline.analyze.sensors import sensors_command
    from pipeline.analyze.throws import throws_command

    analyze.add_command(sensors_command, "sensors")
    analyze.add_command(fire_lane_command, "fire-lane")
    analyze.add_command(throws_command, "throws")


_register_analyzers()


# ------------------------------------------------------------------------- demo
@main.command("demo")
@click.option("--timeout", default=180.0, show_default=True, help="give up waiting for alerts after this many seconds")
@click.option("--keep-infra", is_flag=True, help="leave Kafka and Redis running afterwards")
@friendly
def demo(timeout: float, keep_infra: bool) -> None:
    """End to end on local Kafka and Redis: real clips and sensor data in, alerts out."""
    from pipeline.demo import run_demo

    sys.exit(run_demo(load_settings(), timeout_s=timeout, keep_infra=keep_infra))


if __name__ == "__main__":
    main()
