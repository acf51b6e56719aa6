"""How visible was each generated throw? Recall of the thrown-object benchmark by per-frame signal to noise.

Why: the scene generator draws 5-40 cm objects up to ~90 m from the camera, at night with sensor noise of
5-8 grey levels, so some throws change no pixel by more than the noise does. A detector that looks at one
frame at a time cannot find those without raising alarms on noise; what it misses above that line is what the
detector loses. This script puts a number on "visible": for every frame of a throw, the largest grey-level
change the object alone makes near its position (the scene rendered a second time without its objects - the
renderer draws rain and noise from its own random stream, so the two renders differ only by the objects),
at the core's working resolution (640 px wide: 2x2 averages of a 1280x720 frame), divided by the sensor noise
at that resolution; a throw's visibility is the median over its frames.

Run after the benchmark, on its JSON (which records which throws each detector found):
    .venv/bin/python -m benchmarks.throw_visibility build/throws-heldout.json
About 1 s per scene per core (every scene is rendered twice).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.throw_scenes import Scene, _Renderer, generate  # noqa: E402

WORK_WIDTH = 640
PATCH = 3
"""Half-size (working px) of the square around the true position searched for the object's peak change."""
BINS = (0.0, 2.0, 4.0, 8.0, 16.0, float("inf"))
GREY = np.array([0.114, 0.587, 0.299])  # BGR weights of cv2's grey conversion


def noise_sigma_working(scene_sigma: float, factor: int) -> float:
    """Sensor noise (grey levels) at working resolution: the renderer adds independent gaussian noise of
    `scene_sigma` to each colour channel; grey weights it by the conversion, a factor x factor average by 1/f."""
    return float(scene_sigma * np.sqrt(np.sum(GREY ** 2)) / factor)


def visibility(scene: Scene) -> list[float]:
    """Per throw of `scene`, in order: median over its frames of (peak |object-only change| / noise)."""
    with_objects = _Renderer(scene)
    bare = copy.copy(scene)
    bare._tracks = []
    without = _Renderer(bare)
    factor = max(1, round(scene.size[0] / WORK_WIDTH))
    size = (scene.size[0] // factor, scene.size[1] // factor)
    sigma = noise_sigma_working(with_objects.sigma, factor)
    paths = scene.truth_paths()
    peaks: list[list[float]] = [[] for _ in paths]
    for i, (a, b) in enumerate(zip(with_objects.frames(), without.frames())):
        t = i / scene.fps
        live = [k for k, (ts, _) in enumerate(paths) if ts[0] <= t <= ts[-1]]
        if not live:
            continue
        diff = cv2.absdiff(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY))
        diff = cv2.resize(diff.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        for k in live:
            ts, px = paths[k]
            x = int(round(np.interp(t, ts, px[:, 0]) / factor))
            y = int(round(np.interp(t, ts, px[:, 1]) / factor))
            patch = diff[max(y - PATCH, 0):y + PATCH + 1, max(x - PATCH, 0):x + PATCH + 1]
            peaks[k].append(float(patch.max()) if patch.size else 0.0)
    return [float(np.median(p)) / sigma if p else 0.0 for p in peaks]


def _one(seed: int) -> tuple[int, list[float]]:
    cv2.setNumThreads(1)
    return seed, visibility(generate(seed))


def by_bin(rows: list[tuple[float, bool]]) -> list[dict]:
    """Recall per visibility bin: [{'low', 'high', 'throws', 'found'}]."""
    out = []
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        sel = [found for v, found in rows if lo <= v < hi]
        out.append({"low": lo, "high": hi, "throws": len(sel), "found": int(sum(sel))})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench_json", type=Path, help="output of benchmarks.bench_throws --json")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON here too")
    args = parser.parse_args(argv)
    if not args.bench_json.exists():
        sys.exit(f"{args.bench_json} not found: run `python -m benchmarks.bench_throws --json {args.bench_json}` first")
    bench = json.loads(args.bench_json.read_text())
    scenes = bench.get("accuracy", bench).get("per_scene")
    if not scenes or "found" not in scenes[0].get("core", {}):
        sys.exit(f"{args.bench_json} has no per-throw results (per_scene[].core.found): re-run the benchmark")
    seeds = [row["seed"] for row in scenes]
    with mp.get_context("spawn").Pool(max(1, args.workers)) as pool:
        vis = dict(tqdm(pool.imap_unordered(_one, seeds), total=len(seeds), desc="visibility", unit="scene",
                        file=sys.stderr))
    table = {}
    for name in ("core", "baseline"):
        rows = [(v, found) for row in scenes for v, found in zip(vis[row["seed"]], row[name]["found"])]
        table[name] = by_bin(rows)
    print(f"recall by visibility ({bench.get('seeds', '?')} seeds, {sum(len(v) for v in vis.values())} throws; "
          "visibility = median per-frame peak change / sensor noise at 640 px wide)")
    print(f"{'visibility':>12} {'throws':>7} {'core':>12} {'baseline':>12}")
    for c, b in zip(table["core"], table["baseline"]):
        span = f"{c['low']:g}-{c['high']:g}" if np.isfinite(c["high"]) else f">= {c['low']:g}"
        rate = (lambda d: f"{d['found']}/{d['throws']}" + (f" {d['found'] / d['throws']:.2f}" if d["throws"] else ""))
        print(f"{span:>12} {c['throws']:>7} {rate(c):>12} {rate(b):>12}")
    for lo in (4.0, 8.0):
        for name in ("core", "baseline"):
            sel = [d for d in table[name] if d["low"] >= lo]
            n, k = sum(d["throws"] for d in sel), sum(d["found"] for d in sel)
            print(f"{name}: recall on throws with visibility >= {lo:g}: {k}/{n} = {k / n:.3f}" if n else "")
    if args.out:
        args.out.write_text(json.dumps({"visibility": {str(s): v for s, v in vis.items()}, "table": table}, indent=1))


if __name__ == "__main__":
    main()
