"""A pose file's ``keypoints:`` block from the model itself, for ``vision-harness new``.

Ultralytics 8.4 keeps on a pose model (and in an export's metadata) its ``kpt_shape``, its
``kpt_names`` (``{class: [name, ...]}``, the training data's, else ``"0"``, ``"1"``, ...) and its
``kpt_oks_sigmas`` (the data's, else None); the data's ``flip_idx`` it does not keep, only the path
of the data.yaml it was trained on (``args["data"]``). What the model lacks is left out of the
block, with a comment saying what to add by hand, and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap

from harness.casefile.edit import flow
from harness.core.keypoints import default_sigmas


@dataclass(frozen=True)
class ModelKeypoints:
    """What a pose model says about its keypoints; None where it says nothing usable."""

    count: int
    names: tuple[str, ...] | None
    flip_idx: tuple[int, ...] | None
    sigmas: tuple[float, ...] | None
    data: str | None  # the training data.yaml the model names (its flip_idx is there)


def model_keypoints(yolo: Any, count: int) -> ModelKeypoints:
    """Read ``count`` keypoints' names, ``flip_idx`` and sigmas from a loaded Ultralytics pose model."""
    args = _attribute(yolo, "args")
    data = args.get("data") if isinstance(args, dict) else None
    return ModelKeypoints(
        count,
        _names(_attribute(yolo, "kpt_names"), count),
        _flip_idx(_attribute(yolo, "flip_idx"), count),
        _sigmas(_attribute(yolo, "kpt_oks_sigmas"), count),
        data if isinstance(data, str) else None,
    )


def _attribute(yolo: Any, name: str) -> Any:
    """``name`` of the network (a .pt model), else of the predictor's backend (an export's metadata)."""
    for holder in (getattr(yolo, "model", None), getattr(getattr(yolo, "predictor", None), "model", None)):
        value = getattr(holder, name, None)
        if value is not None:
            return value
    return None


def _names(kpt_names: Any, count: int) -> tuple[str, ...] | None:
    """The names every class agrees on, unless they are Ultralytics' stand-ins ``0``, ``1``, ..."""
    if not isinstance(kpt_names, dict) or not kpt_names:
        return None
    lists = [tuple(names) for names in kpt_names.values() if isinstance(names, (list, tuple))]
    if len(lists) != len(kpt_names) or len(set(lists)) != 1:
        return None  # classes named differently: one block cannot say it
    names = lists[0]
    if len(names) != count or not all(isinstance(n, str) and n for n in names) or len(set(names)) != count:
        return None
    return None if names == tuple(str(i) for i in range(count)) else names


def _flip_idx(value: Any, count: int) -> tuple[int, ...] | None:
    """A flip_idx the case file would accept: one index per keypoint, its own inverse."""
    if not isinstance(value, Sequence) or len(value) != count:
        return None
    if not all(type(i) is int and 0 <= i < count for i in value):
        return None
    flip = tuple(value)
    return flip if all(flip[j] == i for i, j in enumerate(flip)) else None


def _sigmas(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        sigmas = tuple(float(s) for s in value)
    except (TypeError, ValueError):
        return None
    return sigmas if len(sigmas) == count and all(s > 0 for s in sigmas) else None


def keypoints_block(keypoints: ModelKeypoints, model_name: str) -> CommentedMap:
    """The ``keypoints:`` block for a new file: names (the model's, else ``k0``...), flip_idx and
    sigmas when the model has them; a comment under it for what the model leaves to the person."""
    count = keypoints.count
    block = CommentedMap()
    block["names"] = flow(keypoints.names or [f"k{i}" for i in range(count)])
    first = f"{model_name}'s own (kpt_names)"
    if keypoints.names is None:
        first = f"stand-ins: {model_name} names none; name them (failure tables and pictures show them)"
    comments = {"names": first}
    if keypoints.flip_idx is not None:
        block["flip_idx"] = flow(keypoints.flip_idx)
        comments["flip_idx"] = f"{model_name}'s: what a mirror turns each keypoint into"
    if keypoints.sigmas is not None:
        block["sigmas"] = flow(round(s, 6) for s in keypoints.sigmas)
        comments["sigmas"] = f"{model_name}'s kpt_oks_sigmas, as Ultralytics' validator uses them"
    notes = []
    if keypoints.flip_idx is None:
        where = f" (Ultralytics' flip_idx, in {keypoints.data})" if keypoints.data else " (Ultralytics' flip_idx)"
        notes += [
            f"flip_idx: not in {model_name}; add it{where}",
            "so that hflip and vflip variants swap left and right keypoints (without it they keep their names)",
        ]
    if keypoints.sigmas is None:
        notes += [
            f"sigmas: left out, so OKS uses the defaults ({default_sigmas(count)[1]});",
            "give them where keypoints must be precise (docs/pose.md, Sigmas)",
        ]
    last = list(block)[-1]
    for key, comment in comments.items():
        lines = [comment] + (notes if key == last else [])
        # Lines after the last key's comment belong to it in ruamel's model: they print under the block.
        block.yaml_add_eol_comment("# " + "\n  # ".join(lines), key)
    return block
