"""How long COCO mAP takes with each engine on the same synthetic data, and whether the numbers agree.

Generates, from a seed, one COCO bbox set (default 5,000 images of 640x480) and one segm set
(default 2,000 images of 320x240), both with 0-8 objects per image over 3-10 categories, a few
crowd regions, and detections that are jittered ground truth (some missed, some mislabelled) plus
false positives, with random scores. Then times, end to end from the in-memory COCO dicts
(building the engine's datasets, loading the detections, evaluate + accumulate, and summarize
where the engine has it), each of:

- ``harness``: ``harness.evaluation.metrics.coco_map_values``, what suite metrics use (on whichever engine it wraps);
- ``pycocotools``: ``COCOeval``, the reference, timed once (it is the slow one);
- ``faster-coco-eval``: ``COCOeval_faster`` used directly, with its defaults;
- ``hotcoco``: ``hotcoco.COCOeval``, when hotcoco is importable.

Each engine but pycocotools is timed best of ``--repeats`` runs (time.perf_counter). Input
copying for the engines that write into their inputs is done before the clock starts; the
harness's own defensive copy is part of its time. The table gives seconds per set, the speed-up
over pycocotools (pycocotools seconds / engine seconds), and the largest absolute difference from
pycocotools in any of COCOeval.summarize()'s stats 0-5 (AP, AP50, AP75, AP small / medium /
large) over both sets; an undefined value (-1) on one side only counts as a difference of 1+.

Run from the repository root: ``python bench/metrics_engines.py [--images 5000] [--segm-images 2000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

STATS = ("map50_95", "map50", "map75", "map_small", "map_medium", "map_large")
IOU_TYPE = {"box": "bbox", "mask": "segm"}
SCORE_DECIMALS = 3  # detectors report rounded scores, so some tie, as in practice


# --- synthetic data ------------------------------------------------------------------------------


def _categories(rng: np.random.Generator) -> list[dict]:
    return [{"id": i, "name": f"class{i}"} for i in range(1, int(rng.integers(3, 11)) + 1)]


def _jitter(rng: np.random.Generator, box: np.ndarray, scale: float) -> np.ndarray:
    x, y, w, h = box
    dx, dy, dw, dh = rng.normal(0.0, scale, 4)
    return np.array([x + dx * w, y + dy * h, max(w * (1 + dw), 1.0), max(h * (1 + dh), 1.0)])


def _score(rng: np.random.Generator, good: bool) -> float:
    value = rng.beta(5, 2) if good else rng.beta(2, 5)
    return round(float(value), SCORE_DECIMALS)


def box_set(images: int, seed: int) -> tuple[dict, list[dict]]:
    """A COCO bbox ground truth dict and results list, ``images`` images of 640x480."""
    rng = np.random.default_rng(seed)
    categories = _categories(rng)
    width, height = 640, 480
    gt_images, annotations, detections = [], [], []
    for image_id in range(1, images + 1):
        gt_images.append({"id": image_id, "width": width, "height": height})
        for _ in range(int(rng.integers(0, 9))):
            # Log-uniform sides from 4 to 400 px: every COCO area range is well represented.
            w, h = np.exp(rng.uniform(np.log(4), np.log(400), 2))
            w, h = min(w, width - 1), min(h, height - 1)
            box = np.array([rng.uniform(0, width - w), rng.uniform(0, height - h), w, h])
            category = categories[int(rng.integers(len(categories)))]["id"]
            crowd = int(rng.random() < 0.01)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "bbox": [round(float(v), 2) for v in box],
                    "area": float(w * h),
                    "iscrowd": crowd,
                }
            )
            if rng.random() < 0.85:  # found, usually with the right class
                if rng.random() < 0.05:
                    category = categories[int(rng.integers(len(categories)))]["id"]
                detections.append(_box_detection(image_id, category, _jitter(rng, box, 0.08), _score(rng, True)))
        for _ in range(int(rng.integers(0, 4))):  # false positives
            w, h = np.exp(rng.uniform(np.log(4), np.log(300), 2))
            box = np.array([rng.uniform(0, width - w), rng.uniform(0, height - h), w, h])
            category = categories[int(rng.integers(len(categories)))]["id"]
            detections.append(_box_detection(image_id, category, box, _score(rng, False)))
    return {"images": gt_images, "annotations": annotations, "categories": categories}, detections


def _box_detection(image_id: int, category: int, box: np.ndarray, score: float) -> dict:
    return {"image_id": image_id, "category_id": category, "bbox": [round(float(v), 2) for v in box], "score": score}


def _blob(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random ellipse or rectangle, sides 4 to 200 px, as a dense mask (height, width)."""
    w, h = np.exp(rng.uniform(np.log(4), np.log(200), 2))
    w, h = min(w, width - 2), min(h, height - 2)
    x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
    mask = np.zeros((height, width), dtype=np.uint8)
    if rng.random() < 0.5:
        mask[int(y) : int(y + h) + 1, int(x) : int(x + w) + 1] = 1
    else:
        ys, xs = np.ogrid[:height, :width]
        mask[((xs + 0.5 - x - w / 2) / (w / 2)) ** 2 + ((ys + 0.5 - y - h / 2) / (h / 2)) ** 2 <= 1] = 1
    return mask


def _moved(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """``mask`` shifted by up to ~5% of its size (no wrap-around), as a detector's slightly-off mask."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    reach = max(1, round(max(np.ptp(xs), np.ptp(ys)) / 20)) if len(xs) else 1  # larger objects, larger errors
    dx, dy = (int(v) for v in rng.integers(-reach, reach + 1, 2))
    out = np.zeros_like(mask)
    out[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = mask[
        max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def mask_set(images: int, seed: int) -> tuple[dict, list[dict]]:
    """A COCO segm ground truth dict and results list (compressed RLE), ``images`` images of 320x240."""
    from pycocotools import mask as mask_utils

    def encode(mask: np.ndarray) -> dict:
        rle = mask_utils.encode(np.asfortranarray(mask))
        return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}  # JSON form, as files hold it

    rng = np.random.default_rng(seed + 1)
    categories = _categories(rng)
    width, height = 320, 240
    gt_images, annotations, detections = [], [], []
    for image_id in range(1, images + 1):
        gt_images.append({"id": image_id, "width": width, "height": height})
        for _ in range(int(rng.integers(0, 9))):
            mask = _blob(rng, width, height)
            rle = encode(mask)
            category = categories[int(rng.integers(len(categories)))]["id"]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category,
                    "segmentation": rle,
                    "bbox": [float(v) for v in mask_utils.toBbox(mask_utils.encode(np.asfortranarray(mask)))],
                    "area": float(mask.sum()),
                    "iscrowd": int(rng.random() < 0.01),
                }
            )
            if rng.random() < 0.85:
                if rng.random() < 0.05:
                    category = categories[int(rng.integers(len(categories)))]["id"]
                detections.append(
                    {
                        "image_id": image_id,
                        "category_id": category,
                        "segmentation": encode(_moved(rng, mask)),
                        "score": _score(rng, True),
                    }
                )
        for _ in range(int(rng.integers(0, 4))):
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": categories[int(rng.integers(len(categories)))]["id"],
                    "segmentation": encode(_blob(rng, width, height)),
                    "score": _score(rng, False),
                }
            )
    return {"images": gt_images, "annotations": annotations, "categories": categories}, detections


# --- engines: each takes (gt, dt, kind) and returns stats 0-5, -1 where undefined -----------------


def run_harness(gt: dict, dt: list[dict], kind: str) -> list[float]:
    from harness.evaluation.metrics import coco_map_values

    values = coco_map_values(gt, dt, kind)
    return [values.get(f"{kind}.{name}", -1.0) for name in STATS]


def run_pycocotools(gt: dict, dt: list[dict], kind: str) -> list[float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO()
        ground_truth.dataset = gt
        ground_truth.createIndex()
        evaluation = COCOeval(ground_truth, ground_truth.loadRes(dt), IOU_TYPE[kind])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(v) for v in evaluation.stats[:6]]


def run_faster_coco_eval(gt: dict, dt: list[dict], kind: str) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = COCO(gt)
        evaluation = COCOeval_faster(ground_truth, ground_truth.loadRes(dt), IOU_TYPE[kind])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(v) for v in evaluation.stats[:6]]


def run_hotcoco(gt: dict, dt: list[dict], kind: str) -> list[float]:
    import hotcoco

    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth = hotcoco.COCO(gt)
        evaluation = hotcoco.COCOeval(ground_truth, ground_truth.loadRes(dt), IOU_TYPE[kind])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(v) for v in list(evaluation.stats)[:6]]


def available_engines() -> dict[str, Callable[[dict, list[dict], str], list[float]] | str]:
    """Engine name -> runner, or the reason it is skipped."""
    engines: dict[str, Callable | str] = {
        "harness": run_harness,
        "pycocotools": run_pycocotools,
        "faster-coco-eval": run_faster_coco_eval,
    }
    try:
        import hotcoco  # noqa: F401
    except ImportError as exc:
        engines["hotcoco"] = f"skipped: {exc}"
    else:
        engines["hotcoco"] = run_hotcoco
    return engines


# --- timing and the table ------------------------------------------------------------------------


def time_engine(run: Callable, gt: dict, dt: list[dict], kind: str, repeats: int) -> tuple[float, list[float]]:
    """Best wall time of ``repeats`` runs on fresh copies of the inputs, and the stats of the last."""
    best, stats = float("inf"), []
    for _ in range(repeats):
        gt_copy, dt_copy = copy.deepcopy(gt), copy.deepcopy(dt)  # engines annotate their inputs in place
        start = time.perf_counter()
        stats = run(gt_copy, dt_copy, kind)
        best = min(best, time.perf_counter() - start)
    return best, stats


def largest_difference(stats: list[float], reference: list[float]) -> float:
    differences = []
    for ours, theirs in zip(stats, reference, strict=True):
        if (ours == -1) != (theirs == -1):
            differences.append(1.0 + abs(ours - theirs))  # defined on one side only
        else:
            differences.append(abs(ours - theirs))
    return max(differences)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Timings are wall clock on this machine; run it on an otherwise idle machine for figures to quote.",
    )
    parser.add_argument("--images", type=int, default=5000, help="images in the bbox set (default: %(default)s)")
    parser.add_argument(
        "--segm-images", type=int, default=2000, help="images in the segm set, 320x240 (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: %(default)s)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per engine except pycocotools, which runs once; the best counts (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.images < 1 or args.segm_images < 1 or args.repeats < 1:
        parser.error("--images, --segm-images and --repeats must be at least 1")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # harness, when run from anywhere
    logging.getLogger("faster_coco_eval").setLevel(logging.WARNING)
    started = time.perf_counter()
    sets = {"box": box_set(args.images, args.seed), "mask": mask_set(args.segm_images, args.seed)}
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; pycocotools {_version('pycocotools')}, "
        f"faster-coco-eval {_version('faster-coco-eval')}, hotcoco {_version('hotcoco')}, numpy {np.__version__}"
    )
    for kind, (gt, dt) in sets.items():
        print(
            f"{IOU_TYPE[kind]}: {len(gt['images'])} images, {len(gt['annotations'])} ground-truth objects, "
            f"{len(dt)} detections, {len(gt['categories'])} categories"
        )
    print(f"(data generated in {time.perf_counter() - started:.1f} s)\n")

    engines = available_engines()
    reference: dict[str, list[float]] = {}
    results: dict[str, dict[str, tuple[float, list[float]]] | str] = {}
    for name in ("pycocotools", *(n for n in engines if n != "pycocotools")):  # the reference first
        run = engines[name]
        if isinstance(run, str):
            results[name] = run
            continue
        try:
            results[name] = {
                kind: time_engine(run, gt, dt, kind, 1 if name == "pycocotools" else args.repeats)
                for kind, (gt, dt) in sets.items()
            }
        except Exception as exc:  # an engine that fails is reported, not fatal for the others
            results[name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        if name == "pycocotools":
            reference = {kind: stats for kind, (_, stats) in results[name].items()}

    header = ("engine", "bbox s", "segm s", "bbox speed-up", "segm speed-up", "max |diff| vs pycocotools")
    rows = []
    for name, result in results.items():
        if isinstance(result, str):
            rows.append((name, result, "", "", "", ""))
            continue
        pyco = results["pycocotools"]
        if isinstance(pyco, str):  # no reference to compare with
            rows.append((name, f"{result['box'][0]:.3f}", f"{result['mask'][0]:.3f}", "", "", ""))
            continue
        difference = max(largest_difference(result[kind][1], reference[kind]) for kind in sets)
        rows.append(
            (
                name,
                f"{result['box'][0]:.3f}",
                f"{result['mask'][0]:.3f}",
                f"{pyco['box'][0] / result['box'][0]:.1f}x",
                f"{pyco['mask'][0] / result['mask'][0]:.1f}x",
                f"{difference:.1e}",
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    print("\nreference stats 0-5 (pycocotools):")
    for kind, stats in reference.items():
        values = ", ".join(f"{name} {value:.4f}" for name, value in zip(STATS, stats, strict=True))
        print(f"  {IOU_TYPE[kind]}: {values}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
