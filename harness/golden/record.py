"""Adding golden cases to a case file: from annotations (import) or from a model's predictions (record).

Imported cases are a person's annotations and run as golden cases at once. Recorded cases carry
``recorded: {model: NAME, reviewed: false}`` and are skipped until a person has checked them
(``vision-harness review``), because a model judged against its own output always passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.casefile.edit import CaseDocument, case_entry, case_name, new_document, number, relative
from harness.casefile.load import load_case_file
from harness.core.config import resolve_model
from harness.core.errors import CaseFileError, DatasetError, HarnessError, display_path
from harness.core.geometry import RLE
from harness.evaluation.models import Model, file_sha256
from harness.evaluation.predictions import Predictions
from harness.golden.model_keypoints import keypoints_block, model_keypoints


@dataclass(frozen=True)
class NewCase:
    """A case about to be written: its image and expected objects, in case-file form.

    ``objects`` are mappings with ``class``, ``box`` ([x1, y1, x2, y2] pixels) and optionally
    ``mask`` (a polygon of [x, y] points, a list of them, or ``{rle: {size, counts}}``), ``crowd``,
    ``box_iou``, ``mask_iou`` and, for pose, ``keypoints`` ([[x, y, v], ...]) and ``area``.
    """

    image: Path
    objects: tuple[Mapping[str, Any], ...]
    name: str | None = None  # None: made from the image's file name
    tags: tuple[str, ...] = ()
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    recorded: Mapping[str, Any] | None = None
    label: str | None = None  # a classify case: its expected class (and no objects)


@dataclass(frozen=True)
class ModelInfo:
    """What adding cases needs to know about a model: where it is, its task and class names."""

    spec: str
    task: str
    names: tuple[str, ...]
    trust_pickles: bool = False  # loaded as a plain pickle (code in it runs), not safely

    @classmethod
    def load(cls, spec: str, *, trust_pickles: bool = False) -> ModelInfo:
        model = Model(spec, None, trust_pickles=trust_pickles)
        return cls(spec, model.task, tuple(model.names[i] for i in sorted(model.names)), trust_pickles)

    @property
    def name(self) -> str:
        return Path(self.spec).name


def target(
    out: Path, model: str | None, predict: Mapping[str, Any] | None, *, trust_pickles: bool = False
) -> tuple[ModelInfo, Mapping[str, Any]]:
    """The model and predict arguments new cases for ``out`` are made with.

    A new file takes them from the command line (``--model`` is required); an existing file keeps
    its own, so recorded predictions are the ones its cases will be judged on.
    """

    if out.exists():
        case_file = load_case_file(out, check_compare_to=False)  # recording does not use the export
        if predict:
            raise CaseFileError(out, "the file sets its own predict arguments: edit them there", field="predict")
        spec = resolve_model(model, Path.cwd()) if model else case_file.model
        if spec is None:
            raise CaseFileError(out, "the file names no model: give --model", field="model")
        _check_pin(out, spec, case_file.model, case_file.model_sha256)
        return ModelInfo.load(spec, trust_pickles=trust_pickles), case_file.predict
    if model is None:
        raise HarnessError(f"{out} does not exist yet: give --model, the model its cases are for")
    return ModelInfo.load(resolve_model(model, Path.cwd()), trust_pickles=trust_pickles), dict(predict or {})


def _check_pin(out: Path, spec: str, pinned_path: str | None, sha256: str | None) -> None:
    """A file that pins its model's sha256 gets cases only from that very file (checked before unpickling)."""

    if sha256 and spec == pinned_path and file_sha256(spec) != sha256:
        raise CaseFileError(
            out, f"{Path(spec).name} is not the model the file pins (sha256 {sha256})", field="model.sha256"
        )


def check_classes(source: Path, used: Sequence[str], declared: Sequence[str], model: ModelInfo) -> None:
    """Every class the annotations use must be a class of the model, by name.

    Raises:
        DatasetError: listing the dataset's classes and the model's, so the mismatch is plain to see.
    """
    unknown = sorted(set(used) - set(model.names))
    if unknown:
        raise DatasetError(
            source,
            "classes",
            f"{', '.join(map(repr, unknown))} not classes of {model.name}; "
            f"dataset classes: {', '.join(declared)}; model classes: {', '.join(model.names)} "
            "(class names must match the model's exactly: rename them in the annotations, or use another model)",
        )


def add_cases(
    out: Path,
    cases: Sequence[NewCase],
    *,
    model: ModelInfo,
    predict: Mapping[str, Any],
    header: str,
    keypoints: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write ``cases`` to the case file ``out``: a new file, or appended to an existing one.

    ``keypoints`` (pose: ``names``, ``flip_idx``) becomes a new file's ``keypoints:`` block.

    Returns the names the cases were given (unique in the file). Nothing is written unless every
    case loads. An existing file keeps its model, settings and comments.
    """
    if out.exists():
        document = _existing(out, model)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)  # `--out cases/new.yaml` in a fresh project
        except OSError as exc:
            raise HarnessError(f"{out}: cannot make the folder {out.parent}: {exc.strerror}") from None
        model_path = relative(Path(model.spec), out.parent)
        document = new_document(
            out, model=model_path, task=model.task, predict=predict, header=header, keypoints=keypoints
        )
    if document.cases.fa.flow_style():
        document.cases.fa.set_block_style()  # `cases: [...]` on one line would become unreadable
    taken = {entry.get("name") for entry in document.cases if isinstance(entry, Mapping)}
    names = []
    for case in cases:
        wanted = case.name or case.image.stem
        if case.name and case.name not in taken:
            taken.add(case.name)
            name = case.name
        else:
            name = case_name(wanted, taken)
        names.append(name)
        document.cases.append(
            case_entry(
                name,
                relative(case.image, out.parent),
                case.objects,
                tags=case.tags,
                thresholds=case.thresholds,
                recorded=case.recorded,
                label=case.label,
            )
        )
    document.save(changed=names)
    return names


def _existing(out: Path, model: ModelInfo) -> CaseDocument:
    case_file = load_case_file(out, check_compare_to=False)
    if case_file.model and Path(case_file.model).resolve() != Path(model.spec).resolve():
        raise CaseFileError(
            out,
            f"the file runs {case_file.model}, not {model.spec}: leave --model out to add cases for the "
            "file's model, or write to another file",
            field="model",
        )
    if case_file.task and case_file.task != model.task:
        raise CaseFileError(out, f"the file is for {case_file.task} models, {model.name} is {model.task}", field="task")
    return CaseDocument.load(out)


def predicted_objects(predictions: Predictions, indices: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Predictions in case-file form: class, box, and the exact predicted mask as COCO RLE (an obb
    model's: class and oriented box corners)."""
    objects = []
    corners = predictions.oriented_corners()
    for j in range(len(predictions)) if indices is None else indices:
        obj: dict[str, Any] = {"class": predictions.class_names[j]}
        if predictions.obb is not None:
            obj["obb"] = [[number(x), number(y)] for x, y in corners[j].reshape(4, 2)]
        else:
            obj["box"] = [number(v) for v in predictions.boxes[j]]
        if predictions.masks is not None:
            obj["mask"] = rle_mask(predictions.masks[j])
        if predictions.keypoints is not None:
            obj["keypoints"] = recorded_keypoints(predictions.keypoints[j], predictions.image_size)
        objects.append(obj)
    return objects


# A predicted keypoint below this confidence is recorded unlabelled (v=0): Ultralytics draws none
# under 0.25; a golden keypoint should be one the model is sure of, and the reviewer can add the rest.
RECORDED_KEYPOINT_CONFIDENCE = 0.5


def recorded_keypoints(keypoints: Any, image_size: tuple[int, int]) -> list[list[float]]:
    """A prediction's keypoints as case-file ``[x, y, v]``: visible (2) when confident and inside the
    image, else unlabelled (``[0, 0, 0]``, as COCO writes one)."""
    width, height = image_size
    return [
        [number(x), number(y), 2]
        if conf >= RECORDED_KEYPOINT_CONFIDENCE and 0 <= x <= width and 0 <= y <= height
        else [0, 0, 0]
        for x, y, conf in keypoints.tolist()
    ]


def rle_mask(rle: RLE) -> dict[str, Any]:
    """A pycocotools RLE as a case file's ``{rle: {size, counts}}`` (counts as COCO's compressed string)."""
    counts = rle["counts"]
    return {
        "rle": {"size": list(rle["size"]), "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    }


def record(
    images: Sequence[Path],
    out: Path,
    *,
    model: ModelInfo,
    predict: Mapping[str, Any],
    device: str | None = None,
) -> list[str]:
    """``vision-harness new``: cases from the model's predictions on ``images``, marked not reviewed."""

    runner = Model(model.spec, device, trust_pickles=model.trust_pickles)
    runner.predict_many([image.resolve() for image in images], predict)  # batched, as the plugin predicts
    cases = []
    for image in images:
        predictions = runner.predict(image.resolve(), predict)
        cases.append(
            NewCase(
                image=image.resolve(),
                objects=tuple(predicted_objects(predictions)),
                recorded={"model": model.name, "reviewed": False},
                # A classify model's top class is the recorded label (its ranked list is empty of none).
                label=predictions.ranked[0][0] if predictions.ranked else None,
            )
        )
    header = (
        f"Recorded from {model.name}'s predictions by vision-harness new. Check each case with\n"
        f"`vision-harness review {display_path(out)}`, then mark it reviewed (`--mark-reviewed`)."
    )
    keypoints = None
    if runner.task == "pose" and runner.kpt_shape:  # a new file's `keypoints:` block, from the model
        keypoints = keypoints_block(model_keypoints(runner.yolo, runner.kpt_shape[0]), model.name)
    return add_cases(out, cases, model=model, predict=predict, header=header, keypoints=keypoints)
