"""The real sensor recordings in ../shared/data/sensors mapped onto devices, and scoring against their labels.

Shared by the tests and the benchmark so both measure the same thing.

FSRI compartment fires: each `Quadrant X Temperature 25 mm Below Ceiling` thermocouple becomes
one heat detector. Why that channel: a spot heat detector is mounted on the ceiling (NFPA 72
allows up to 102 mm below it), and 25 mm below the ceiling is the closest thermocouple of each
tree to that position; the four quadrants are four detector positions in the same room, some
near the burning sofa and some far from it. Smoke proxy: the room has no smoke meter, but its
oxygen analysers 0.6 m below the ceiling see combustion products arrive in the hot layer;
the O2 deficit (20.95 % minus the reading, in ppm) against a 5,000 ppm (0.5 % vol) mark is
used as a smoke detector. It is a late proxy (an analyser behind a sample line, and O2 falls
only once the layer is thick), so fire confirmation times from it are an upper bound.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from pipeline.config import SensorConfig, Site, SiteInfo, SpeakerConfig, ZoneConfig
from pipeline.messages import Alert, SensorReading

FIRES = ["Overstuffed_Open_Back_1", "RedAccent_Closed_Corner_1", "RedAccent_Open_Corner_1"]
QUADRANTS = "ABCD"
AMBIENT_O2_PCT = 20.95


def _utc(text: str, fmt: str) -> float:
    return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()


@dataclass
class Fire:
    name: str
    ignition_ts: float
    readings: list[SensorReading]  # all devices, sorted by ts
    site: Site


def fire_site(name: str) -> Site:
    room = f"FSRI {name} compartment"
    sensors = [SensorConfig(id=f"heat-{q}", type="heat", location=room, building="FSRI", report_interval_s=1)
               for q in QUADRANTS]
    sensors += [SensorConfig(id=f"smoke-{q}", type="smoke", location=room, building="FSRI", report_interval_s=1)
                for q in QUADRANTS]
    return Site(site=SiteInfo(id="fsri"), sensors=sensors, zones=[ZoneConfig(id="fsri-b", kind="building",
                                                                           building="FSRI")],
                speakers=[SpeakerConfig(id="spk-fsri", zone="fsri-b", endpoint="http://127.0.0.1:9/spk")])


FIRE_RULES = {"devices": {f"smoke-{q}": {"smoke": {"concentration_ppm": 5000.0},
                                         "values": {"concentration": ["o2_deficit_ppm"]}} for q in QUADRANTS}}


def load_fire(data_dir: Path, name: str, smoke_proxy: bool = True) -> Fire:
    folder = data_dir / "sensors" / "fsri-compartment-fires"
    with (folder / f"{name}_Events.csv").open() as handle:
        events = {row["Event"]: row["Time"] for row in csv.DictReader(handle)}
    ignition = _utc(events["Ignition"], "%Y-%m-%d-%H:%M:%S")
    readings = []
    with (folder / f"{name}.csv").open() as handle:
        for row in csv.DictReader(handle):
            ts = _utc(row["Timestamp"], "%Y-%m-%d %H:%M:%S")
            for q in QUADRANTS:
                temp = row.get(f"Quadrant {q} Temperature 25 mm Below Ceiling", "")
                if temp:
                    readings.append(SensorReading(device=f"heat-{q}", type="heat", ts=ts,
                                                  values={"temperature_c": float(temp)}))
                o2 = row.get(f"Quad {q} Oxygen 0.6 m Below Ceiling", "")
                if smoke_proxy and o2:
                    deficit = max(0.0, (AMBIENT_O2_PCT - float(o2)) * 1e4)
                    readings.append(SensorReading(device=f"smoke-{q}", type="smoke", ts=ts,
                                                  values={"o2_deficit_ppm": deficit}))
    return Fire(name, ignition, readings, fire_site(name))


def first_open(events: list[Alert], alert_type: str) -> float | None:
    """When the first alert of `alert_type` opened (its open message's `updated_at`)."""
    opened = [a.updated_at for a in events if a.type == alert_type and a.status.value == "open"]
    return min(opened) if opened else None


# --- smoke IoT file -------------------------------------------------------------------------------------------

SMOKE_IOT_START = 1_700_000_000.0  # the file has no clock: row i is SMOKE_IOT_START + i seconds


def episodes(labels: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where labels == 1."""
    edges = np.diff(np.concatenate(([0], labels.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def spans(events: list[Alert]) -> list[tuple[float, float, float | None]]:
    """(started_at, opened_at, ended_at) per alert id, from the stream of alert messages."""
    out: dict[str, list] = {}
    for a in events:
        span = out.setdefault(a.id, [a.started_at, None, None])
        if a.status.value == "open" and span[1] is None:
            span[1] = a.updated_at
        if a.ended_at is not None:
            span[2] = a.ended_at
    return [(s, o if o is not None else s, e) for s, o, e in out.values()]


def score(labels: np.ndarray, events: list[Alert], t0: float) -> dict:
    """Second-level precision/recall, episode recall, alert precision, and delay from label onset to opening."""
    predicted = np.zeros(len(labels), dtype=bool)
    rows = []
    for _, opened_ts, ended_ts in spans(events):
        opened = int(round(opened_ts - t0))
        end = len(labels) if ended_ts is None else int(round(ended_ts - t0))
        predicted[opened:end] = True
        rows.append((opened, end))
    truth = labels.astype(bool)
    tp = int(np.sum(predicted & truth))
    label_eps = episodes(labels)
    delays = []
    for s, e in label_eps:
        openings = [o for (o, end) in rows if o < e and end > s]
        if openings:
            delays.append(int(max(0, min(openings) - s)))
    true_alerts = sum(1 for (o, end) in rows if truth[o:end].any())
    return {
        "second_precision": round(tp / max(1, int(predicted.sum())), 4),
        "second_recall": round(tp / max(1, int(truth.sum())), 4),
        "label_episodes": len(label_eps),
        "episodes_detected": len(delays),
        "episode_recall": round(len(delays) / max(1, len(label_eps)), 4),
        "alerts": len(rows),
        "alert_precision": round(true_alerts / max(1, len(rows)), 4),
        "delay_s": delays,
        "delay_max_s": max(delays) if delays else None,
    }


def load_smoke_labels(data_dir: Path) -> np.ndarray:
    table = np.genfromtxt(data_dir / "sensors" / "smoke_detection_iot.csv", delimiter=",", skip_header=1)
    return table[:, 4]
