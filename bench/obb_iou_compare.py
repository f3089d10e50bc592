"""How far Ultralytics' probiou is from the polygon IoU the harness uses, and the harness' OBB mAP
next to Ultralytics' ``val``, on the shipped obb suite (cases/shapes-obb.yaml) and model.

    python bench/obb_iou_compare.py [--cases cases/shapes-obb.yaml] [--model fixtures/models/shapes-obb.pt]

1. Every expected box of the suite's plain cases paired with the prediction the harness matched to
   it: polygon IoU (harness.core.oriented, shapely) and probiou (ultralytics.utils.metrics.probiou,
   the Gaussian approximation Ultralytics' OBB ``val`` and NMS use), their differences, and the pairs
   on the other side of the suite's ``obb_iou`` threshold under probiou.
2. The same rotated boxes, each one turned about its centre by 0..90 degrees against itself: the two
   IoUs of a box and its turned copy, for an elongated and a square box.
3. The suite's images and boxes written as a YOLO OBB dataset and given to ``YOLO.val`` with the
   suite's predict settings: Ultralytics' mAP50-95 / mAP50 next to the harness' (``obb.map50_95``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.casefile.load import load_case_file  # noqa: E402
from harness.casefile.schema import Case  # noqa: E402
from harness.core.oriented import oriented_iou, xywhr_to_corners  # noqa: E402
from harness.evaluation.suites import Judge  # noqa: E402


def corners_to_xywhr(corners: np.ndarray) -> np.ndarray:
    """An oriented box's centre, sides and angle from its corners (a rectangle, in order around it)."""
    points = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    centre = points.mean(axis=0)
    first, second = points[1] - points[0], points[2] - points[1]
    return np.array([*centre, np.hypot(*first), np.hypot(*second), math.atan2(first[1], first[0])])


def probiou(a: np.ndarray, b: np.ndarray) -> float:
    import torch
    from ultralytics.utils.metrics import probiou as ultralytics_probiou

    value = ultralytics_probiou(torch.tensor(a[None], dtype=torch.float64), torch.tensor(b[None], dtype=torch.float64))
    return float(value.reshape(-1)[0])


def paired_ious(cases: list[Case], judge: Judge, model: str) -> list[tuple[float, float, float]]:
    """(polygon IoU, probiou, threshold) of every matched pair of the plain cases."""
    pairs = []
    for case in cases:
        verdict = judge.verdict(case, model)
        for result in verdict.objects:
            if result.prediction is None:
                continue
            predicted = verdict.predictions.obb[result.prediction]
            expected = corners_to_xywhr(np.array(result.expected.obb))
            pairs.append((result.obb_iou, probiou(expected, predicted), result.expected.obb_iou))
    return pairs


def turned_against_itself() -> list[tuple[int, float, float, float, float]]:
    """(degrees, polygon IoU and probiou of a 60x20 box, the same of a 40x40 box) for a box turned about its centre."""
    rows = []
    for degrees in (0, 5, 10, 20, 30, 45, 60, 90):
        values = []
        for width, height in ((60.0, 20.0), (40.0, 40.0)):
            a = np.array([100.0, 100.0, width, height, 0.0])
            b = np.array([100.0, 100.0, width, height, math.radians(degrees)])
            polygon = float(oriented_iou(xywhr_to_corners(a[None]), xywhr_to_corners(b[None]))[0, 0])
            values += [polygon, probiou(a, b)]
        rows.append((degrees, *values))
    return rows


def ultralytics_val(cases: list[Case], model: str, predict: dict) -> tuple[float, float]:
    """Ultralytics' OBB mAP50-95 and mAP50 on the cases' images and boxes (a YOLO OBB dataset)."""
    from PIL import Image
    from ultralytics import YOLO

    names = YOLO(model).names
    index = {name: i for i, name in names.items()}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for sub in ("images/val", "labels/val"):
            (root / sub).mkdir(parents=True)
        for case in cases:
            width, height = case.image_size
            Image.open(case.image).save(root / "images/val" / f"{case.name}.png")
            lines = []
            for obj in case.objects:
                corners = zip(obj.obb[0::2], obj.obb[1::2], strict=True)
                lines.append(
                    f"{index[obj.class_name]} " + " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in corners)
                )
            (root / "labels/val" / f"{case.name}.txt").write_text("".join(line + "\n" for line in lines))
        data = root / "data.yaml"
        listed = "".join(f"  {i}: {name}\n" for i, name in names.items())
        data.write_text(f"path: {root}\ntrain: images/val\nval: images/val\nnames:\n{listed}")
        arguments = {k: v for k, v in predict.items() if k in ("imgsz", "agnostic_nms")}
        settings = dict(batch=1, device="cpu", plots=False, verbose=False, project=folder)
        metrics = YOLO(model).val(data=str(data), **settings, **arguments)
    return float(metrics.box.map), float(metrics.box.map50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=ROOT / "cases" / "shapes-obb.yaml")
    parser.add_argument("--model", default=str(ROOT / "fixtures" / "models" / "shapes-obb.pt"))
    args = parser.parse_args()
    case_file = load_case_file(args.cases)
    cases = [case for case in case_file.cases if isinstance(case, Case)]
    judge = Judge("cpu")

    pairs = np.array(paired_ious(cases, judge, args.model))
    difference = pairs[:, 1] - pairs[:, 0]
    flipped = int(np.sum((pairs[:, 0] >= pairs[:, 2]) != (pairs[:, 1] >= pairs[:, 2])))
    print(f"{len(pairs)} matched pairs in {len(cases)} cases of {args.cases.name}")
    print(f"polygon IoU: mean {pairs[:, 0].mean():.4f}, min {pairs[:, 0].min():.4f}")
    print(f"probiou:     mean {pairs[:, 1].mean():.4f}, min {pairs[:, 1].min():.4f}")
    print(
        f"probiou - polygon IoU: mean {difference.mean():+.4f}, mean |d| {np.abs(difference).mean():.4f}, "
        f"largest |d| {np.abs(difference).max():.4f}"
    )
    print(f"pairs on the other side of their obb_iou threshold under probiou: {flipped}")
    for threshold in (0.75, 0.9):
        polygon, gaussian = int(np.sum(pairs[:, 0] >= threshold)), int(np.sum(pairs[:, 1] >= threshold))
        print(f"pairs at or above {threshold}: polygon IoU {polygon}, probiou {gaussian}")

    print("\nA box against itself turned about its centre:")
    print("degrees  60x20 polygon  60x20 probiou  40x40 polygon  40x40 probiou")
    for degrees, *values in turned_against_itself():
        print(f"{degrees:7d}  " + "  ".join(f"{v:13.4f}" for v in values))

    result = judge.suite(case_file, args.model)
    ours = result.metrics.values
    theirs = ultralytics_val(cases, args.model, dict(case_file.predict))
    print(f"\nharness obb.map50_95 {ours['obb.map50_95']:.4f} obb.map50 {ours['obb.map50']:.4f} (the suite's predict)")
    # val's own settings: conf 0.001 and NMS at probiou 0.7 keep far more low-score detections.
    like_val = dict(case_file.predict) | {"conf": 0.001, "iou": 0.7}
    with tempfile.TemporaryDirectory() as folder:
        text = args.cases.read_text().replace("../fixtures/", f"{ROOT}/fixtures/")
        text = text.replace(f"predict: {_flow(case_file.predict)}", f"predict: {_flow(like_val)}")
        copy = Path(folder) / args.cases.name
        copy.write_text(text)
        at_val = load_case_file(copy, root=None)
        values = Judge("cpu").suite(at_val, args.model).metrics.values
    print(
        f"harness obb.map50_95 {values['obb.map50_95']:.4f} obb.map50 {values['obb.map50']:.4f} (conf 0.001, iou 0.7)"
    )
    print(f"ultralytics val mAP50-95 {theirs[0]:.4f} mAP50 {theirs[1]:.4f}")


def _flow(values: dict) -> str:
    """A predict mapping as the case file writes it: ``{imgsz: 256, conf: 0.25, ...}``."""
    return "{" + ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items()) + "}"


if __name__ == "__main__":
    main()
