"""Where the detector's ONNX file comes from, and a check that it is the file we think it is.

Weights are data, not code: they are never committed and never downloaded at run time. A missing
model is a configuration error whose message says how to get one.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from pipeline.settings import REPO_ROOT

MODELS_DIR = REPO_ROOT / "models"
REGISTRY = MODELS_DIR / "registry.yaml"
ENV_VAR = "SCA_DETECTOR_MODEL"
COMPUTE_ENV_VAR = "SCA_DETECTOR_COMPUTE"  # auto | float | model: see pipeline.vision.firelane.dequantize


class ModelNotFound(FileNotFoundError):
    """No detector file was configured or found; the message says how to get one."""


class ModelMismatch(ValueError):
    """A file whose name is in the registry has another sha256 (truncated or replaced)."""


HOW_TO_GET = (
    "export one with Ultralytics (`pip install ultralytics && yolo export model=yolov8n.pt format=onnx`) "
    f"and copy it into {MODELS_DIR}/, or set {ENV_VAR} to an existing file, "
    f"e.g. {ENV_VAR}=../shared/models/yolov8n-coco-int8-640.onnx"
)


def registry(path: Path = REGISTRY) -> dict[str, dict]:
    """Known model files by name: {name: {"sha256": ..., "imgsz": ...}}; empty when there is no registry."""
    if not path.exists():
        return {}
    entries = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", [])
    return {entry["name"]: entry for entry in entries}


def find_model(path: str | os.PathLike | None = None, models_dir: Path = MODELS_DIR) -> Path:
    """Explicit path, else $SCA_DETECTOR_MODEL, else the registry's files in models/, else any models/*.onnx."""
    for source, candidate in (("path", path), (ENV_VAR, os.environ.get(ENV_VAR) or None)):
        if candidate is not None:
            found = Path(candidate).expanduser()
            if not found.is_file():
                raise ModelNotFound(f"detector model not found: {found} (from {source}); {HOW_TO_GET}")
            return found
    for name in registry():
        if (models_dir / name).is_file():
            return models_dir / name
    others = sorted(models_dir.glob("*.onnx")) if models_dir.is_dir() else []
    if others:
        return others[0]
    raise ModelNotFound(f"no detector model configured and none in {models_dir}/; {HOW_TO_GET}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, known: dict[str, dict] | None = None) -> bool:
    """True when the file is in the registry and matches; False when unlisted; raise when listed but different."""
    entry = (registry() if known is None else known).get(Path(path).name)
    if entry is None:
        return False
    actual = sha256(Path(path))
    if actual != entry["sha256"]:
        raise ModelMismatch(f"{path}: sha256 {actual} differs from the registry's {entry['sha256']} "
                            f"(truncated or replaced file?); {HOW_TO_GET}")
    return True
