"""Per-speaker broadcast policy: what a loudspeaker does with one command. Pure functions of JSON state.

The state of one speaker (the value of a changelog-backed table keyed by speaker id):

    {"v": 1,
     "recent": [<command id>, ...],          # ids already handled, oldest first, at most cfg.recent_ids
     "playing": {"command_id", "priority", "until"} | None,   # what the speaker is busy with, estimated
     "spoken": {<text key>: <time last played>},              # for the per-text cooldown, pruned
     "link": {"failures", "first_failure_at", "alert"}}       # see delivery.track_delivery

`on_command` decides, in this order:

1. **Idempotency.** A command id seen before (one of the last `recent_ids`) is never spoken again:
   ack "duplicate". Every handled command, played or suppressed, is remembered.
2. **Staleness.** A non-evacuation command older than `max_age_s` (issued_at to now; a backlog after
   an outage) is suppressed: telling people about a car that left ten minutes ago is noise.
3. **Priority.** evacuation > fire_lane > thrown_object > information. While the speaker is busy with a
   command (its estimated play time has not run out), a *higher* priority command interrupts it
   (a `Preempt` action, then a `Play` with `preempt=True`); an *equal* one is queued after it (a `Play`);
   a *lower* one is suppressed (its producer repeats it if it still matters: fire-lane rebroadcasts).
4. **Cooldown.** The same text on the same speaker within `cooldown_s` is suppressed, unless evacuation.
5. **Quiet hours** (`quiet_start_h`..`quiet_end_h` in the site's timezone, wrapping midnight):
   - evacuation: always played, always at `evacuation_volume` (full), day or night;
   - fire_lane: played at `quiet_volume` (a blocked fire lane is a safety matter at night too);
   - thrown_object: played at `quiet_volume` (objects thrown from height injure at any hour; the warning
     is aimed at the facade, and residents awake enough to throw something are awake enough to hear it);
   - information: suppressed (no one should be woken for a notice).
   Both choices are settings: `quiet_suppress` lists the priorities silenced at night.

Acks: the policy acks "duplicate" and "suppressed" itself; a `Play` is acked after delivery by
`on_delivery` ("delivered" or "failed"), which also frees the speaker on failure and tracks
consecutive failures for the `speaker_unreachable` alert.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


from pipeline.broadcast.settings import BroadcastConfig
from pipeline.config import Site, SpeakerConfig
from pipeline.messages import Alert, BroadcastAck, BroadcastCommand, BroadcastPriority

STATE_VERSION = 1

RANK = {
    BroadcastPriority.evacuation.value: 3,
    BroadcastPriority.fire_lane.value: 2,
    BroadcastPriority.thrown_object.value: 1,
    BroadcastPriority.information.value: 0,
}

VOICE_ZH = "cmn"
VOICE_EN = "en"


@dataclass(frozen=True)
class Play:
    """Synthesize `utterances` ((text, voice) in order), `repeat` times, and POST it to the speaker."""

    command_id: str
    speaker: str
    priority: str
    volume: int
    repeat: int
    utterances: tuple[tuple[str, str], ...]
    preempt: bool = False  # cut whatever the speaker is playing (header X-Preempt: 1)
    alert_id: str | None = None

    @property
    def text(self) -> str:
        return self.utterances[0][0]

    @property
    def voice(self) -> str:
        return self.utterances[0][1]


@dataclass(frozen=True)
class Preempt:
    """The speaker's current command is interrupted by a higher-priority one (informational: the
    interruption itself travels as `Play.preempt`)."""

    speaker: str
    interrupted: str  # command id cut short
    interrupted_priority: str
    by: str  # command id of the interrupting command


@dataclass(frozen=True)
class Decision:
    state: dict
    actions: list = field(default_factory=list)  # Preempt / Play, in order
    acks: list[BroadcastAck] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def new_state() -> dict:
    return {"v": STATE_VERSION, "recent": [], "playing": None, "spoken": {}, "link": None}


def text_key(command: BroadcastCommand) -> str:
    return hashlib.sha1(f"{command.text_zh}\x00{command.text_en}".encode()).hexdigest()[:16]


def estimate_duration_s(command: BroadcastCommand, speed_wpm: int = 150) -> float:
    """A rough play time, to know how long the speaker is busy: Mandarin ~ one syllable (character)
    per word-slot, English by words, half a second of gap between parts."""
    rate = speed_wpm / 60.0
    zh = len([c for c in command.text_zh if not c.isspace()]) / rate
    en = len(command.text_en.split()) / rate if command.text_en else 0.0
    return command.repeat * (zh + en + 0.5 * (1 + bool(command.text_en)))


@lru_cache(maxsize=32)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def in_quiet_hours(now: float, timezone: str, cfg: BroadcastConfig) -> bool:
    start, end = cfg.quiet_start_h, cfg.quiet_end_h
    if start == end:
        return False
    hour = datetime.fromtimestamp(now, _zone(timezone)).hour
    return start <= hour < end if start < end else (hour >= start or hour < end)


def _ack(command: BroadcastCommand, status: str, now: float, detail: str = "") -> BroadcastAck:
    return BroadcastAck(command_id=command.id, speaker=command.speaker, status=status, at=now, detail=detail)


def _remember(state: dict, command_id: str, cfg: BroadcastConfig) -> list[str]:
    recent = [*state["recent"], command_id]
    return recent[-cfg.recent_ids:]


def on_command(state: dict | None, command: BroadcastCommand, now: float, speaker_cfg: SpeakerConfig | None,
               site: Site, cfg: BroadcastConfig | None = None) -> Decision:
    """Decide what speaker `command.speaker` does with `command` at `now` (epoch seconds)."""
    cfg = cfg or BroadcastConfig()
    state = {**new_state(), **state} if state else new_state()
    if command.id in state["recent"]:
        return Decision(state, acks=[_ack(command, "duplicate", now, "command id already handled")])

    prio = command.priority.value
    evacuation = prio == BroadcastPriority.evacuation.value
    spoken = {k: t for k, t in state["spoken"].items() if now - t < cfg.cooldown_s}
    playing = state["playing"] if state["playing"] and state["playing"]["until"] > now else None
    base = {**state, "recent": _remember(state, command.id, cfg), "spoken": spoken, "playing": playing}

    def suppressed(reason: str) -> Decision:
        return Decision(base, acks=[_ack(command, "suppressed", now, reason)])

    if speaker_cfg is None:
        return suppressed(f"unknown speaker {command.speaker!r}")
    if not evacuation and now - command.issued_at > cfg.max_age_s:
        return suppressed(f"stale: issued {now - command.issued_at:.0f} s ago (max_age_s {cfg.max_age_s:g})")
    actions: list = []
    preempt = False
    if playing is not None:
        if RANK[prio] < RANK[playing["priority"]]:
            return suppressed(f"speaker busy with higher-priority {playing['priority']} "
                              f"({playing['command_id']}) for {playing['until'] - now:.0f} s")
        if RANK[prio] > RANK[playing["priority"]]:
            preempt = True
            actions.append(Preempt(command.speaker, playing["command_id"], playing["priority"], command.id))
    key = text_key(command)
    if not evacuation and key in spoken:
        return suppressed(f"cooldown: same text played {now - spoken[key]:.0f} s ago (cooldown_s {cfg.cooldown_s:g})")
    quiet = in_quiet_hours(now, site.site.timezone, cfg)
    if evacuation:
        volume = cfg.evacuation_volume
    elif quiet:
        if prio in cfg.quiet_suppress:
            return suppressed(f"quiet hours {cfg.quiet_start_h:02d}:00-{cfg.quiet_end_h:02d}:00 "
                              f"({site.site.timezone}): {prio} not played at night")
        volume = cfg.quiet_volume
    else:
        volume = cfg.normal_volume
    utterances = [(command.text_zh, VOICE_ZH)]
    if command.text_en.strip():
        utterances.append((command.text_en, VOICE_EN))
    actions.append(Play(command.id, command.speaker, prio, volume, command.repeat, tuple(utterances),
                        preempt=preempt, alert_id=command.alert_id))
    start = now if (playing is None or preempt) else playing["until"]  # equal priority queues after
    until = start + estimate_duration_s(command, cfg.speech_speed)
    spoken[key] = now
    return Decision({**base, "spoken": spoken,
                     "playing": {"command_id": command.id, "priority": prio, "until": until}}, actions=actions)


def on_delivery(state: dict | None, play: Play, ok: bool, now: float, speaker_cfg: SpeakerConfig, site: Site,
                cfg: BroadcastConfig | None = None, detail: str = "") -> Decision:
    """After delivering `play`: the ack, the speaker freed if it failed, and speaker_unreachable
    raised after `failures_before_alert` consecutive failed deliveries / resolved on the next success."""
    from pipeline.broadcast.delivery import track_delivery  # delivery imports this module

    cfg = cfg or BroadcastConfig()
    state = {**new_state(), **state} if state else new_state()
    playing = state["playing"]
    if not ok and playing and playing["command_id"] == play.command_id:
        playing = None  # nothing is playing: do not hold lower priorities back
    link, alerts = track_delivery(state.get("link"), speaker_cfg, site, ok, now, cfg.failures_before_alert)
    ack = BroadcastAck(command_id=play.command_id, speaker=play.speaker, status="delivered" if ok else "failed",
                       at=now, detail=detail[:2000])
    return Decision({**state, "playing": playing, "link": link}, acks=[ack], alerts=alerts)
