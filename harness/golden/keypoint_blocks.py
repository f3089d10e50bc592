"""A pose file's ``keypoints:`` block from the annotations it is imported from: the keypoint names
(COCO's ``categories[].keypoints``; Ultralytics' ``kpt_names``) and ``flip_idx`` (Ultralytics'
data.yaml; COCO has none). Sigmas are never in the annotations: the defaults apply (docs/pose.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def keypoint_block(source: Path, kind: str) -> dict[str, list] | None:
    """``{names: [...], flip_idx: [...]}`` as far as ``source`` (COCO JSON or data.yaml) says, or None.

    Read after the annotations themselves were imported, so the file is known to be well formed; a
    list that does not fit (mixed names across categories, not strings) is left out, not guessed.
    """
    document = json.loads(source.read_text(encoding="utf-8")) if kind == "coco" else _yaml(source)
    block: dict[str, list] = {}
    if kind == "coco":
        named = [c.get("keypoints") for c in document.get("categories", []) if isinstance(c, dict)]
        named = [names for names in named if names]
        if named and all(names == named[0] for names in named):
            block["names"] = named[0]
        bones = [c.get("skeleton") for c in document.get("categories", []) if isinstance(c, dict) and c.get("skeleton")]
        if bones and all(b == bones[0] for b in bones) and _pairs(bones[0], len(block.get("names", ()))):
            block["skeleton"] = [[i - 1, j - 1] for i, j in bones[0]]  # COCO counts keypoints from 1
    else:
        kpt_names = document.get("kpt_names")
        if isinstance(kpt_names, dict) and kpt_names:
            block["names"] = next(iter(kpt_names.values()))
        if isinstance(document.get("flip_idx"), list):
            block["flip_idx"] = document["flip_idx"]
    block = {key: value for key, value in block.items() if isinstance(value, list) and value}
    if "names" in block and not all(isinstance(name, str) for name in block["names"]):
        del block["names"]
    return block or None


def _pairs(value: Any, count: int) -> bool:
    """Whether ``value`` is a list of COCO's 1-based keypoint pairs for ``count`` keypoints."""
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(type(i) is int and 1 <= i <= count for i in p) for p in value
    )


def _yaml(path: Path) -> Any:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else {}
