"""ThrowCore: frames of one facade camera in, thrown-object events out (no I/O besides optional evidence).

Per frame: foreground blobs -> tracker; every track that ends (object landed, left the view or was lost for a
few frames) is judged in facade metres by `trajectory.assess`; a fall becomes a ThrowEvent unless it repeats a
fall just reported (a track broken in two by an occlusion, or two blobs of one object). An event is therefore
out `max_miss + 1` frames (~0.15 s) after the object is last seen.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.foreground import Foreground, ForegroundConfig
from pipeline.vision.throws.tracking import Track, Tracker, TrackerConfig
from pipeline.vision.throws.trajectory import Fit, TrajectoryConfig, Verdict, assess

if TYPE_CHECKING:
    from pipeline.vision.throws.evidence import EvidenceSink

EVENT_TYPE = "thrown_object"


@dataclass(frozen=True)
class ThrowEvent:
    t_start: float
    t_end: float
    release_t: float
    origin_floor: int
    origin_column: int
    origin_m: tuple[float, float]
    confidence: float
    trajectory: list[tuple[float, float, float]]
    fit: dict
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"type": EVENT_TYPE, "t_start": round(self.t_start, 3), "t_end": round(self.t_end, 3),
                "release_t": round(self.release_t, 3),
                "origin": {"floor": self.origin_floor, "column": self.origin_column,
                           "x_m": round(self.origin_m[0], 2), "y_m": round(self.origin_m[1], 2)},
                "confidence": self.confidence,
                "trajectory": [[round(t, 3), round(x, 1), round(y, 1)] for t, x, y in self.trajectory],
                "fit": self.fit, "evidence": self.evidence}


@dataclass(frozen=True)
class ThrowConfig:
    foreground: ForegroundConfig = field(default_factory=ForegroundConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    min_confidence: float = 0.2
    """Falls scoring lower are dropped: a barely-passing short track is more often an artefact than a throw."""
    duplicate_m: float = 1.2
    """A fall whose points lie within this (median, facade metres) of a reported fall's fitted curve is the same
    object: a track broken by an occlusion or a second blob of one object."""
    duplicate_window_s: float = 4.0
    """How long a reported fall is remembered for that comparison."""


@dataclass
class _Reported:
    fit: Fit
    t_end: float


class ThrowCore:
    """One camera, one facade. `process` per frame; `flush` at end of stream."""

    def __init__(self, facade: Facade, fps: float, config: ThrowConfig | None = None,
                 evidence: "EvidenceSink | None" = None) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.facade = facade
        self.fps = float(fps)
        self.cfg = config or ThrowConfig()
        self.evidence = evidence
        if evidence is not None:
            evidence.start(facade.camera, self.fps)
        self.foreground = Foreground(facade, facade.image_size, self.cfg.foreground)
        self.tracker = Tracker(facade.image_size[1], self.fps, self.cfg.tracker)
        self._reported: list[_Reported] = []
        self.rejected: list[tuple[int, Verdict]] = []  # (track id, verdict) of judged non-falls, for tuning
        self.keep_rejected = False
        self.frames = 0

    def process(self, frame: np.ndarray, t: float) -> list[ThrowEvent]:
        """frame: HxWx3 uint8 BGR or HxW grey, of the calibrated image size; t in seconds."""
        h, w = frame.shape[:2]
        if (w, h) != self.facade.image_size:
            raise ValueError(f"frame is {w}x{h}, the facade calibration is for "
                             f"{self.facade.image_size[0]}x{self.facade.image_size[1]}")
        self.frames += 1
        if self.evidence is not None:
            self.evidence.add_frame(frame, t)
        blobs = self.foreground.process(frame)
        ended = self.tracker.update(t, blobs.centres, blobs.areas)
        return self._judge(ended, t) if ended else []

    def flush(self, t: float) -> list[ThrowEvent]:
        """End of stream: judge every open track; evidence clips are finished with the frames there are."""
        events = self._judge(self.tracker.finish(), t)
        if self.evidence is not None:
            self.evidence.close(t)
        return events

    def _judge(self, tracks: list[Track], now: float) -> list[ThrowEvent]:
        self._reported = [r for r in self._reported if now - r.t_end <= self.cfg.duplicate_window_s]
        events = []
        for track in sorted(tracks, key=len, reverse=True):
            if len(track) < self.cfg.trajectory.min_points:
                continue
            ts, pts = np.asarray(track.ts), np.column_stack([track.xs, track.ys])
            verdict = assess(ts, pts, self.facade, self.cfg.trajectory)
            if not verdict.fall or verdict.confidence < self.cfg.min_confidence:
                if self.keep_rejected:
                    self.rejected.append((track.id, verdict))
                continue
            if self._is_duplicate(ts, pts):
                continue
            self._reported.append(_Reported(verdict.fit, float(ts[-1])))
            events.append(self._event(ts, pts, verdict))
        return events

    def _is_duplicate(self, ts: np.ndarray, pts_px: np.ndarray) -> bool:
        if not self._reported:
            return False
        pts_m = self.facade.image_to_facade(pts_px)
        for r in self._reported:
            tau = ts - r.fit.t_first
            model = np.column_stack([r.fit.x0 + r.fit.vx * tau, r.fit.height(tau)])
            if float(np.median(np.hypot(*(model - pts_m).T))) < self.cfg.duplicate_m:
                return True
        return False

    def _event(self, ts: np.ndarray, pts: np.ndarray, v: Verdict) -> ThrowEvent:
        fit = v.fit
        event = ThrowEvent(
            t_start=float(ts[0]), t_end=float(ts[-1]), release_t=float(ts[0] + v.release_tau),
            origin_floor=v.window[0], origin_column=v.window[1],
            origin_m=(round(v.release_m[0], 3), round(v.release_m[1], 3)), confidence=v.confidence,
            trajectory=[(float(t), float(x), float(y)) for t, (x, y) in zip(ts, pts)],
            fit={"g_mps2": round(fit.g, 2), "drag": fit.drag, "rmse_px": round(v.rmse_px, 2),
                 "rmse_m": round(fit.rmse_y_m, 3), "drop_m": round(v.drop_m, 2),
                 "v0_mps": round(fit.v0, 2), "vx_mps": round(fit.vx, 2), "points": int(len(ts))})
        if self.evidence is not None:
            event = replace(event, evidence=self.evidence.record(event, self.facade))
        return event
