"""The pure sensor rules: throughput, alert delay on the FSRI fires, precision/recall on the smoke IoT file.

    .venv/bin/python -m benchmarks.bench_sensors

Throughput: the heat readings of the three FSRI fires (four ceiling thermocouples each, as
four heat detectors) through `evaluate` (state in a dict, the way the Faust table holds it),
readings built beforehand so only the rules are timed. Baseline side by side, same readings:
"window from scratch", the naive stateless way: keep each device's last `sustained_s + 60`
seconds of samples and, on every reading, re-derive fixed-temperature hold time and rate of
rise by scanning that window (no latch, no incremental state, no alert objects).
Alert delay: ignition (the `_Events.csv` time) to the first heat alarm, and to fire_confirmed
with the O2-deficit smoke proxy (see benchmarks/sensor_data.py for why and its limits).
"""
from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

from benchmarks.sensor_data import FIRE_RULES, FIRES, SMOKE_IOT_START, first_open, load_fire, load_smoke_labels, score
from pipeline.analyze.sensors import with_devices
from pipeline.ingest.sensors import Mapping, load_readings
from pipeline.sensors.replay import replay
from pipeline.sensors.rules import evaluate
from pipeline.sensors.rules_config import parse_rules

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"


def engine_rate(readings, site, cfg, repeat: int) -> float:
    sensors = {s.id: s for s in site.sensors}
    start = time.perf_counter()
    for r in range(repeat):
        states: dict = {}
        for reading in readings:
            d = evaluate(states.get(reading.device), reading, sensors[reading.device], site, cfg)
            states[reading.device] = d.state
    return repeat * len(readings) / (time.perf_counter() - start)


def baseline_rate(readings, rules, repeat: int) -> float:
    h = rules.heat
    span = h.sustained_s + 60
    start = time.perf_counter()
    alarms = 0
    for _ in range(repeat):
        windows: dict[str, deque] = {}
        for reading in readings:
            win = windows.setdefault(reading.device, deque())
            win.append((reading.ts, reading.values["temperature_c"]))
            while win[0][0] < reading.ts - span:
                win.popleft()
            samples = list(win)
            held_since = None
            for ts, temp in reversed(samples):  # how long has it been above the fixed point?
                if temp < h.fixed_temp_c:
                    break
                held_since = ts
            old = [s for s in samples if s[0] <= reading.ts - h.sustained_s]
            rate = (samples[-1][1] - old[-1][1]) / (reading.ts - old[-1][0]) * 60 if old else 0.0
            if (held_since is not None and reading.ts - held_since >= h.confirm_s) or rate >= h.rate_of_rise_c_per_min:
                alarms += 1
    return repeat * len(readings) / (time.perf_counter() - start)


def fire_delays(cfg) -> list[dict]:
    rows = []
    for name in FIRES:
        fire = load_fire(DATA, name)
        result = replay(fire.readings, fire.site, cfg, tick_s=5)
        heat = {d: first_open([a for a in result.events if a.device == d], "heat_alarm") for d in
                sorted({r.device for r in fire.readings if r.device.startswith("heat")})}
        rows.append({
            "fire": name,
            "first_heat_alarm_s": round(first_open(result.events, "heat_alarm") - fire.ignition_ts, 1),
            "slowest_position_heat_alarm_s": round(max(heat.values()) - fire.ignition_ts, 1),
            "first_smoke_proxy_s": round(first_open(result.events, "smoke_alarm") - fire.ignition_ts, 1),
            "fire_confirmed_s": round(first_open(result.events, "fire_confirmed") - fire.ignition_ts, 1),
            "alerts_before_ignition": sum(1 for a in result.events if a.started_at < fire.ignition_ts),
            "evacuation_broadcasts": len(result.broadcasts),
        })
    return rows


def smoke_iot() -> dict:
    readings = load_readings(DATA / "sensors" / "smoke_detection_iot.csv",
                             Mapping(device="smoke-iot", type="smoke", alarm_column="Fire Alarm", start=SMOKE_IOT_START))
    labels = load_smoke_labels(DATA)
    site = with_devices(None, readings)
    variants = {
        "alarm flag, clear 10 s (default)": {},
        "alarm flag, confirm 3 s": {"defaults": {"smoke": {"confirm_s": 3}}},
        "eCO2 >= 1000 ppm only (no flag)": {"defaults": {"smoke": {"use_alarm_flag": False, "concentration_ppm": 1000},
                                                         "values": {"concentration": ["eCO2[ppm]"]}}},
    }
    out = {}
    for label, raw in variants.items():
        result = replay(readings, site, parse_rules(raw), tick_s=5)
        out[label] = score(labels, result.events, SMOKE_IOT_START)
    return out


def main() -> None:
    from benchmarks.common import machine, table

    cfg = parse_rules(FIRE_RULES)
    heat_readings, site = [], None
    for name in FIRES:
        fire = load_fire(DATA, name, smoke_proxy=False)
        offset = len(heat_readings) and heat_readings[-1].ts + 10 - fire.readings[0].ts
        heat_readings += [r.model_copy(update={"ts": r.ts + offset}) for r in fire.readings]
        site = fire.site
    engine = engine_rate(heat_readings, site, cfg, repeat=3)
    naive = baseline_rate(heat_readings, cfg.for_device("fsri", "heat-A"), repeat=3)
    delays = fire_delays(cfg)
    iot = smoke_iot()
    command = "python -m benchmarks.bench_sensors"
    rows = [("machine", "command", "figure", "value", "baseline", "ratio"),
            (machine(), command, "heat rules, readings/s (1 core)", f"{engine:,.0f}",
             f"{naive:,.0f} (window from scratch)", f"{engine / naive:.2f}x")]
    for d in delays:
        rows.append(("", "", f"{d['fire']}: ignition -> heat alarm / slowest position / fire confirmed (s)",
                     f"{d['first_heat_alarm_s']} / {d['slowest_position_heat_alarm_s']} / {d['fire_confirmed_s']}",
                     f"smoke proxy {d['first_smoke_proxy_s']} s", f"{d['alerts_before_ignition']} before ignition"))
    for label, s in iot.items():
        rows.append(("", "", f"smoke IoT, {label}: precision/recall per s, episodes, delay max",
                     f"{s['second_precision']:.3f} / {s['second_recall']:.3f}, {s['episodes_detected']}/"
                     f"{s['label_episodes']}, {s['delay_max_s']} s", f"{s['alerts']} alerts",
                     f"alert precision {s['alert_precision']:.2f}"))
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sensors.json").write_text(json.dumps({
        "machine": machine(), "command": command,
        "throughput": {"engine_readings_per_s": round(engine), "baseline_window_from_scratch_readings_per_s": round(naive),
                       "ratio": round(engine / naive, 2), "readings": len(heat_readings)},
        "fsri_fires": delays, "smoke_iot": iot}, indent=2))


if __name__ == "__main__":
    main()
