"""Curves of a load run: `.venv/bin/python -m benchmarks.load.plot [build/load]` writes load.png beside the data.

Top: the frames lag of every search step. Below, for the soak (or the last phase): lag, frames/s, frame-to-alert
latency, CPU and memory over time, with the second worker's start and the first worker's SIGTERM marked.
Needs matplotlib (`pip install -e '.[bench]'`).
"""
from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path


def _num(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_timeline(path: Path) -> dict[str, list[dict]]:
    phases: dict[str, list[dict]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            phases.setdefault(row["phase"], []).append({k: (v if k == "phase" else _num(v)) for k, v in row.items()})
    return phases


def read_latency(path: Path) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    if not path.exists():
        return out
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["phase"], []).append((_num(row["t"]), _num(row["latency_ms"])))
    return out


def derivative(ts: list[float], ys: list[float], window: int = 3) -> tuple[list[float], list[float]]:
    """Rate of a cumulative counter, over `window` samples; NaN samples (a worker not there yet) skipped."""
    pts = [(t, y) for t, y in zip(ts, ys) if not math.isnan(y)]
    out_t, out_y = [], []
    for i in range(window, len(pts)):
        (t0, y0), (t1, y1) = pts[i - window], pts[i]
        if t1 > t0 and y1 >= y0:
            out_t.append(t1)
            out_y.append((y1 - y0) / (t1 - t0))
    return out_t, out_y


def plot(out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    summary = json.loads((out_dir / "summary.json").read_text())
    timeline = read_timeline(out_dir / "timeline.csv")
    latency = read_latency(out_dir / "latency.csv")
    search = [name for name in timeline if name.startswith("search")]
    main_name = next((name for name in timeline if name.startswith("soak")), None) or (list(timeline)[-1] if timeline else None)
    meta = next((ph for ph in summary["phases"] if ph["phase"] == main_name), {})
    fig, axes = plt.subplots(6, 1, figsize=(12, 22), constrained_layout=True)
    fig.suptitle(f"Load benchmark: {summary.get('machine', '')}\n{summary.get('command', '')}", fontsize=9)

    ax = axes[0]
    verdicts = {ph["phase"]: ph for ph in summary["phases"]}
    for name in search:
        rows = timeline[name]
        ph = verdicts.get(name, {})
        label = f"N={int(rows[0]['n'])} ({'sustained' if ph.get('sustained') else 'NOT sustained'})"
        ax.plot([r["t"] for r in rows], [r["frames_lag"] for r in rows], label=label)
    ax.set_title(f"search: frames lag per step (largest sustained N = {summary.get('largest_sustained_n')})")
    ax.set_xlabel("s since the producer started")
    ax.set_ylabel("frames lag (messages)")
    if search:
        ax.legend(fontsize=8)

    if main_name is None:
        fig.savefig(out_dir / "load.png", dpi=90)
        return out_dir / "load.png"
    rows = timeline[main_name]
    t = [r["t"] for r in rows]
    fo = meta.get("failover") or {}
    marks = [(fo.get("w2_start_t"), "worker 2 started", "tab:green"), (fo.get("w2_ready_t"), "worker 2 ready", "tab:olive"),
             (fo.get("w1_stop_t"), "SIGTERM worker 1", "tab:red")]

    def mark(a) -> None:
        for x, text, colour in marks:
            if x is not None:
                a.axvline(x, color=colour, linestyle="--", linewidth=1, label=text)

    n = int(rows[0]["n"])
    ax = axes[1]
    ax.plot(t, [r["frames_lag"] for r in rows], label="frames lag", color="tab:blue")
    ax.plot(t, [r["readings_lag"] for r in rows], label="readings lag", color="tab:orange")
    ax.set_ylabel("lag (messages)")
    ax.set_title(f"{main_name}: consumer lag of the worker group")
    ax2 = ax.twinx()
    ax2.step(t, [r["w1_frames_parts"] + r["w1_readings_parts"] for r in rows], color="tab:purple", alpha=0.5,
             where="post", label="partitions owned by worker 1")
    ax2.step(t, [r["w2_frames_parts"] + r["w2_readings_parts"] for r in rows], color="tab:brown", alpha=0.5,
             where="post", label="partitions owned by worker 2")
    ax2.set_ylabel("frames+readings partitions owned")
    ax2.set_ylim(-0.5, 8.5)
    mark(ax)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")

    ax = axes[2]
    for key, label in (("produced_frames", "sent by the producer"), ("w1_frames", "processed by worker 1"),
                       ("w2_frames", "processed by worker 2")):
        xs, ys = derivative(t, [r[key] for r in rows])
        ax.plot(xs, ys, label=label)
    ax.axhline(n * summary.get("fps", 25), color="grey", linestyle=":", label=f"offered {n} x {summary.get('fps', 25):g} fps")
    ax.set_ylabel("frames/s")
    ax.set_title("frames per second")
    mark(ax)
    ax.legend(fontsize=8, loc="lower left")

    ax = axes[3]
    lat = latency.get(main_name, [])
    if lat:
        ax.scatter([x[0] for x in lat], [x[1] for x in lat], s=6, label="thrown_object alert: record time - frame capture time")
    lm = meta.get("latency_ms", {})
    ax.set_title(f"frame-to-alert latency (before failover p50 {lm.get('p50')} ms, p99 {lm.get('p99')} ms, n={lm.get('n')})")
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    mark(ax)
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[4]
    for key, label in (("w1_cpu", "worker 1"), ("w2_cpu", "worker 2"), ("producer_cpu", "producer"),
                       ("kafka_cpu", "Kafka"), ("redis_cpu", "Redis")):
        ax.plot(t, [r[key] for r in rows], label=label, linewidth=1)
    ax.plot(t, [r.get("others_cpu", math.nan) for r in rows], label="other jobs on the machine", color="grey",
            linewidth=1)
    ax.plot(t, [r["sys_cpu_pct"] * (os.cpu_count() or 1) for r in rows], label="whole machine (100% = one core)", color="black",
            linewidth=0.8, alpha=0.6)
    ax.set_ylabel("CPU % (100 = one core)")
    ax3 = ax.twinx()
    ax3.plot(t, [r["load1"] for r in rows], color="grey", linestyle=":", label="load average (1 min)")
    ax3.set_ylabel("load average")
    ax.set_title("CPU")
    mark(ax)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left", ncol=3)

    ax = axes[5]
    for key, label in (("w1_rss_mb", "worker 1"), ("w2_rss_mb", "worker 2"), ("producer_rss_mb", "producer"),
                       ("kafka_rss_mb", "Kafka")):
        ax.plot(t, [r[key] for r in rows], label=label)
    ax.set_ylabel("RSS MiB")
    ax.set_xlabel("s since the producer started")
    ax.set_title("memory (resident)")
    mark(ax)
    ax.legend(fontsize=8, loc="upper left")
    path = out_dir / "load.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(plot(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/load")))
