"""Fast tuning loop for the thrown-object core on the DEV seeds only: render once, score the core many times.

Run: .venv/bin/python -m benchmarks.throw_dev render --workers 2          (once: ~10 min on 2 cores, ~13 GB)
     .venv/bin/python -m benchmarks.throw_dev score --workers 2           (each change: a minute or two)
     .venv/bin/python -m benchmarks.throw_dev score --distractors --workers 2   (false alarms, dev distractor video)
     .venv/bin/python -m benchmarks.throw_dev explain --seeds 81,179         (per frame, where each miss was lost)

Why: rendering a 1280x720 scene frame costs ~20-40 ms, the core ~2 ms, so every dev run of `bench_throws` spent
nearly all its time drawing the same frames again. The core's first step turns a frame into a grey image at its
working resolution (`Foreground._to_gray`); that image is a pure function of the frame, so it is cached (raw
uint8, memory-mapped, under build/throw-dev/) and fed to the core in place of the frame: the events are the same
as from the full frames (`check --seeds SEED` compares the two).

Held-out seeds are refused: they are the benchmark's, and nothing is tuned on them.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from benchmarks.bench_throws import match, recall_by_condition, run_scene  # noqa: E402
from benchmarks.throw_scenes import (DEV_DISTRACTOR_SEEDS, HELD_OUT_DISTRACTOR_SEEDS, HELD_OUT_SEEDS,  # noqa: E402
                                     Scene, distractor_scene, generate)
from pipeline.settings import REPO_ROOT  # noqa: E402
from pipeline.vision.throws.calibration import Facade  # noqa: E402
from pipeline.vision.throws.core import ThrowCore  # noqa: E402

CACHE = REPO_ROOT / "build" / "throw-dev"
WIDE_DEV_SEEDS = range(0, 180)
"""The dev throw scenes the tuning of 2026-12-02/03 used (`DEV_SEEDS` is 0-59; 60-179 were added later)."""
DISTRACTOR_S = 20.0


def _refuse_held_out(seeds: list[int]) -> None:
    bad = sorted(set(seeds) & (set(HELD_OUT_SEEDS) | set(HELD_OUT_DISTRACTOR_SEEDS)))
    if bad:
        raise SystemExit(f"seeds {bad[:5]}... are held out: the benchmark's own, never tuned on")


def _scene(kind: str, seed: int) -> Scene:
    return generate(seed) if kind == "throws" else distractor_scene(seed, duration_s=DISTRACTOR_S)


def _path(kind: str, seed: int) -> Path:
    return CACHE / kind / f"{seed}.npy"


def _render(job: tuple[str, int]) -> int:
    """Working-resolution grey frames of one scene into the cache (written under a temporary name first)."""
    kind, seed = job
    cv2.setNumThreads(1)
    out = _path(kind, seed)
    if out.exists():
        return seed
    scene = _scene(kind, seed)
    fg = ThrowCore(Facade.from_dict(scene.calibration), scene.fps).foreground
    sw, sh = fg.size
    tmp = out.with_suffix(".tmp.npy")
    arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(scene.n_frames, sh, sw))
    for i, frame in enumerate(scene.frames()):
        arr[i] = fg._to_gray(frame)
    arr.flush()
    del arr
    tmp.rename(out)
    return seed


class _CachedFrames:
    """Feeds cached grey frames to a core: its `_to_gray` returns the cached image instead of converting."""

    def __init__(self, core: ThrowCore, grays: np.ndarray) -> None:
        self.core, self.grays, self.i = core, grays, 0
        fg = core.foreground
        fg._to_gray = self._next  # type: ignore[method-assign]
        w, h = core.facade.image_size
        self.dummy = np.broadcast_to(np.zeros(1, np.uint8), (h, w, 3))  # passes the size check, holds nothing

    def _next(self, _frame: np.ndarray) -> np.ndarray:
        np.copyto(self.core.foreground.gray, self.grays[self.i])
        return self.core.foreground.gray

    def run(self, fps: float) -> list[tuple[float, object]]:
        events = []
        for i in range(len(self.grays)):
            self.i = i
            events += [(i / fps, e) for e in self.core.process(self.dummy, i / fps)]
        end = len(self.grays) / fps
        return events + [(end, e) for e in self.core.flush(end)]


def _score(job: tuple[str, int]) -> dict:
    kind, seed = job
    cv2.setNumThreads(1)
    scene = _scene(kind, seed)
    grays = np.load(_path(kind, seed), mmap_mode="r")
    core = ThrowCore(Facade.from_dict(scene.calibration), scene.fps)
    start = time.perf_counter()
    events = _CachedFrames(core, grays).run(scene.fps)
    spent = time.perf_counter() - start
    row = {"seed": seed, "frames": len(grays), "core_s": spent, "night": scene.night,
           "distractors": scene.distractors, "events": len(events)}
    if kind == "throws":
        m = match(events, scene.throws, scene.truth_paths())
        found = {id(th): e for _, e, th in m if th is not None}
        row["throws"] = [{"floor": th.floor, "size_m": th.size_m, "kind": th.kind, "drag": th.drag,
                          "release_t": th.release_t, "end_t": th.end_t, "found": id(th) in found,
                          "fit": found[id(th)].fit if id(th) in found else None,
                          "found_floor": found[id(th)].origin_floor if id(th) in found else None}
                         for th in scene.throws]
        row["false"] = [{"t_start": e.t_start, "floor": e.origin_floor, "fit": e.fit} for _, e, th in m if th is None]
        row["floor_off"] = sum(e.origin_floor != th.floor for _, e, th in m if th is not None)
    else:
        row["false"] = [{"t_start": e.t_start, "floor": e.origin_floor, "fit": e.fit} for _, e in events]
    return row


def _pool_map(fn, jobs: list, workers: int, desc: str) -> list:
    if workers <= 1:
        return [fn(j) for j in tqdm(jobs, desc=desc, file=sys.stderr)]
    with get_context("spawn").Pool(workers) as pool:
        return list(tqdm(pool.imap(fn, jobs), total=len(jobs), desc=desc, file=sys.stderr))


def _parse_seeds(text: str) -> list[int]:
    """'3,7,20-29' -> [3, 7, 20, ..., 29]."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return seeds


def _seeds(args: argparse.Namespace) -> tuple[str, list[int]]:
    if args.distractors:
        seeds = list(DEV_DISTRACTOR_SEEDS)[: args.n_distractors]
        kind = "distractors"
    else:
        seeds = list(WIDE_DEV_SEEDS) if not args.seeds else _parse_seeds(args.seeds)
        kind = "throws"
    _refuse_held_out(seeds)
    return kind, seeds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["render", "score", "check", "explain"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--distractors", action="store_true", help="the dev distractor-only scenes (false alarms)")
    ap.add_argument("--n-distractors", type=int, default=90, help="how many (x 20 s; 90 = 0.5 h)")
    ap.add_argument("--seeds", help="dev seeds, e.g. 3,7,200-599 (default: 0-179)")
    ap.add_argument("--json", type=Path, help="write the per-scene rows here")
    args = ap.parse_args(argv)
    kind, seeds = _seeds(args)
    (CACHE / kind).mkdir(parents=True, exist_ok=True)
    jobs = [(kind, s) for s in seeds]
    if args.action == "render":
        _pool_map(_render, jobs, args.workers, f"render {kind}")
        return 0
    if args.action == "check":
        return _check(kind, seeds[0])
    missing = [s for s in seeds if not _path(kind, s).exists()]
    if missing:
        raise SystemExit(f"{len(missing)} scenes not rendered yet (first {missing[:5]}): run `render` first")
    if args.action == "explain":
        if kind != "throws":
            raise SystemExit("explain is for throw scenes")
        lines = _pool_map(_explain, seeds, args.workers, "explain")
        print("\n".join(f"  {k} {v}" for k, v in SIGNS.items()))
        print("\n".join(line for per_seed in lines for line in per_seed))
        return 0
    rows = _pool_map(_score, jobs, args.workers, f"score {kind}")
    _report(kind, rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def _report(kind: str, rows: list[dict]) -> None:
    frames, spent = sum(r["frames"] for r in rows), sum(r["core_s"] for r in rows)
    false = [(r["seed"], f) for r in rows for f in r["false"]]
    print(f"{kind}: {len(rows)} scenes, {frames} frames, core {frames / spent:.0f} frames/s")
    if kind == "throws":
        throws = [(r["seed"], th) for r in rows for th in r["throws"]]
        hits = sum(th["found"] for _, th in throws)
        far = [f"{r['seed']}/f{th['floor']}->{th['found_floor']}" for r in rows for th in r["throws"]
               if th["found"] and (th["found_floor"] is None or abs(th["found_floor"] - th["floor"]) > 1)]
        print(f"found {hits} of {len(throws)} ({hits / len(throws):.3f}); false events {len(false)}; "
              f"floor off {sum(r['floor_off'] for r in rows)} (by more than one {len(far)})")
        if far:
            print("floor off by more than one:", " ".join(far))
        # in the per-scene shape recall_by_condition reads
        scenes = [{"distractors": r["distractors"], "core": {"found": [t["found"] for t in r["throws"]]}} for r in rows]
        by_cond = recall_by_condition(scenes, "core")
        print("by condition:", "; ".join(f"{c} {v['found']}/{v['throws']}" for c, v in by_cond.items()))
        print("missed:", " ".join(f"{s}/f{th['floor']}" for s, th in throws if not th["found"]))
    else:
        hours = frames / 25.0 / 3600
        print(f"false alarms {len(false)} in {hours:.2f} h")
    if false:
        print("false:", " ".join(f"{s}@{f['t_start']:.1f}" for s, f in false))


def _check(kind: str, seed: int) -> int:
    """The cached path gives the same events as the full frames."""
    _render((kind, seed))
    scene = _scene(kind, seed)
    events, _ = run_scene(scene, {"core": ThrowCore(Facade.from_dict(scene.calibration), scene.fps)})
    full = [e.to_json() for _, e in events["core"]]
    core2 = ThrowCore(Facade.from_dict(scene.calibration), scene.fps)
    cached = [e.to_json() for _, e in _CachedFrames(core2, np.load(_path(kind, seed), mmap_mode="r")).run(scene.fps)]
    same = full == cached
    print(f"seed {seed}: {len(full)} events from full frames, {len(cached)} from the cache: "
          f"{'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


# ------------------------------------------------------------------------------------------------ explain

SIGNS = {"R": "the foreground re-baselined (no blobs)", "#": "a blob within 8 px of the object",
         "o": "object outside the region watched (roi) or on busy pixels", "f": "no blob; the object's change "
         "is above the faint search's share of the threshold", ".": "no blob; the object's change is under that too"}


def _explain(seed: int) -> list[str]:
    """For each missed throw of a dev scene, one sign a frame of its flight (see SIGNS): where a fall was lost, in
    the foreground (what the per-frame mask saw) or after it (tracking, stitching, the fall test)."""
    cv2.setNumThreads(1)
    scene = _scene("throws", seed)
    core = ThrowCore(Facade.from_dict(scene.calibration), scene.fps)
    fg, paths = core.foreground, scene.truth_paths()
    signs: list[list[str]] = [[] for _ in scene.throws]
    process, frame_no = fg.process, [0]

    def watched(frame: np.ndarray):
        blobs = process(frame)
        t = frame_no[0] / scene.fps
        frame_no[0] += 1
        for k, (th, (ts, px)) in enumerate(zip(scene.throws, paths)):
            if th.release_t <= t <= th.end_t:
                signs[k].append(_sign(fg, blobs, np.interp(t, ts, px[:, 0]), np.interp(t, ts, px[:, 1])))
        return blobs
    fg.process = watched  # type: ignore[method-assign]
    events = _CachedFrames(core, np.load(_path("throws", seed), mmap_mode="r")).run(scene.fps)
    found = {id(th) for _, _, th in match(events, scene.throws, paths) if th is not None}
    return [f"{seed:4d}/{k} floor {th.floor:2d} {th.size_m * 100:3.0f} cm {'night' if scene.night else 'day  '} "
            f"{','.join(d for d in scene.distractors if d != 'night'):34s} {''.join(s)}"
            for k, (th, s) in enumerate(zip(scene.throws, signs)) if id(th) not in found]


def _sign(fg, blobs, x: float, y: float) -> str:
    if blobs.status == "rebaseline":
        return "R"
    if len(blobs.centres) and np.hypot(blobs.centres[:, 0] - x, blobs.centres[:, 1] - y).min() < 8:
        return "#"
    wx, wy = np.rint(fg._to_work(np.array([x, y]))).astype(int)
    near = (slice(max(wy - 2, 0), wy + 3), slice(max(wx - 2, 0), wx + 3))
    if fg.quiet[near].size == 0 or (fg.quiet[near] > 0).mean() < 0.5:
        return "o"
    return "f" if fg.diff[near].max() > fg.cfg.faint_ratio * fg.cfg.min_diff else "."


if __name__ == "__main__":
    sys.exit(main())
