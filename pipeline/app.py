"""The Faust app: topics from the contract, changelog-backed tables, and thin agents.

Agents only move bytes between Kafka and `pipeline.runtime.Runtime`; everything they
decide is in pure functions that tests drive without a broker.
"""
from __future__ import annotations

import logging
import time

import faust
import orjson
from kafka.partitioner.default import murmur2

from pipeline.alerts.dispatch import WebhookDispatcher
from pipeline.alerts.service import AlertManagerService
from pipeline.alerts.silences import SilenceCache
from pipeline.alerts.store import AsyncAlertStore
from pipeline.config import Site
from pipeline.contracts import TopicSpec, load_topics
from pipeline import faust_fixes
from pipeline.deadletters import BadMessage
from pipeline.devices import publish as publish_devices
from pipeline.messages import Alert, AlertUpdate
from pipeline.offset_gaps import GapFiller, KafkaRangeReader
from pipeline.recovery_watchdog import RecoveryWatchdog
from pipeline.runtime import Loudspeakers, Runtime
from pipeline.sensors import RulesConfig
from pipeline.vision.builtin import builtin_processors
from pipeline.settings import Settings
from pipeline.stats import WorkerStats, worker_id

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
TICK_INTERVAL_S = 2.0


def partition_of(key: str, partitions: int) -> int:
    """The partition the Java-compatible default partitioner (kafka-python, aiokafka) picks for `key`."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def internal_topics(app_id: str) -> dict[str, TopicSpec]:
    """The worker's own topics, co-partitioned with the readings: rule ticks keyed by device (so the worker
    that owns a device's readings advances its timers) and partial fire alarms keyed by location.

    `sca worker` creates them before Faust starts: a topic Faust creates itself at start-up can miss the
    consumer's first metadata and stay unassigned for minutes.
    """
    readings = load_topics()["readings"]
    config = {"cleanup.policy": "delete", "retention.ms": str(24 * 3600 * 1000)}
    return {channel: TopicSpec(channel, f"{app_id}-{suffix}", key, readings.partitions, config,
                               "pipeline.messages:Alert", None)
            for channel, suffix, key in (("sensor_ticks", "sensor-ticks", "device id"),
                                         ("fire_partials", "fire-partials", "location"))}


def create_app(settings: Settings, site: Site, rules: RulesConfig | None = None) -> faust.App:
    specs = {**load_topics(), **internal_topics(settings.app_id)}
    faust_fixes.install()  # a partition taken over before its first commit must not skip records
    datadir = settings.run_dir / "faust" / f"{settings.app_id}-data"  # not the current directory
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        processing_guarantee="at_least_once",
        web_enabled=False,
        table_standby_replicas=0,
        topic_replication_factor=1,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        producer_acks=-1,
        broker_commit_interval=1.0,
        # A worker that dies is noticed in 10 s (Faust's default is 60) and its partitions move to the others.
        broker_session_timeout=10.0,
        # Events buffered per agent: Faust's 4096 frames of ~150 kB is ~600 MB for a worker that falls behind.
        stream_buffer_maxsize=512,
        broker_heartbeat_interval=3.0,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    topics = {ch: app.topic(spec.name, partitions=spec.partitions, **raw) for ch, spec in specs.items()}

    readings_partitions = specs["readings"].partitions
    ticks = topics["sensor_ticks"]

    camera_heartbeats = app.Table("camera-heartbeats", default=None, partitions=specs["frames"].partitions)
    # Vision cores' persistent state (fire-lane dwell timers), keyed by zone; zones belong to one camera,
    # so writes from the camera's frame partition land on the partition that recovers them.
    core_states = app.Table("vision-core-states", default=None, partitions=specs["frames"].partitions)
    sensor_heartbeats = app.Table("sensor-heartbeats", default=None, partitions=readings_partitions)
    alarm_episodes = app.Table("alarm-episodes", default=None, partitions=readings_partitions)
    rule_states = app.Table("sensor-rules", default=None, partitions=readings_partitions)
    fire_states = app.Table("fire-confirmation", default=None, partitions=readings_partitions)
    speaker_states = app.Table("speaker-states", default=None, partitions=specs["broadcast_commands"].partitions)
    # The alert manager's memory per incident, keyed by fingerprint (signals and actions are co-partitioned).
    manager_states = app.Table("alert-manager", default=None, partitions=specs["alert_signals"].partitions)

    stats = WorkerStats(worker_id())
    store = AsyncAlertStore(settings.redis_url)

    async def send(channel: str, key: bytes, value: bytes) -> None:
        await topics[channel].send(key=key, value=value)

    runtime = Runtime(site, send, stats, store.is_active, rules, builtin_processors(settings.evidence_dir))
    loudspeakers = Loudspeakers(runtime)
    alert_manager = AlertManagerService(send, SilenceCache(store.client), site.alerting, stats.counts)
    webhooks = WebhookDispatcher(site.subscribers, site.site.id, runtime.publish_alert,
                                 lambda exc: runtime.dead_letter(exc, specs["alerts"].name, 0, 0, None, b"", None),
                                 stats.counts)
    app.sca_runtime = runtime  # for tests and debugging

    async def dead_letter_event(event, error: str) -> None:
        await dead_letter_message(event.message, event.value, error)

    async def dead_letter_message(msg, value: bytes, error: str) -> None:
        await runtime.dead_letter(BadMessage("schema_violation", error), msg.topic, msg.partition, msg.offset,
                                  msg.key, value, msg.headers)

    # Order-sensitive agents (rules, fire confirmation, alert manager) also process the records Faust failed
    # to deliver before this one (see pipeline.offset_gaps); on dense topics only, never the compacted ones.
    gaps = GapFiller(KafkaRangeReader(settings.kafka_bootstrap), lambda tp: app.consumer._committed_offset.get(tp))

    async def in_order(stream):
        """(message, value) for each event, after any records missing on its partition before it."""
        async for event in stream.events():
            msg = event.message
            for record in await gaps.before(msg.tp, msg.offset):
                stats.counts["records_read_back"] += 1
                yield record, record.value
            yield msg, event.value

    @app.on_partitions_assigned.connect
    async def forget_moved_partitions(sender, assigned, **kwargs):
        gaps.on_assigned(assigned)

    @app.agent(topics["frames"])
    async def frames_agent(stream):
        async for event in stream.events():
            await runtime.on_frame(event.message, event.value, camera_heartbeats, core_states)

    @app.agent(topics["readings"])
    async def readings_agent(stream):
        async for message, value in in_order(stream):
            await runtime.on_reading(message, value, sensor_heartbeats, rule_states, alarm_episodes)

    @app.agent(ticks)
    async def ticks_agent(stream):
        async for event in stream.events():
            tick = orjson.loads(event.value)
            await runtime.on_tick(tick["device"], tick["now"], rule_states)

    @app.agent(topics["fire_partials"])
    async def fire_confirmation_agent(stream):
        async for _message, value in in_order(stream):
            await runtime.on_partial_alarm(value, fire_states, time.time())

    @app.agent(topics["broadcast_commands"])
    async def loudspeaker_agent(stream):
        async for event in stream.events():
            await loudspeakers.on_command(event.message, event.value, speaker_states)

    @app.agent(topics["alert_signals"])
    async def alert_signals_agent(stream):
        async for message, value in in_order(stream):
            error = await alert_manager.on_signal(value, manager_states)
            if error:
                await dead_letter_message(message, value, error)

    @app.agent(topics["alert_actions"])
    async def alert_actions_agent(stream):
        async for message, value in in_order(stream):
            error = await alert_manager.on_action(value, manager_states)
            if error:
                await dead_letter_message(message, value, error)

    async def parsed(event, model):
        """The message as `model`, or None after dead-lettering it."""
        try:
            return model.model_validate_json(event.value)
        except ValueError as exc:
            await dead_letter_event(event, str(exc)[:2000])
            return None

    @app.agent(topics["alerts"])
    async def alert_store_agent(stream):
        async for event in stream.events():
            if (alert := await parsed(event, Alert)) is not None:
                stats.counts[f"store_{await store.upsert(alert)}"] += 1

    @app.agent(topics["alerts"])
    async def webhook_agent(stream):
        async for event in stream.events():
            await webhooks.on_alert(event.value)

    @app.agent(topics["alert_updates"])
    async def alert_history_agent(stream):
        async for event in stream.events():
            if (update := await parsed(event, AlertUpdate)) is not None:
                await store.add_history(update)

    def owned(channel: str, devices) -> list:
        """Only partitions this worker actively owns: with several workers each device is checked once."""
        name, count = specs[channel].name, specs[channel].partitions
        mine = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == name}
        return [(d, seen) for d, seen in devices if partition_of(d, count) in mine]

    @app.timer(site.liveness.check_interval_s)
    async def liveness_check():
        if not stats.ready:
            return
        now = time.time()
        cameras = dict.fromkeys((c.id for c in site.cameras), None) | dict(camera_heartbeats.items())
        sensors = dict.fromkeys((s.id for s in site.sensors), None) | dict(sensor_heartbeats.items())
        await runtime.check_liveness("camera", owned("frames", cameras.items()), now)
        await runtime.check_liveness("sensor", owned("readings", sensors.items()), now)

    @app.timer(TICK_INTERVAL_S)
    async def rule_ticks():
        """Time-driven rules need a clock without readings: one tick per device with rule state."""
        if not stats.ready:
            return
        now = time.time()
        for device, _state in owned("readings", [(d, s) for d, s in rule_states.items() if s]):
            await ticks.send(key=device.encode(), value=orjson.dumps({"device": device, "now": now}))

    @app.timer(site.alerting.tick_interval_s)
    async def alert_timers():
        """Escalations, reminders and silence ends: a tick through the actions topic, so the table is
        written inside the agent that owns the fingerprint's partition."""
        if not stats.ready:
            return
        for tick in alert_manager.due_ticks(owned("alert_signals", list(manager_states.items())), time.time()):
            await topics["alert_actions"].send(key=tick.fingerprint.encode(), value=tick.model_dump_json().encode())

    @app.timer(1.0)
    async def publish_stats():
        try:
            await stats.publish(store.client)
            await publish_devices(runtime.devices, store.client)
        except Exception as exc:  # Redis briefly away must not stop the worker
            log.warning("could not publish stats: %s", exc)

    watchdog = RecoveryWatchdog(settings.recovery_timeout_s)  # `sca worker` starts its thread
    app.sca_watchdog = watchdog

    @app.on_partitions_revoked.connect
    async def rebalance_started(sender, revoked, **kwargs):
        watchdog.rebalance_started()

    @app.on_rebalance_complete.connect
    async def on_ready(sender, **kwargs):
        watchdog.rebalance_completed()
        stats.ready = True
        log.info("worker %s ready: partitions assigned and tables recovered", stats.worker)

    return app
