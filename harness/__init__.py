"""vision-harness: golden-case regression tests for Ultralytics YOLO detect and segment models.

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
    "BrokenCase": "cases",
    "Case": "cases",
    "CaseFile": "cases",
    "ExpectedObject": "cases",
    "MaskSpec": "cases",
    "Recorded": "cases",
    "Thresholds": "config",
    "load_case_file": "cases",
    "CaseFileError": "errors",
    "HarnessError": "errors",
    "ImageError": "errors",
    "ModelError": "errors",
    "box_iou": "geometry",
    "mask_iou": "geometry",
    "mask_to_rle": "geometry",
    "polygons_to_rle": "geometry",
    "rle_to_mask": "geometry",
    "CaseVerdict": "matching",
    "ObjectResult": "matching",
    "match_objects": "matching",
    "Predictions": "predictions",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
