"""Thrown-object (高空抛物) vision core: frames of a camera looking up at a facade in, fall events out.

calibration  image <-> facade-metres homography, floor/column of a point
foreground   cheap moving-pixel mask at reduced resolution, robust to lighting, shake and swaying things
tracking     gated nearest-neighbour tracks of small blobs
trajectory   gravity-with-drag fit in facade metres, the verdict and the release point
evidence     frame ring buffer, clip + annotated image per event
core         ThrowCore: the pieces wired per frame; ThrowEvent, ThrowConfig
"""
from pipeline.vision.throws.calibration import Facade
from pipeline.vision.throws.core import ThrowConfig, ThrowCore, ThrowEvent
from pipeline.vision.throws.evidence import DirectoryEvidence, EvidenceSink

__all__ = ["DirectoryEvidence", "EvidenceSink", "Facade", "ThrowConfig", "ThrowCore", "ThrowEvent"]
