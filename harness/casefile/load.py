"""Loading a case file: the file's keys and each case, validated; errors name file, case and field.

File-level errors (bad YAML, unknown keys, a missing model) make the whole file unusable; an error
inside one case only breaks that case, so the other cases of the file still run. See docs/case-files.md.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from harness.casefile.fields import Fields, describe_value, parse_object
from harness.casefile.schema import (
    CASE_KEYS,
    CASE_NAME,
    COMPARE_TO_KEYS,
    FILE_KEYS,
    RECORDED_KEYS,
    RESERVED_PREDICT,
    SUITE_ITEM,
    TAG_NAME,
    TASKS,
    BrokenCase,
    Case,
    CaseFile,
    Recorded,
    VariantSpec,
)
from harness.casefile.search_spec import parse_search, search_spec
from harness.casefile.yaml_parse import FAST_SAFE_LOADER, YamlLimitError, parse_yaml, python_parser_error, yaml_problem
from harness.core.config import (
    BUILT_IN_THRESHOLDS,
    MAX_CASE_FILE_MB,
    METRICS,
    CompareTo,
    Gate,
    Thresholds,
    check_confidence,
    resolve_model,
)
from harness.core.errors import CaseFileError, ImageError
from harness.core.images import image_size
from harness.core.transforms import Transform, parse_transform

SHA256 = re.compile(r"[0-9a-f]{64}")


def load_case_file(
    path: Path,
    *,
    defaults: Thresholds = BUILT_IN_THRESHOLDS,
    check_model: bool = True,
    parse_cache: Path | None = None,
    check_compare_to: bool | None = None,
    max_mb: float = MAX_CASE_FILE_MB,
    document: Any = None,
) -> CaseFile:
    """Read and validate a case file. With ``parse_cache`` (a folder), YAML parsed once is kept there,
    by the text's sha256, so that an unchanged file is not parsed again (big suites collect faster).
    ``check_model`` and ``check_compare_to`` (which follows ``check_model`` unless given) say whether
    the files named by ``model`` and ``compare_to`` must exist. A file over ``max_mb`` megabytes is
    refused before it is read. ``document`` is the file's YAML document when the caller has parsed it
    already (``read_document``), so that it is not read twice.

    Raises:
        CaseFileError: the file as a whole is unusable. Errors inside one case are returned as a
        ``BrokenCase`` in ``CaseFile.cases`` instead, so the file's other cases still run.
    """
    fields = Fields(path)
    if document is None:
        document = read_document(path, parse_cache, max_mb)
    document = fields.mapping(document, "", FILE_KEYS)
    fields.refuse_duplicates({k: v for k, v in document.items() if k != "cases"}, "")
    if "cases" not in document:
        raise fields.error("cases", "missing: list the cases, each with name, image and objects")
    version = document.get("version", 1)
    if type(version) is not int or version != 1:
        shown = (
            repr(version)
            if isinstance(version, (int, float, str, type(None))) and len(repr(version)) < 40
            else describe_value(version)
        )
        raise fields.error("version", f"this harness reads case-file version 1, got {shown}")

    model, model_sha256 = _model(fields, document.get("model"), path, check_model)
    task = document.get("task")
    if task is not None and task not in TASKS:
        raise fields.error("task", f"expected one of {', '.join(TASKS)}, got {describe_value(task)}")
    predict = MappingProxyType(_predict(fields, document.get("predict", {})))
    thresholds = fields.thresholds(document.get("thresholds", {}), "thresholds", defaults)
    gates = _gates(fields, document.get("metrics", {}), task)
    transforms = _transforms(fields, document["transforms"]) if "transforms" in document else ()
    search = parse_search(document["search"], fields.error) if "search" in document else None
    check_compare_to = check_model if check_compare_to is None else check_compare_to
    compare_to = (
        _compare_to(fields, document["compare_to"], path, check_compare_to) if "compare_to" in document else None
    )
    raw_cases = document["cases"]
    if not isinstance(raw_cases, list):
        raise fields.error("cases", f"expected a list of cases, got {describe_value(raw_cases)}")
    cases = tuple(
        case if isinstance(case, BrokenCase) else replace(case, model_sha256=model_sha256)
        for case in _cases(
            path,
            raw_cases,
            lambda raw, label: _case(path, raw, label, model, task, predict, thresholds, transforms, search),
        )
    )
    return CaseFile(path, model, task, predict, thresholds, cases, gates, model_sha256, compare_to)


def read_document(path: Path, parse_cache: Path | None = None, max_mb: float = MAX_CASE_FILE_MB) -> Any:
    """The file's YAML document (refused over ``max_mb``, or when its aliases expand too far)."""
    text = ""
    try:
        size_mb = path.stat().st_size / 1e6
        if size_mb > max_mb:
            raise CaseFileError(
                path,
                f"{size_mb:.1f} MB is more than a case file may hold ({max_mb:g} MB, ini harness_max_case_file_mb): "
                "split it into several files, or raise the limit",
            )
        text = path.read_text(encoding="utf-8")
        document = parse_yaml(text, parse_cache)
    except YamlLimitError as exc:
        raise CaseFileError(path, f"refused: {exc}") from None
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own limit, where pure Python would recurse
            raise CaseFileError(path, "invalid YAML: nested too deeply to be a case file") from None
        raise CaseFileError(path, f"invalid YAML: {yaml_problem(python_parser_error(text, exc))}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(path, f"cannot read the file: {exc}") from None
    except RecursionError:
        raise CaseFileError(path, "invalid YAML: nested too deeply to be a case file") from None
    if document is None:
        raise CaseFileError(path, "the file is empty: a case file needs at least `cases:`")
    return document


def _cases(path: Path, raw_cases: list, judge_case: Callable[[Any, str], Case]) -> list[Case | BrokenCase]:
    """Every case of the file, each validated by ``judge_case(raw, label)``; a case that fails
    validation becomes a ``BrokenCase``, so the file's other cases still run."""
    cases: list[Case | BrokenCase] = []
    seen: dict[str, int] = {}
    taken: set[str] = set()  # the names of the items made so far
    for index, raw in enumerate(raw_cases):
        name = raw.get("name") if isinstance(raw, dict) else None
        # Only a valid name reaches a node id or a summary line: a newline or brackets could forge them.
        valid = isinstance(name, str) and CASE_NAME.fullmatch(name) and name != SUITE_ITEM
        label = name if valid else f"cases[{index}]"
        try:
            if label in seen:
                raise CaseFileError(
                    path, f"duplicate case name (first at cases[{seen[label]}])", case=label, field="name"
                )
            seen[label] = index
            cases.append(judge_case(raw, label))
        except CaseFileError as exc:
            cases.append(BrokenCase(label if label not in taken else f"cases[{index}]", exc, _named_image(path, raw)))
        taken.add(cases[-1].name)
    return cases


def _named_image(path: Path, raw: Any) -> Path | None:
    """The image a broken case names, resolved, or None where it names none usable."""
    image = raw.get("image") if isinstance(raw, dict) else None
    if not isinstance(image, str) or not image.strip() or "\x00" in image:
        return None
    try:
        return (path.parent / image).resolve()
    except (OSError, ValueError):
        return None


def _gates(fields: Fields, raw: Any, task: str | None) -> tuple[Gate, ...]:
    """``metrics:`` gates: metric minimums for the whole file, and per class and per tag."""
    raw = fields.mapping(raw, "metrics", (*METRICS, "per_class", "per_tag", "confidence"))
    confidence = None
    if "confidence" in raw:
        confidence = fields.number(raw["confidence"], "metrics.confidence")
        problem = check_confidence(confidence)
        if problem:
            raise fields.error("metrics.confidence", f"{problem} (or leave it out for the point rule)")
    gates = []

    def minimums(values: Any, where: str, prefix: str) -> None:
        values = fields.mapping(values, where, METRICS)
        for name, minimum in values.items():
            if name.startswith("mask.") and task == "detect":
                raise fields.error(f"{where}.{name}", "the file's task is detect, which has no mask metrics")
            minimum = fields.number(minimum, f"{where}.{name}", low=0.0, high=1.0)
            gates.append(Gate(prefix + name, minimum, confidence))

    minimums({k: v for k, v in raw.items() if k in METRICS}, "metrics", "")
    for scope in ("per_class", "per_tag"):
        groups = raw.get(scope, {})
        if not isinstance(groups, dict):
            what = "class names" if scope == "per_class" else "tags"
            raise fields.error(
                f"metrics.{scope}", f"expected a mapping of {what} to gates, got {describe_value(groups)}"
            )
        for group, values in groups.items():
            if scope == "per_tag" and not (isinstance(group, str) and TAG_NAME.fullmatch(group)):
                raise fields.error(f"metrics.per_tag.{group}", "not a tag name: use letters, digits and '_'")
            minimums(values, f"metrics.{scope}.{group}", f"{scope}.{group}.")
    return tuple(gates)


def _model(fields: Fields, value: Any, path: Path, check: bool) -> tuple[str | None, str | None]:
    """The model spec, and the sha256 it is pinned to: ``model: PATH`` or ``model: {path, sha256}``."""
    if value is None:
        return None, None
    sha256 = None
    where = "model"
    if isinstance(value, dict):
        value = fields.mapping(value, "model", ("path", "sha256"))
        if "path" not in value:
            raise fields.error("model.path", "missing: the model file, relative to the case file")
        sha256 = fields.string(value.get("sha256"), "model.sha256").lower() if "sha256" in value else None
        if sha256 is not None and not SHA256.fullmatch(sha256):
            raise fields.error("model.sha256", "expected 64 hexadecimal digits (sha256sum prints them)")
        value, where = value["path"], "model.path"
    try:
        return resolve_model(fields.string(value, where), path.parent, must_exist=check), sha256
    except FileNotFoundError as exc:
        raise fields.error(where, str(exc)) from None


def _compare_to(fields: Fields, value: Any, path: Path, check: bool) -> CompareTo:
    """``compare_to: PATH`` or ``compare_to: {model: PATH, iou: X, conf: Y}``: export parity."""
    where = "compare_to"
    tolerances: dict[str, float] = {}
    if isinstance(value, dict):
        value = fields.mapping(value, "compare_to", COMPARE_TO_KEYS)
        if "model" not in value:
            raise fields.error(
                "compare_to.model", "missing: the second model (e.g. an ONNX export), relative to the case file"
            )
        for key in ("iou", "conf"):
            if key in value:
                tolerances[key] = fields.number(value[key], f"compare_to.{key}", low=0.0, high=1.0)
        value, where = value["model"], "compare_to.model"
    elif not isinstance(value, str):
        raise fields.error(
            "compare_to", f"expected a model path or {{model: PATH, iou: X, conf: Y}}, got {describe_value(value)}"
        )
    try:
        model = resolve_model(fields.string(value, where), path.parent, must_exist=check)
    except FileNotFoundError as exc:
        raise fields.error(where, str(exc)) from None
    return CompareTo(model, **tolerances)


def _predict(fields: Fields, value: Any) -> dict:
    if not isinstance(value, dict):
        raise fields.error(
            "predict", f"expected a mapping of Ultralytics predict arguments, got {describe_value(value)}"
        )
    known = _predict_arguments()
    for key in value:
        if key in RESERVED_PREDICT:
            raise fields.error(f"predict.{key}", f"set by the harness: {RESERVED_PREDICT[key]}")
        if key not in known:
            hint = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.5)
            raise fields.error(
                f"predict.{key}",
                "not an Ultralytics predict argument" + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
    return dict(value)


@functools.cache
def _predict_arguments() -> frozenset[str]:
    """Ultralytics' argument names, read from its default.yaml: importing ultralytics would import torch."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("ultralytics is not installed: pip install ultralytics")
    default = Path(spec.submodule_search_locations[0]) / "cfg" / "default.yaml"
    return frozenset(yaml.load(default.read_text(encoding="utf-8"), Loader=FAST_SAFE_LOADER))


def _case(
    path: Path,
    raw: Any,
    label: str,
    model: str | None,
    task: str | None,
    predict: Mapping[str, Any],
    file_thresholds: Thresholds,
    file_transforms: tuple[tuple[Transform, dict, str], ...] = (),
    file_search: tuple | None = None,
) -> Case:
    fields = Fields(path, label)
    raw = fields.mapping(raw, "", CASE_KEYS)
    fields.refuse_duplicates(raw, "")
    if "name" not in raw:
        raise fields.error("name", "missing: every case needs a unique name")
    name = fields.string(raw["name"], "name")
    if not CASE_NAME.fullmatch(name):
        raise fields.error(
            "name",
            f"{describe_value(name)}: use letters, digits, '_', '.' and '-' (it becomes part of the pytest node id)",
        )
    if name == SUITE_ITEM:
        raise fields.error("name", f"{SUITE_ITEM!r} is reserved for the file's metric gates ({SUITE_ITEM}::...)")
    if "image" not in raw:
        raise fields.error("image", "missing: the path of the image, relative to the case file")
    image = (path.parent / fields.string(raw["image"], "image")).resolve()
    try:
        width, height = image_size(image)
    except ImageError as exc:
        raise fields.error("image", str(exc)) from None

    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise fields.error("tags", f"expected a list of tags, got {describe_value(tags)}")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_NAME.fullmatch(tag):
            raise fields.error(f"tags[{i}]", f"{tag!r} is not usable with -m: use letters, digits and '_'")

    thresholds = fields.thresholds(raw.get("thresholds", {}), "thresholds", file_thresholds)
    if "objects" not in raw:
        raise fields.error("objects", "missing: list the expected objects, or write `objects: []` for none")
    raw_objects = raw["objects"]
    if not isinstance(raw_objects, list):
        raise fields.error("objects", f"expected a list of objects, got {describe_value(raw_objects)}")
    objects = tuple(
        parse_object(fields, obj, f"objects[{i}]", path, width, height, thresholds, task)
        for i, obj in enumerate(raw_objects)
    )
    recorded = _recorded(fields, raw["recorded"]) if "recorded" in raw else None
    # A case's own list replaces the file's (`transforms: []` opts a case out).
    transforms = _transforms(fields, raw["transforms"]) if "transforms" in raw else file_transforms
    variants = tuple(
        VariantSpec(
            transform,
            where,
            box_iou=overrides.get("box_iou", thresholds.robust_box_iou),
            mask_iou=overrides.get("mask_iou", thresholds.robust_mask_iou),
            max_extra=overrides.get("max_extra"),
            xfail=overrides.get("xfail"),
        )
        for transform, overrides, where in transforms
    )
    # Likewise a case's own `search:` replaces the file's (`search: {}` opts a case out).
    search = parse_search(raw["search"], fields.error) if "search" in raw else file_search
    return Case(
        search=search_spec(search, thresholds),
        variants=variants,
        recorded=recorded,
        name=name,
        file=path,
        image=image,
        image_size=(width, height),
        tags=tuple(tags),
        objects=objects,
        max_extra=thresholds.max_extra,
        model=model,
        task=task,
        predict=predict,
    )


def _transforms(fields: Fields, raw: Any) -> tuple[tuple[Transform, dict, str], ...]:
    """``transforms:``: each entry's transform, threshold overrides and field name."""
    if not isinstance(raw, list):
        raise fields.error("transforms", f"expected a list such as [hflip, {{scale: 0.5}}], got {describe_value(raw)}")
    out: list[tuple[Transform, dict, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"transforms[{index}]"
        transform, overrides = parse_transform(entry, fields.error, where)
        if transform.id in seen:
            raise fields.error(where, f"{transform.id} is already transforms[{seen[transform.id]}]")
        seen[transform.id] = index
        out.append((transform, overrides, where))
    return tuple(out)


def _recorded(fields: Fields, raw: Any) -> Recorded:
    value = fields.mapping(raw, "recorded", RECORDED_KEYS)
    if not isinstance(value.get("reviewed"), bool):
        got = f"got {describe_value(value['reviewed'])}" if "reviewed" in value else "it is missing"
        raise fields.error(
            "recorded.reviewed",
            f"expected true or false, {got} (vision-harness review FILE --mark-reviewed sets it once checked)",
        )
    model = fields.string(value["model"], "recorded.model") if "model" in value else "a model"
    return Recorded(model, value["reviewed"])
