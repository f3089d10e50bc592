"""Loading a case file: the file's keys and each case, validated; errors name file, case and field.

File-level errors (bad YAML, unknown keys, a missing model) make the whole file unusable; an error
inside one case only breaks that case, so the other cases of the file still run. See docs/case-files.md.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from harness.casefile.case_entry import parse_case, parse_transforms
from harness.casefile.fields import Fields, describe_value
from harness.casefile.pose_fields import parse_keypoint_spec
from harness.casefile.schema import (
    CASE_NAME,
    COMPARE_TO_KEYS,
    FILE_KEYS,
    RESERVED_PREDICT,
    SUITE_ITEM,
    TAG_NAME,
    TASKS,
    BrokenCase,
    Case,
    CaseFile,
)
from harness.casefile.search_spec import parse_search
from harness.casefile.yaml_parse import (
    DUPLICATES_INSIDE,
    FAST_SAFE_LOADER,
    YamlLimitError,
    parse_yaml,
    python_parser_error,
    yaml_problem,
)
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
from harness.core.errors import CaseFileError
from harness.core.keypoints import KeypointSpec
from harness.core.memory import gc_paused
from harness.core.paths import forget_resolved_folders
from harness.core.text import short_repr

SHA256 = re.compile(r"[0-9a-f]{64}")


@gc_paused()
def load_case_file(
    path: Path,
    *,
    defaults: Thresholds = BUILT_IN_THRESHOLDS,
    check_model: bool = True,
    parse_cache: Path | None = None,
    check_compare_to: bool | None = None,
    max_mb: float = MAX_CASE_FILE_MB,
    document: Any = None,
    root: Path | None = None,
) -> CaseFile:
    """Read and validate a case file. With ``parse_cache`` (a folder), YAML parsed once is kept there,
    by the text's sha256, so that an unchanged file is not parsed again (big suites collect faster).
    ``check_model`` and ``check_compare_to`` (which follows ``check_model`` unless given) say whether
    the files named by ``model`` and ``compare_to`` must exist. A file over ``max_mb`` megabytes is
    refused before it is read; ``document`` is its YAML document when the caller parsed it already
    (``read_document``). With ``root``, a case naming an image or mask outside it is broken before
    that file is opened.

    Raises:
        CaseFileError: the file as a whole is unusable. Errors inside one case are returned as a
        ``BrokenCase`` in ``CaseFile.cases`` instead, so the file's other cases still run.
    """
    fields, document, has_duplicates = _top_mapping(path, document, parse_cache, max_mb)
    model, model_sha256 = _model(fields, document.get("model"), path, check_model)
    task = _task(fields, document)
    predict = MappingProxyType(_predict(fields, document.get("predict", {})))
    thresholds = fields.thresholds(document.get("thresholds", {}), "thresholds", defaults)
    gates = _gates(fields, document.get("metrics", {}), task)
    transforms = parse_transforms(fields, document["transforms"]) if "transforms" in document else ()
    search = parse_search(document["search"], fields.error) if "search" in document else None
    check_compare_to = check_model if check_compare_to is None else check_compare_to
    compare_to = (
        _compare_to(fields, document["compare_to"], path, check_compare_to) if "compare_to" in document else None
    )
    keypoints = _keypoint_spec(fields, document, task)
    raw_cases = document["cases"]
    if not isinstance(raw_cases, list):
        raise fields.error("cases", f"expected a list of cases, got {describe_value(raw_cases)}")
    cases = tuple(
        _cases(
            path,
            raw_cases,
            lambda raw, label: parse_case(
                Fields(path, label, root, has_duplicates=has_duplicates),
                raw,
                model,
                task,
                predict,
                thresholds,
                transforms,
                search,
                keypoints,
                model_sha256,
            ),
        )
    )
    return CaseFile(path, model, task, predict, thresholds, cases, gates, model_sha256, compare_to, keypoints)


def _top_mapping(path: Path, document: Any, parse_cache: Path | None, max_mb: float) -> tuple[Fields, dict, bool]:
    """The file's top mapping (read unless given), its keys, ``cases:`` and version checked; and
    whether the parser saw a duplicate key anywhere in it."""
    forget_resolved_folders()  # folders are resolved once per file read, as they are now
    if document is None:
        document = read_document(path, parse_cache, max_mb)
    has_duplicates = not isinstance(document, dict) or DUPLICATES_INSIDE in document
    fields = Fields(path, has_duplicates=has_duplicates)
    if isinstance(document, dict) and has_duplicates:
        document = {key: value for key, value in document.items() if key != DUPLICATES_INSIDE}
    document = fields.mapping(document, "", FILE_KEYS)
    fields.refuse_duplicates({k: v for k, v in document.items() if k != "cases"}, "")
    if "cases" not in document:
        raise fields.error("cases", "missing: list the cases, each with name, image and objects")
    version = document.get("version", 1)
    if type(version) is not int or version != 1:
        raise fields.error("version", f"this harness reads case-file version 1, got {short_repr(version)}")
    return fields, document, has_duplicates


def _task(fields: Fields, document: dict) -> str | None:
    task = document.get("task")
    if task is not None and task not in TASKS:
        raise fields.error("task", f"expected one of {', '.join(TASKS)}, got {describe_value(task)}")
    return task


def _keypoint_spec(fields: Fields, document: dict, task: str | None) -> KeypointSpec | None:
    """The file's ``keypoints:`` block (pose files only), or None where it has none."""
    if "keypoints" not in document:
        return None
    if task not in (None, "pose"):
        raise fields.error("keypoints", f"the file's task is {task}; a keypoints: block needs task: pose")
    return parse_keypoint_spec(fields, document["keypoints"])


@gc_paused()
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
