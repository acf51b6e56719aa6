"""What the agents do with a message: validate, update state, run the detectors, publish.

Each handler takes the message parts and the state it needs; the logic worth testing lives
in pure functions (pipeline.frames, pipeline.readings, pipeline.detectors.*, pipeline.sensors,
the vision cores). This class is the thin layer that turns their results into Kafka messages
and dead letters, and keeps the tables the agents hand it up to date.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import orjson

from pipeline import sensors
from pipeline.alerts.manager import fingerprint
from pipeline.alerts.store import encode as encode_alert
from pipeline.config import Site
from pipeline.deadletters import BadMessage, dead_letter
from pipeline.detectors import alarm_flag, liveness
from pipeline.devices import DeviceBoard
from pipeline.frames import intake_frame
from pipeline.messages import Alert, BroadcastCommand, SensorType, VisionEvent
from pipeline.processing import Processors
from pipeline.readings import parse_reading
from pipeline.sensors.confirm import PARTIAL_TYPES
from pipeline.stats import WorkerStats

log = logging.getLogger(__name__)
PERSIST_EVERY_S = 1.0

Send = Callable[[str, bytes, bytes], Awaitable[None]]  # (channel, key, value)


class Runtime:
    def __init__(self, site: Site, send: Send, stats: WorkerStats, is_active: Callable[[str], Awaitable[bool]],
                 rules: sensors.RulesConfig | None = None, processors: dict | None = None):
        self.site = site
        self.rules = rules or sensors.RulesConfig()
        self.send = send
        self.stats = stats
        self.alert_is_active = is_active
        self.processors = Processors(site, processors)
        self.persisted_at: dict[str, float] = {}
        self.started = time.time()
        self.raised_offline: set[str] = set()
        self.devices = DeviceBoard()

    # ---------------------------------------------------------------- publishing
    async def publish_alert(self, alert: Alert) -> None:
        """Hand a detector's alert to the alert manager (keyed by fingerprint: one owner per incident)."""
        await self.send("alert_signals", fingerprint(alert).encode(), encode_alert(alert))
        self.stats.counts["alert_signals"] += 1
        log.info("alert signal %s %s %s %s", alert.status.value, alert.type, alert.device, alert.id)

    async def publish(self, outputs: Iterable[VisionEvent | Alert | BroadcastCommand]) -> None:
        for item in outputs:
            if isinstance(item, Alert):
                await self.publish_alert(item)
            elif isinstance(item, BroadcastCommand):
                await self.send("broadcast_commands", item.speaker.encode(), orjson.dumps(item.model_dump(mode="json")))
            else:
                await self.send("vision_events", item.camera.encode(), orjson.dumps(item.model_dump(mode="json")))

    async def dead_letter(self, exc: BadMessage, topic: str, partition: int, offset: int, key, value, headers) -> None:
        letter = dead_letter(exc, topic=topic, partition=partition, offset=offset, key=key, value=value,
                             headers=_header_items(headers), now=time.time(), worker=self.stats.worker)
        await self.send("dead_letters", topic.encode(), orjson.dumps(letter.model_dump(mode="json")))
        self.stats.counts["dead_letters"] += 1
        self.stats.counts[f"dead_letters_{exc.reason}"] += 1
        log.warning("dead letter from %s[%s]@%s: %s", topic, partition, offset, exc)

    # ---------------------------------------------------------------- liveness
    async def heartbeat(self, table, kind: liveness.DeviceKind, device: str, now: float) -> None:
        """Record that `device` is alive; resolve its offline alert if it had been silent too long."""
        timeout = self.site.offline_timeout_s(kind, device)
        previous = table.get(device)
        if liveness.came_back(previous, now, timeout, self.started):
            # Always: the manager ignores the end of an incident it has no open alert for, and the episode may
            # have been raised by a worker that has gone (or grouped under another id).
            resolved = liveness.back_online(self.site, kind, device, previous, timeout, self.started, now)
            await self.publish_alert(resolved)
            self.raised_offline.discard(resolved.id)
        if liveness.needs_write(previous, now, timeout):
            table[device] = now

    async def check_liveness(self, kind: liveness.DeviceKind, heartbeats: Iterable[tuple[str, float | None]],
                             now: float) -> None:
        def timeout(device: str) -> float:
            return self.site.offline_timeout_s(kind, device)

        for device, last_seen in liveness.stale(heartbeats, now, timeout, self.started):
            alert = liveness.offline_alert(self.site, kind, device, last_seen, timeout(device), self.started)
            if alert.id not in self.raised_offline:
                self.raised_offline.add(alert.id)
                await self.publish_alert(alert)

    # ---------------------------------------------------------------- frames
    async def on_frame(self, message, value: bytes, heartbeats, core_states=None) -> None:
        try:
            frame = intake_frame(self.site, message.key, message.headers, value, self.processors.decode_mode)
        except BadMessage as exc:
            await self.dead_letter(exc, message.topic, message.partition, message.offset, message.key, value,
                                   message.headers)
            return
        self.stats.counts["frames"] += 1
        self.stats.counts["frame_bytes"] += frame.nbytes
        self.devices.frame(frame.camera.id, frame.headers.ts, frame.headers.seq, time.time())
        await self.heartbeat(heartbeats, "camera", frame.camera.id, time.time())
        processor = self.processors.for_camera(frame.camera)
        if processor is None:
            return
        if core_states is not None and frame.camera.id not in self.persisted_at:
            self._restore(processor, core_states)
        # Inference releases the GIL: run it off the event loop so readings and alerts keep flowing.
        outputs = await asyncio.get_running_loop().run_in_executor(None, processor.process, frame)
        if core_states is not None:
            self._persist(frame.camera.id, processor, core_states, force=bool(outputs))
        await self.publish(outputs)

    def _restore(self, processor, core_states) -> None:
        """A camera's first frame on this worker: continue its timers from the changelog-backed table."""
        states = getattr(processor, "states", None)
        if states is not None:
            processor.restore({key: core_states.get(key) for key in states})

    def _persist(self, camera: str, processor, core_states, force: bool) -> None:
        """Keep the core's state (per zone) in the table: on every transition, else at most once a second."""
        states = getattr(processor, "states", None)
        now = time.monotonic()
        if states is None or (not force and now - self.persisted_at.get(camera, 0.0) < PERSIST_EVERY_S):
            self.persisted_at.setdefault(camera, now)
            return
        for key, state in states.items():
            core_states[key] = state
        self.persisted_at[camera] = now

    # ---------------------------------------------------------------- readings
    async def on_reading(self, message, value: bytes, heartbeats, rule_states, episodes) -> None:
        """Validate, record liveness, run the sensor rules (and the plain alarm flag for generic sensors)."""
        try:
            reading, sensor = parse_reading(self.site, value)
        except BadMessage as exc:
            await self.dead_letter(exc, message.topic, message.partition, message.offset, message.key, value,
                                   message.headers)
            return
        self.stats.counts["readings"] += 1
        self.devices.reading(sensor.id, reading.ts, reading.values, reading.battery, time.time())
        decision = sensors.evaluate(rule_states.get(sensor.id), reading, sensor, self.site, self.rules)
        if decision.changed:
            rule_states[sensor.id] = decision.state  # written before any await: no other actor interleaves
        alerts = list(decision.alerts)
        if sensor.type == SensorType.generic:
            flag = alarm_flag.on_reading(self.site, sensor, reading, episodes.get(sensor.id))
            if flag.changed:
                episodes[sensor.id] = flag.episode
            alerts += flag.alerts
        await self.heartbeat(heartbeats, "sensor", sensor.id, time.time())
        await self.publish_sensor_alerts(alerts)

    async def on_tick(self, device: str, now: float, rule_states) -> None:
        """Advance the time-driven rules of one device (held conditions, no-activity) without a reading."""
        sensor = self.site.sensor(device)
        if sensor is None:
            return
        decision = sensors.tick(rule_states.get(device), sensor, self.site, self.rules, now)
        if decision.changed:
            rule_states[device] = decision.state
        await self.publish_sensor_alerts(decision.alerts)

    async def publish_sensor_alerts(self, alerts: list[Alert]) -> None:
        """Publish, then hand smoke and heat alarms to the location-keyed fire confirmation stage."""
        await self.publish(alerts)
        for alert in alerts:
            if alert.type in PARTIAL_TYPES:
                await self.send("fire_partials", sensors.confirm_key(alert).encode(), encode_alert(alert))

    async def on_partial_alarm(self, value: bytes, fire_states, now: float) -> None:
        alert = Alert.model_validate_json(value)
        key = sensors.confirm_key(alert)
        decision = sensors.confirm(fire_states.get(key), alert, now, self.site, self.rules)
        if decision.changed:
            fire_states[key] = decision.state
        await self.publish([*decision.alerts, *decision.broadcasts])


class Loudspeakers:
    """The loudspeaker service: policy (pure, state per speaker in a table), speech, delivery, acks.

    Speech and HTTP delivery block (espeak-ng, retries with backoff): they run in a thread so the
    worker's other agents keep flowing. The speaker's state is written before anything is spoken,
    so a command redelivered after a crash is recognised by its id and never spoken twice.
    """

    def __init__(self, runtime: "Runtime", cfg=None):
        from pipeline.broadcast.tts import TTS

        self.runtime = runtime
        self.cfg = cfg or runtime.site.broadcast
        self.tts = TTS(speed=self.cfg.speech_speed)

    async def on_command(self, message, value: bytes, speaker_states) -> None:
        from pipeline.broadcast.policy import Play, on_command

        runtime = self.runtime
        try:
            command = BroadcastCommand.model_validate_json(value)
        except ValueError as exc:
            await runtime.dead_letter(BadMessage("schema_violation", str(exc)[:2000]), message.topic,
                                      message.partition, message.offset, message.key, value, message.headers)
            return
        speaker = runtime.site.speaker(command.speaker)
        decision = on_command(speaker_states.get(command.speaker), command, time.time(), speaker, runtime.site,
                              self.cfg)
        speaker_states[command.speaker] = decision.state
        await self._acks(decision.acks)
        for action in decision.actions:
            if isinstance(action, Play) and speaker is not None:
                await self._play(action, speaker, speaker_states)

    async def _play(self, play, speaker, speaker_states) -> None:
        from pipeline.broadcast.delivery import deliver, headers_for
        from pipeline.broadcast.policy import on_delivery
        from pipeline.broadcast.tts import TTSError, render_play

        try:
            wav = await asyncio.to_thread(render_play, play, self.tts)
            result = await asyncio.to_thread(deliver, speaker.endpoint, wav, headers_for(play), self.cfg.max_attempts,
                                             self.cfg.backoff_s, max_backoff_s=self.cfg.max_backoff_s)
            ok, detail = result.ok, result.error or ""
        except TTSError as exc:
            ok, detail = False, str(exc)
        decision = on_delivery(speaker_states.get(play.speaker), play, ok, time.time(), speaker, self.runtime.site,
                               self.cfg, detail=detail)
        speaker_states[play.speaker] = decision.state
        self.runtime.stats.counts["broadcasts_delivered" if ok else "broadcasts_failed"] += 1
        await self._acks(decision.acks)
        await self.runtime.publish(decision.alerts)

    async def _acks(self, acks) -> None:
        for ack in acks:
            await self.runtime.send("broadcast_acks", ack.speaker.encode(), orjson.dumps(ack.model_dump(mode="json")))


def _header_items(headers) -> list[tuple[str, bytes]]:
    if not headers:
        return []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items]
