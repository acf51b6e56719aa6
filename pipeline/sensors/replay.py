"""Run recorded readings through the same `evaluate` / `tick` / `confirm` the worker runs, in time order.

Why here and not in the command: the offline command, the tests on real data and the
benchmark must all measure the engine the agents run, not a re-implementation of it.
Ticks are interleaved every `tick_s` of data time, the way the worker's timer would, and
`confirm` sees every smoke/heat alert of a location in the order they were made.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pipeline.messages import Alert, BroadcastCommand, SensorReading
from pipeline.config import Site
from pipeline.sensors.confirm import confirm, confirm_key
from pipeline.sensors.rules import evaluate, tick
from pipeline.sensors.rules_config import RulesConfig


@dataclass
class ReplayResult:
    alerts: dict[str, Alert] = field(default_factory=dict)  # latest state per alert id, in order of first sight
    events: list[Alert] = field(default_factory=list)  # every alert message, in emission order
    broadcasts: list[BroadcastCommand] = field(default_factory=list)
    readings: int = 0
    device_states: dict[str, dict | None] = field(default_factory=dict)


def replay(readings: Iterable[SensorReading], site: Site, cfg: RulesConfig, tick_s: float = 10.0,
           progress: Callable[[int], None] | None = None) -> ReplayResult:
    """`readings` should be sorted by ts (late ones are dropped by the engine, as in the worker)."""
    out = ReplayResult()
    device_state: dict[str, dict | None] = {}
    location_state: dict[str, dict | None] = {}
    next_tick: float | None = None
    last_ts = None
    for reading in readings:
        if next_tick is None:
            next_tick = reading.ts + tick_s
        while reading.ts >= next_tick:
            _tick_all(out, device_state, location_state, site, cfg, next_tick)
            next_tick += tick_s
        sensor = site.sensor(reading.device)
        decision = evaluate(device_state.get(reading.device), reading, sensor, site, cfg)
        device_state[reading.device] = decision.state
        _emit(out, location_state, decision.alerts, site, cfg, reading.ts)
        out.readings += 1
        last_ts = reading.ts
        if progress is not None and out.readings % 10000 == 0:
            progress(out.readings)
    if last_ts is not None:
        _tick_all(out, device_state, location_state, site, cfg, last_ts + 1e-6)
    out.device_states = device_state
    return out


def _tick_all(out: ReplayResult, device_state: dict, location_state: dict, site: Site, cfg: RulesConfig,
              now: float) -> None:
    for device, state in device_state.items():
        decision = tick(state, site.sensor(device), site, cfg, now)
        if decision.alerts or decision.changed:
            device_state[device] = decision.state
            _emit(out, location_state, decision.alerts, site, cfg, now)


def _emit(out: ReplayResult, location_state: dict, alerts: list[Alert], site: Site, cfg: RulesConfig,
          now: float) -> None:
    for alert in alerts:
        _record(out, alert)
        key = confirm_key(alert)
        decision = confirm(location_state.get(key), alert, now, site, cfg)
        if decision.changed:
            location_state[key] = decision.state
        for derived in decision.alerts:
            _record(out, derived)
        out.broadcasts.extend(decision.broadcasts)


def _record(out: ReplayResult, alert: Alert) -> None:
    out.events.append(alert)
    out.alerts[alert.id] = alert
