"""Cases and verdicts as the page draws them: plain JSON, with every mask as polygons of [x, y]
points (a raster mask traced, with the IoU the tracing keeps, so that the page can say what turning
it into an editable polygon would lose)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.casefile.schema import Case, ExpectedObject
from harness.core.geometry import RLE, trace_rle
from harness.evaluation.verdict_text import format_verdict, summarize_verdict

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict
    from harness.evaluation.models import Model


def case_view(case: Case) -> dict[str, Any]:
    """The case's name, image size, tags, review state and expected objects."""
    width, height = case.image_size
    return {
        "name": case.name,
        "size": [width, height],
        "tags": list(case.tags),
        "max_extra": case.max_extra,
        "task": case.task,
        "recorded": None
        if case.recorded is None
        else {"model": case.recorded.model, "reviewed": case.recorded.reviewed},
        "objects": [_object(obj, height, width) for obj in case.objects],
        "keypoints": None  # pose: the file's keypoint names, and the lines joining them
        if case.keypoints is None
        else {"names": list(case.keypoints.names), "skeleton": [list(pair) for pair in case.keypoints.skeleton]},
    }


def _object(obj: ExpectedObject, height: int, width: int) -> dict[str, Any]:
    view: dict[str, Any] = {
        "class": obj.class_name,
        "box": list(obj.box),
        "box_iou": obj.box_iou,
        "mask_iou": obj.mask_iou,
        "crowd": obj.crowd,
        "mask": None,
    }
    if obj.keypoints is not None:
        view["keypoints"] = [[float(x), float(y), int(v)] for x, y, v in obj.keypoints]
        view["oks"] = obj.oks
    if obj.obb is not None:
        view["obb"] = _points(obj.obb)
        view["obb_iou"] = obj.obb_iou
    mask = obj.mask
    if mask is not None and mask.polygons is not None:
        view["mask"] = {"kind": "polygon", "polygons": [_points(p) for p in mask.polygons], "trace_iou": None}
    elif mask is not None:
        polygons, iou = trace_rle(mask.to_rle(height, width))
        view["mask"] = {"kind": "rle" if mask.rle is not None else "png", "polygons": polygons_points(polygons)}
        view["mask"]["trace_iou"] = round(iou, 4)
    return view


def verdict_view(verdict: CaseVerdict, model: Model) -> dict[str, Any]:
    """Pass or fail, each expected object's IoUs against its thresholds, and every prediction."""
    predictions = verdict.predictions
    matched = {result.prediction: i for i, result in enumerate(verdict.objects) if result.prediction is not None}
    case = verdict.case
    return {
        "passed": verdict.passed,
        "summary": summarize_verdict(verdict),
        "skipped": "recorded, not reviewed: pytest skips it until it is marked reviewed"
        if case.awaiting_review
        else None,
        "model": model.name,
        "names": [model.names[k] for k in sorted(model.names)],
        "objects": [
            {
                "prediction": result.prediction,
                "box_iou": result.box_iou,
                "box_threshold": result.expected.box_iou,
                "mask_iou": result.mask_iou,
                "mask_threshold": result.expected.mask_iou,
                "check_mask": result.check_mask,
                "confidence": result.confidence,
                "problems": result.problems,
                "crowd": result.expected.crowd,
                "oks": result.oks,
                "oks_threshold": result.expected.oks,
                "obb_iou": result.obb_iou if result.check_obb else None,
                "obb_threshold": result.expected.obb_iou,
            }
            for result in verdict.objects
        ],
        "predictions": [_prediction(verdict, j, matched.get(j)) for j in range(len(predictions))],
        "extras": len(verdict.extras),
        "max_extra": case.max_extra,
        "too_many_extras": verdict.too_many_extras,
        "text": format_verdict(verdict, model_name=model.name),
    }


def _prediction(verdict: CaseVerdict, j: int, matched: int | None) -> dict[str, Any]:
    predictions = verdict.predictions
    status = "matched" if matched is not None else "ignored" if j in verdict.ignored else "extra"
    return {
        "class": predictions.class_names[j],
        "box": [round(float(v), 2) for v in predictions.boxes[j]],
        "score": round(float(predictions.scores[j]), 4),
        "polygons": _traced(predictions.masks[j]) if predictions.masks is not None else None,
        "matched": matched,
        "status": status,
        "obb": _points(predictions.oriented_corners()[j]) if predictions.obb is not None else None,
        "keypoints": None if predictions.keypoints is None else predictions.keypoints[j].round(2).tolist(),
    }


def _traced(rle: RLE) -> list[list[list[float]]]:
    return polygons_points(trace_rle(rle)[0])


def polygons_points(polygons: list[list[float]]) -> list[list[list[float]]]:
    """Flat polygons ``[x1, y1, x2, y2, ...]`` as lists of ``[x, y]`` points."""
    return [_points(p) for p in polygons]


def _points(flat) -> list[list[float]]:
    return [[float(flat[i]), float(flat[i + 1])] for i in range(0, len(flat), 2)]
