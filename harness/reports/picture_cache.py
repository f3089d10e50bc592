"""Overlay pictures drawn once: a rerun whose verdict of a case is unchanged copies its pictures.

Drawing a case's overlay (decode the image, rasterise masks, label objects, encode a PNG) costs about
40 ms here, and the default draws every failing case on every run: on a warm run, with every
prediction cached, that was a quarter of the time. A picture depends only on the image's bytes, the
transform of a variant, the verdict (every box, mask, score and IoU) and the libraries drawing it,
so those are its key; the pictures live beside the prediction cache and go with ``--cache-clear``.
Each file carries its sha256 (``harness.core.sealed``): a damaged picture is drawn again, never copied.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.sealed import SCHEME, read_sealed, write_sealed
from harness.evaluation.prediction_cache import file_digest, library_versions

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict

# Bump when the pictures change for the same verdict (another layout, colours, labels, sizes).
PICTURE_FORMAT = 2
KINDS = ("png", "thumbnail.webp", "picture.webp")  # the overlay file, the report's thumbnail and detail view


def picture_key(verdict: CaseVerdict, **drawing: Any) -> str | None:
    """A sha256 over everything a case's pictures show; None when the image cannot be read."""

    case = verdict.case
    try:
        stat = case.image.stat()
        image = file_digest(str(case.image), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return None
    predictions = verdict.predictions
    parts = {
        "format": PICTURE_FORMAT,
        "sealed": SCHEME,
        "drawing": drawing,
        "versions": library_versions(),
        "image": image,
        "transform": case.transform.cache_id if case.transform else None,
        "case": [case.name, case.image_size, case.max_extra],
        "expected": [[o.class_name, o.box, o.box_iou, o.mask_iou, o.crowd] for o in case.objects],
        "expected_masks": [_counts(rle) for rle in verdict.expected_masks],
        "results": [[r.prediction, r.box_iou, r.mask_iou, r.check_mask] for r in verdict.objects],
        "predictions": [predictions.boxes.tolist(), predictions.class_names, predictions.scores.tolist()],
        "masks": [_counts(rle) for rle in predictions.masks] if predictions.masks is not None else None,
        "extras": verdict.extras,
        "ignored": verdict.ignored,
        # Oriented boxes and ranked classes (obb, classify), drawn too: absent for the other tasks.
        **({"obb": [predictions.obb.tolist(), [o.obb for o in case.objects]]} if predictions.obb is not None else {}),
        **({"ranked": [predictions.ranked, case.label]} if predictions.ranked is not None else {}),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _counts(rle: dict | None) -> str | None:
    if rle is None:
        return None
    counts = rle["counts"]
    return counts.decode() if isinstance(counts, bytes) else str(counts)


class PictureCache:
    """Pictures by key under one folder: ``KEY.png``, ``KEY.thumbnail.webp``, ``KEY.picture.webp``, each sealed."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def get(self, key: str, kinds: tuple[str, ...]) -> dict[str, bytes] | None:
        """Every one of ``kinds`` stored under ``key``, or None when one is missing or damaged."""
        found = {}
        for kind in kinds:
            picture = read_sealed(self._path(key, kind), f"{key}.{kind}")
            if picture is None:
                return None
            found[kind] = bytes(picture)
        return found

    def put(self, key: str, pictures: dict[str, bytes]) -> None:
        for kind, data in pictures.items():
            write_sealed(self._path(key, kind), data, f"{key}.{kind}")

    def _path(self, key: str, kind: str) -> Path:
        return self.folder / key[:2] / f"{key}.{kind}"
