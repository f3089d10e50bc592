"""vision-harness: golden-case regression tests for Ultralytics YOLO detect and segment models.

The package is layered: core, casefile, evaluation, robustness, reports, golden, then the two front
doors (pytest_plugin, review_app and cli); each subpackage's docstring names its one job, and lower layers
never import higher ones (import-linter checks it, see .importlinter).

The public API is re-exported here lazily, so loading the pytest plugin stays cheap for projects
that have it installed but run no case files.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# Before anything here imports Ultralytics: no downloads, no update checks, and no pip installs
# (its patched Image.open installs a HEIF plugin when online). Set YOLO_OFFLINE=0 to allow them.
os.environ.setdefault("YOLO_OFFLINE", "1")

__version__ = "0.1.0"

_EXPORTS = {
    "BrokenCase": "casefile.schema",
    "Case": "casefile.schema",
    "CaseFile": "casefile.schema",
    "ExpectedObject": "casefile.schema",
    "MaskSpec": "casefile.schema",
    "Recorded": "casefile.schema",
    "Thresholds": "core.config",
    "load_case_file": "casefile.load",
    "CaseFileError": "core.errors",
    "HarnessError": "core.errors",
    "ImageError": "core.errors",
    "ModelError": "core.errors",
    "box_iou": "core.geometry",
    "mask_iou": "core.geometry",
    "mask_to_rle": "core.geometry",
    "polygons_to_rle": "core.geometry",
    "rle_to_mask": "core.geometry",
    "CaseVerdict": "evaluation.matching",
    "ObjectResult": "evaluation.matching",
    "match_objects": "evaluation.matching",
    "Predictions": "evaluation.predictions",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
