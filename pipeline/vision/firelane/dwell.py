"""The per-zone dwell state machine: pure, driven by frame timestamps, its whole state one JSON-able dict.

Why pure and serialisable: the Faust worker keeps this dict in a changelog-backed table keyed by zone,
so a restarted or rebalanced worker continues the same timers (a car parked 50 s before the restart
is warned 10 s after it, not 60 s). Why not keyed by tracker id: ids are lost on restart and switch on
occlusion; a *candidate* is a place where a qualifying object has stood still, matched frame to frame by
overlap, so the same car found again at about the same place continues its dwell whatever its id.
Moving traffic never accumulates dwell: a candidate whose object drifts away from where it was first
seen (faster than a crawl) restarts its clock.

Lifecycle of a zone: some candidate stands >= grace_s -> occupied (episode opens, broadcast 1) ->
a broadcast every rebroadcast_s up to max_broadcasts -> escalated (guards dispatched) -> resolved once
no occupying candidate has been seen for clear_s. Occupancy is per zone: any qualifying object keeps
the episode open.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from pipeline.config import ZoneConfig

MIN_HOLD_S = 1.0        # a candidate seen once survives 1 s of missed detections
MAX_HOLD_S = 10.0       # ... a long-standing one up to max(clear_s, this): occlusion by passing traffic
START_RADIUS = 0.35     # an object may jitter by a third of its size around where it stopped ...
DRIFT_PER_S = 0.05      # ... plus a crawl of 5 % of its size a second (moving traffic is >> 1 size/s)
MATCH_IOU = 0.3
KEEP_S = 3.0           # during an episode, an object standing this long keeps the zone occupied (a second
                       # car parking as the first leaves); passing traffic stands less
MAX_CANDIDATES = 64
MAX_EPISODE_OBJECTS = 20


@dataclass(frozen=True)
class Sighting:
    """One qualifying object inside the zone in one frame (box in frame pixels, x1 y1 x2 y2)."""

    box: tuple[float, float, float, float]
    cls: str
    conf: float = 1.0
    track: int | None = None


@dataclass(frozen=True)
class Transition:
    """Something the zone did in this step; `episode` is a copy of the episode after it."""

    kind: str  # "occupied" | "broadcast" | "escalated" | "resolved"
    ts: float
    zone: str
    episode: dict


@dataclass(frozen=True)
class Decision:
    state: dict
    transitions: list[Transition] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.transitions)


def initial_state() -> dict:
    return {"ts": None, "candidates": [], "episode": None}


def _size(box) -> float:
    return float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))


def _foot(box) -> tuple[float, float]:
    """Bottom centre: where the object touches the ground, the point the zone test uses too."""
    return ((box[0] + box[2]) / 2, box[3])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (N,4) and b (M,4), vectorised."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _match(candidates: list[dict], sightings: list[Sighting]) -> list[tuple[int, int]]:
    """Greedy pairs (candidate, sighting): same tracker id first, then by IoU of the last box, best first."""
    if not candidates or not sightings:
        return []
    iou = iou_matrix(np.array([c["box"] for c in candidates], float), np.array([s.box for s in sightings], float))
    same_id = np.array([[c["track"] is not None and c["track"] == s.track for s in sightings] for c in candidates])
    score = np.where(iou >= MATCH_IOU, iou + same_id, -1.0)
    pairs, used_c, used_s = [], set(), set()
    for flat in np.argsort(-score, axis=None):
        ci, si = np.unravel_index(flat, score.shape)
        if score[ci, si] < 0:
            break
        if ci not in used_c and si not in used_s:  # classes may flicker (car/truck): place decides
            pairs.append((int(ci), int(si)))
            used_c.add(ci)
            used_s.add(si)
    return pairs


def _new_candidate(s: Sighting, ts: float) -> dict:
    return {"box": [float(v) for v in s.box], "anchor": list(_foot(s.box)), "size": _size(s.box),
            "since": ts, "seen": ts, "cls": s.cls, "conf": float(s.conf), "track": s.track}


def _update(c: dict, s: Sighting, ts: float) -> None:
    """Follow the object; restart its clock if it has moved away from where it stopped faster than a crawl."""
    c.update(box=[float(v) for v in s.box], seen=ts, conf=float(s.conf), track=s.track)
    foot = _foot(s.box)
    allowed = c["size"] * (START_RADIUS + DRIFT_PER_S * (ts - c["since"]))
    if np.hypot(foot[0] - c["anchor"][0], foot[1] - c["anchor"][1]) > allowed:
        c.update(anchor=list(foot), size=_size(s.box), since=ts)


def _hold_s(c: dict, zone: ZoneConfig) -> float:
    return float(np.clip(c["seen"] - c["since"], MIN_HOLD_S, max(zone.clear_s, MAX_HOLD_S)))


def _track_candidates(zone: ZoneConfig, candidates: list[dict], ts: float, sightings: list[Sighting]) -> list[dict]:
    pairs = _match(candidates, sightings)
    for ci, si in pairs:
        _update(candidates[ci], sightings[si], ts)
    matched = {si for _, si in pairs}
    candidates = [c for c in candidates if ts - c["seen"] <= _hold_s(c, zone)]
    candidates += [_new_candidate(s, ts) for i, s in enumerate(sightings) if i not in matched]
    return sorted(candidates, key=lambda c: c["since"])[:MAX_CANDIDATES]


def _occupying(candidates: list[dict], min_dwell: float) -> list[dict]:
    return [c for c in candidates if c["seen"] - c["since"] >= min_dwell]


def _object(c: dict, ts: float) -> dict:
    return {"class": c["cls"], "box": [round(v, 1) for v in c["box"]], "since": c["since"], "at": ts,
            "conf": round(c["conf"], 3)}


def step(zone: ZoneConfig, state: dict | None, ts: float, sightings: list[Sighting]) -> Decision:
    """Advance the zone to frame time `ts` given the qualifying objects inside it; never mutates `state`.

    A frame older than the last one (a redelivered message) changes nothing.
    """
    state = copy.deepcopy(state) if state else initial_state()
    if state["ts"] is not None and ts < state["ts"]:
        return Decision(state)
    state["ts"] = ts
    state["candidates"] = _track_candidates(zone, state["candidates"], ts, sightings)
    episode = state["episode"]
    occupying = _occupying(state["candidates"], zone.grace_s if episode is None else min(zone.grace_s, KEEP_S))
    transitions: list[Transition] = []
    standing_now = [c for c in occupying if c["seen"] == ts]  # a held, unseen candidate cannot open one
    if episode is None and standing_now:
        episode = state["episode"] = {"start": ts, "broadcasts": [], "escalated_at": None, "last_occupied": ts,
                                      "objects": [_object(c, ts) for c in standing_now[:MAX_EPISODE_OBJECTS]]}
        transitions.append(Transition("occupied", ts, zone.id, copy.deepcopy(episode)))
    elif episode is not None:
        transitions += _advance(zone, state, occupying, ts)
        episode = state["episode"]
    if episode is not None and state["episode"] is not None:
        transitions += _warn(zone, episode, ts)
    return Decision(state, transitions)


def _advance(zone: ZoneConfig, state: dict, occupying: list[dict], ts: float) -> list[Transition]:
    """An open episode: note who occupies it now, or resolve it once the zone has stayed clear for clear_s."""
    episode = state["episode"]
    seen_now = [c for c in occupying if c["seen"] == ts]
    if seen_now:
        episode["last_occupied"] = ts
        known = {(o["since"], o["class"]) for o in episode["objects"]}
        fresh = [_object(c, ts) for c in seen_now if (c["since"], c["cls"]) not in known]
        episode["objects"] = (episode["objects"] + fresh)[:MAX_EPISODE_OBJECTS]
        return []
    if ts > episode["last_occupied"] and ts - episode["last_occupied"] >= zone.clear_s:
        state["episode"] = None
        # what has not been seen since the lane went clear has left: it must not reopen the lane
        state["candidates"] = [c for c in state["candidates"] if c["seen"] > episode["last_occupied"]]
        return [Transition("resolved", ts, zone.id, {**copy.deepcopy(episode), "end": ts})]
    return []


def _warn(zone: ZoneConfig, episode: dict, ts: float) -> list[Transition]:
    """Broadcast at the start and every rebroadcast_s after, up to max_broadcasts; then escalate once."""
    done = len(episode["broadcasts"])
    if done < zone.max_broadcasts and ts >= episode["start"] + done * zone.rebroadcast_s:
        episode["broadcasts"].append(ts)
        return [Transition("broadcast", ts, zone.id, copy.deepcopy(episode))]
    escalate_at = episode["start"] + max(zone.max_broadcasts, 1) * zone.rebroadcast_s
    if episode["escalated_at"] is None and done >= zone.max_broadcasts and ts >= escalate_at:
        episode["escalated_at"] = ts
        return [Transition("escalated", ts, zone.id, copy.deepcopy(episode))]
    return []
