"""The case-file schema (v1): loading, validation, and errors that name file, case and field.

A case file is YAML read with a safe loader. File-level errors (bad YAML, unknown keys, a missing
model) make the whole file unusable; an error inside one case only breaks that case, so the other
cases of the file still run. See README, "Case files", for the format.
"""

from __future__ import annotations

import contextlib
import copyreg
import difflib
import functools
import hashlib
import importlib.util
import marshal
import math
import re
import reprlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .atomic import write_bytes_atomically
from .config import BUILT_IN_THRESHOLDS, METRICS, CompareTo, Gate, Thresholds, resolve_model
from .errors import CaseFileError, ImageError
from .geometry import RLE, compressed_rle_total, polygon_area, polygons_to_rle, rle_from_counts
from .search import SearchSpec, parse_search, search_spec
from .transforms import Transform, parse_transform

TASKS = ("detect", "segment")
FILE_KEYS = (
    "version",
    "model",
    "task",
    "predict",
    "thresholds",
    "metrics",
    "compare_to",
    "transforms",
    "search",
    "cases",
)
COMPARE_TO_KEYS = ("model", "iou", "conf")
CASE_KEYS = ("name", "image", "tags", "thresholds", "objects", "recorded", "transforms", "search")
RECORDED_KEYS = ("model", "reviewed")
OBJECT_KEYS = ("class", "box", "mask", "box_iou", "mask_iou", "crowd")
THRESHOLD_KEYS = ("box_iou", "mask_iou", "max_extra", "robust_box_iou", "robust_mask_iou")
# Predict arguments the harness sets itself, with what to do instead.
RESERVED_PREDICT = {
    "source": "the image comes from each case's `image`",
    "device": "choose the device with --harness-device or the harness_device ini option",
    "retina_masks": "masks are always computed at the original image resolution",
    "stream": "the harness collects results itself",
    "verbose": "the harness controls Ultralytics' logging",
    "save": "the harness writes no Ultralytics run folders",
    "show": "the harness runs headless",
}
CASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
SUITE_ITEM = "suite"  # FILE::suite::METRIC holds the metric gates, so no case may take the name
SHA256 = re.compile(r"[0-9a-f]{64}")
TAG_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class MaskSpec:
    """An expected mask as written in the case file; rasterised only when a case is evaluated."""

    polygons: tuple[tuple[float, ...], ...] | None = None
    rle: RLE | None = None
    png: Path | None = None
    moved: tuple[MaskSpec, Transform, tuple[int, int]] | None = None  # a raster mask of a transformed variant

    def to_rle(self, height: int, width: int) -> RLE:
        """The mask as RLE at the image's full resolution."""
        if self.polygons is not None:
            return polygons_to_rle(self.polygons, height, width)
        if self.rle is not None:
            return self.rle
        if self.moved is not None:
            from .geometry import mask_to_rle, rle_to_mask

            source, transform, (source_width, source_height) = self.moved
            return mask_to_rle(transform.apply_mask(rle_to_mask(source.to_rle(source_height, source_width))))
        from .geometry import mask_to_rle
        from .images import load_image

        return mask_to_rle(load_image(self.png).any(axis=2))


@dataclass(frozen=True)
class ExpectedObject:
    """An object the model must find, with its resolved thresholds.

    A ``crowd`` object is COCO's ``iscrowd`` region instead: a group nobody labelled one by one. It
    need not be found, and predictions of its class lying mostly inside it are not extras.
    """

    class_name: str
    box: tuple[float, float, float, float]
    box_iou: float
    mask_iou: float
    mask: MaskSpec | None = None
    crowd: bool = False


@dataclass(frozen=True)
class Recorded:
    """Where a case's expectations came from when a model wrote them (``vision-harness new``,
    ``--harness-update``): until a person sets ``reviewed``, the case is skipped, never a pass."""

    model: str  # the model file's name, for the person reviewing
    reviewed: bool


@dataclass(frozen=True)
class VariantSpec:
    """A transform to judge a case under (``transforms:``), with the thresholds its variant uses:
    None keeps each object's own threshold."""

    transform: Transform
    where: str  # the field that wrote it, for errors: ``transforms[2]``
    box_iou: float | None = None
    mask_iou: float | None = None
    max_extra: int | None = None
    xfail: str | None = None  # a known failure, with its reason: pytest's strict xfail


@dataclass(frozen=True)
class Case:
    """One golden case: an image and everything that must be found on it."""

    name: str
    file: Path
    image: Path
    image_size: tuple[int, int]  # (width, height) as displayed
    tags: tuple[str, ...]
    objects: tuple[ExpectedObject, ...]
    max_extra: int
    model: str | None
    task: str | None
    predict: Mapping[str, Any] = field(default_factory=dict)
    model_sha256: str | None = None  # the file pins its model to this sha256
    recorded: Recorded | None = None  # None: written by a person (or imported from annotations)
    variants: tuple[VariantSpec, ...] = ()  # transformed copies to judge too (transforms:)
    transform: Transform | None = None  # set on a variant: the image is ``image`` transformed so
    variant_of: str | None = None  # set on a variant: the name of the case it was made from
    xfail: str | None = None  # set on a variant known to fail: why
    search: SearchSpec | None = None  # ranges to search for the smallest perturbation that breaks it (search:)

    @property
    def awaiting_review(self) -> bool:
        """Recorded from a model's output and not yet checked by a person."""
        return self.recorded is not None and not self.recorded.reviewed


@dataclass(frozen=True)
class BrokenCase:
    """A case that cannot run as written; reported as an error, never skipped."""

    name: str
    error: CaseFileError
    image: Path | None = None  # the image it names, where it names one (to tell a missing image)


@dataclass(frozen=True)
class CaseFile:
    """A loaded case file: file-level defaults and its cases."""

    path: Path
    model: str | None
    task: str | None
    predict: Mapping[str, Any]
    thresholds: Thresholds
    cases: tuple[Case | BrokenCase, ...]
    gates: tuple[Gate, ...] = ()
    model_sha256: str | None = None
    compare_to: CompareTo | None = None  # export parity: a second model of the same weights


def _read_only(values: dict) -> MappingProxyType:
    return MappingProxyType(values)


# Cases travel from pytest-xdist workers to the controller pickled; a read-only predict mapping must too.
copyreg.pickle(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))

# libyaml's parser when PyYAML was built with it (every wheel is): 10x faster on big case files.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RejectDuplicateKeys:
    """Refuses duplicate keys, which PyYAML would otherwise silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key) if isinstance(key, (str, int, float, bool)) else None
        return super().construct_mapping(node, deep=deep)


class _StrictSafeLoader(_RejectDuplicateKeys, _SafeLoader):
    """PyYAML's safe loader (on libyaml when available), refusing duplicate keys."""


class _StrictPythonLoader(_RejectDuplicateKeys, yaml.SafeLoader):
    """The same in pure Python: slower, but its error messages show the offending character."""


class _Fields:
    """Validation helpers that raise a CaseFileError naming the file, the case and the field."""

    def __init__(self, path: Path, case: str | None = None):
        self.path = path
        self.case = case

    def error(self, field_name: str, message: str) -> CaseFileError:
        return CaseFileError(self.path, message, case=self.case, field=field_name)

    def mapping(self, value: Any, field_name: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise self.error(field_name, f"expected a mapping, got {_describe(value)}")
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; allowed: {', '.join(allowed)}"
                where = f"{field_name}.{key}" if field_name else str(key)
                raise self.error(where, f"unknown key{suggestion}")
        return value

    def string(self, value: Any, field_name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(field_name, f"expected a non-empty string, got {_describe(value)}")
        if "\x00" in value:
            raise self.error(field_name, "contains a NUL character, which no path or name may hold")
        return value

    def number(self, value: Any, field_name: str, *, low: float | None = None, high: float | None = None) -> float:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e15:
            value = math.inf  # beyond any pixel coordinate, and beyond what a float holds exactly
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(field_name, f"expected a finite number, got {_describe(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.error(field_name, f"{value} is outside [{low}, {high}]")
        return float(value)

    def thresholds(self, value: Any, field_name: str, base: Thresholds) -> Thresholds:
        values = self.mapping(value, field_name, THRESHOLD_KEYS)
        checked: dict[str, Any] = {}
        for key in ("box_iou", "mask_iou", "robust_box_iou", "robust_mask_iou"):
            if key in values:
                checked[key] = self.number(values[key], f"{field_name}.{key}", low=0.0, high=1.0)
        if "max_extra" in values:
            extra = values["max_extra"]
            if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
                raise self.error(f"{field_name}.max_extra", f"expected a whole number >= 0, got {_describe(extra)}")
            checked["max_extra"] = extra
        return base.override(checked)


# Bounded repr: YAML aliases can make a small file a structure whose plain repr never ends.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 30


def _describe(value: Any) -> str:
    text = _SHORT_REPR.repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def load_case_file(
    path: Path,
    *,
    defaults: Thresholds = BUILT_IN_THRESHOLDS,
    check_model: bool = True,
    parse_cache: Path | None = None,
    check_compare_to: bool | None = None,
) -> CaseFile:
    """Read and validate a case file. With ``parse_cache`` (a folder), YAML parsed once is kept there,
    by the text's sha256, so that an unchanged file is not parsed again (big suites collect faster).
    ``check_model`` and ``check_compare_to`` (which follows ``check_model`` unless given) say whether
    the files named by ``model`` and ``compare_to`` must exist.

    Raises:
        CaseFileError: the file as a whole is unusable. Errors inside one case are returned as a
        ``BrokenCase`` in ``CaseFile.cases`` instead, so the file's other cases still run.
    """
    fields = _Fields(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = _parse(text, parse_cache)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(exc):  # libyaml's own limit, where pure Python would recurse
            raise CaseFileError(path, "invalid YAML: nested too deeply to be a case file") from None
        raise CaseFileError(path, f"invalid YAML: {_yaml_problem(_python_parser_error(text, exc))}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(path, f"cannot read the file: {exc}") from None
    except RecursionError:
        raise CaseFileError(path, "invalid YAML: nested too deeply to be a case file") from None
    if document is None:
        raise CaseFileError(path, "the file is empty: a case file needs at least `cases:`")
    document = fields.mapping(document, "", FILE_KEYS)
    if "cases" not in document:
        raise fields.error("cases", "missing: list the cases, each with name, image and objects")
    version = document.get("version", 1)
    if type(version) is not int or version != 1:
        raise fields.error("version", f"this harness reads case-file version 1, got {document['version']!r}")

    model, model_sha256 = _model(fields, document.get("model"), path, check_model)
    task = document.get("task")
    if task is not None and task not in TASKS:
        raise fields.error("task", f"expected one of {', '.join(TASKS)}, got {_describe(task)}")
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
        raise fields.error("cases", f"expected a list of cases, got {_describe(raw_cases)}")
    cases: list[Case | BrokenCase] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_cases):
        name = raw.get("name") if isinstance(raw, dict) else None
        label = name if isinstance(name, str) and name else f"cases[{index}]"
        try:
            if label in seen:
                raise CaseFileError(
                    path, f"duplicate case name (first at cases[{seen[label]}])", case=label, field="name"
                )
            seen[label] = index
            case = _case(path, raw, label, model, task, predict, thresholds, transforms, search)
            cases.append(replace(case, model_sha256=model_sha256))
        except CaseFileError as exc:
            taken = {c.name for c in cases}
            cases.append(BrokenCase(label if label not in taken else f"cases[{index}]", exc, _named_image(path, raw)))
    return CaseFile(path, model, task, predict, thresholds, tuple(cases), gates, model_sha256, compare_to)


def _named_image(path: Path, raw: Any) -> Path | None:
    """The image a broken case names, resolved, or None where it names none usable."""
    image = raw.get("image") if isinstance(raw, dict) else None
    if not isinstance(image, str) or not image.strip() or "\x00" in image:
        return None
    try:
        return (path.parent / image).resolve()
    except (OSError, ValueError):
        return None


def _gates(fields: _Fields, raw: Any, task: str | None) -> tuple[Gate, ...]:
    """``metrics:`` gates: metric minimums for the whole file, and per class and per tag."""
    raw = fields.mapping(raw, "metrics", (*METRICS, "per_class", "per_tag"))
    gates = []

    def minimums(values: Any, where: str, prefix: str) -> None:
        values = fields.mapping(values, where, METRICS)
        for name, minimum in values.items():
            if name.startswith("mask.") and task == "detect":
                raise fields.error(f"{where}.{name}", "the file's task is detect, which has no mask metrics")
            gates.append(Gate(prefix + name, fields.number(minimum, f"{where}.{name}", low=0.0, high=1.0)))

    minimums({k: v for k, v in raw.items() if k in METRICS}, "metrics", "")
    for scope in ("per_class", "per_tag"):
        groups = raw.get(scope, {})
        if not isinstance(groups, dict):
            what = "class names" if scope == "per_class" else "tags"
            raise fields.error(f"metrics.{scope}", f"expected a mapping of {what} to gates, got {_describe(groups)}")
        for group, values in groups.items():
            if scope == "per_tag" and not (isinstance(group, str) and TAG_NAME.fullmatch(group)):
                raise fields.error(f"metrics.per_tag.{group}", "not a tag name: use letters, digits and '_'")
            minimums(values, f"metrics.{scope}.{group}", f"{scope}.{group}.")
    return tuple(gates)


def _parse(text: str, cache: Path | None) -> Any:
    """The YAML document, from the parse cache when it holds this text."""
    if cache is None:
        return yaml.load(text, Loader=_StrictSafeLoader)
    # marshal: 30x faster to read than YAML to parse, and it holds exactly the safe loader's plain types.
    key = hashlib.sha256(f"{yaml.__version__} {sys.version_info[:2]} {text}".encode()).hexdigest()
    entry = cache / f"{key}.marshal"
    try:
        return marshal.loads(entry.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    document = yaml.load(text, Loader=_StrictSafeLoader)
    with contextlib.suppress(ValueError, OSError):  # marshal cannot hold dates; a full disk costs speed
        write_bytes_atomically(entry, marshal.dumps(document))
    return document


def _python_parser_error(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's error for the same text: libyaml's leave out the offending character."""
    try:
        yaml.load(text, Loader=_StrictPythonLoader)
    except yaml.YAMLError as python_error:
        return python_error
    except RecursionError:
        pass
    return error


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def _model(fields: _Fields, value: Any, path: Path, check: bool) -> tuple[str | None, str | None]:
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


def _compare_to(fields: _Fields, value: Any, path: Path, check: bool) -> CompareTo:
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
            "compare_to", f"expected a model path or {{model: PATH, iou: X, conf: Y}}, got {_describe(value)}"
        )
    try:
        model = resolve_model(fields.string(value, where), path.parent, must_exist=check)
    except FileNotFoundError as exc:
        raise fields.error(where, str(exc)) from None
    return CompareTo(model, **tolerances)


def _predict(fields: _Fields, value: Any) -> dict:
    if not isinstance(value, dict):
        raise fields.error("predict", f"expected a mapping of Ultralytics predict arguments, got {_describe(value)}")
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
    return frozenset(yaml.load(default.read_text(encoding="utf-8"), Loader=_SafeLoader))


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
    fields = _Fields(path, label)
    raw = fields.mapping(raw, "", CASE_KEYS)
    if "name" not in raw:
        raise fields.error("name", "missing: every case needs a unique name")
    name = fields.string(raw["name"], "name")
    if not CASE_NAME.fullmatch(name):
        raise fields.error("name", "use letters, digits, '_', '.' and '-' (it becomes part of the pytest node id)")
    if name == SUITE_ITEM:
        raise fields.error("name", f"{SUITE_ITEM!r} is reserved for the file's metric gates ({SUITE_ITEM}::...)")
    if "image" not in raw:
        raise fields.error("image", "missing: the path of the image, relative to the case file")
    image = (path.parent / fields.string(raw["image"], "image")).resolve()
    try:
        from .images import image_size

        width, height = image_size(image)
    except ImageError as exc:
        raise fields.error("image", str(exc)) from None

    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise fields.error("tags", f"expected a list of tags, got {_describe(tags)}")
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not TAG_NAME.fullmatch(tag):
            raise fields.error(f"tags[{i}]", f"{tag!r} is not usable with -m: use letters, digits and '_'")

    thresholds = fields.thresholds(raw.get("thresholds", {}), "thresholds", file_thresholds)
    if "objects" not in raw:
        raise fields.error("objects", "missing: list the expected objects, or write `objects: []` for none")
    raw_objects = raw["objects"]
    if not isinstance(raw_objects, list):
        raise fields.error("objects", f"expected a list of objects, got {_describe(raw_objects)}")
    objects = tuple(
        _object(fields, obj, f"objects[{i}]", path, width, height, thresholds, task)
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


def _transforms(fields: _Fields, raw: Any) -> tuple[tuple[Transform, dict, str], ...]:
    """``transforms:``: each entry's transform, threshold overrides and field name."""
    if not isinstance(raw, list):
        raise fields.error("transforms", f"expected a list such as [hflip, {{scale: 0.5}}], got {_describe(raw)}")
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


def _recorded(fields: _Fields, raw: Any) -> Recorded:
    value = fields.mapping(raw, "recorded", RECORDED_KEYS)
    if not isinstance(value.get("reviewed"), bool):
        got = f"got {_describe(value['reviewed'])}" if "reviewed" in value else "it is missing"
        raise fields.error(
            "recorded.reviewed",
            f"expected true or false, {got} (vision-harness review FILE --mark-reviewed sets it once checked)",
        )
    model = fields.string(value["model"], "recorded.model") if "model" in value else "a model"
    return Recorded(model, value["reviewed"])


def _object(
    fields: _Fields,
    raw: Any,
    where: str,
    path: Path,
    width: int,
    height: int,
    thresholds: Thresholds,
    task: str | None,
) -> ExpectedObject:
    raw = fields.mapping(raw, where, OBJECT_KEYS)
    for key in ("class", "box"):
        if key not in raw:
            raise fields.error(f"{where}.{key}", "missing")
    class_name = fields.string(raw["class"], f"{where}.class")
    box = raw["box"]
    if not isinstance(box, list) or len(box) != 4:
        raise fields.error(f"{where}.box", f"expected [x1, y1, x2, y2], got {_describe(box)}")
    x1, y1, x2, y2 = (fields.number(v, f"{where}.box") for v in box)
    if x2 <= x1 or y2 <= y1:
        raise fields.error(f"{where}.box", f"x2 > x1 and y2 > y1 are required, got {box}")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise fields.error(f"{where}.box", f"{box} is outside the {width}x{height} image")
    box_iou = fields.number(raw.get("box_iou", thresholds.box_iou), f"{where}.box_iou", low=0.0, high=1.0)
    mask_iou = fields.number(raw.get("mask_iou", thresholds.mask_iou), f"{where}.mask_iou", low=0.0, high=1.0)
    mask = None
    if "mask" in raw:
        if task == "detect":
            raise fields.error(f"{where}.mask", "the file's task is detect, which predicts no masks")
        mask = _mask(fields, raw["mask"], f"{where}.mask", path, width, height)
    crowd = raw.get("crowd", False)
    if not isinstance(crowd, bool):
        raise fields.error(f"{where}.crowd", f"expected true or false, got {_describe(crowd)}")
    return ExpectedObject(class_name, (x1, y1, x2, y2), box_iou, mask_iou, mask, crowd)


def _mask(fields: _Fields, raw: Any, where: str, path: Path, width: int, height: int) -> MaskSpec:
    if isinstance(raw, list):
        return MaskSpec(polygons=_polygons(fields, raw, where, width, height))
    if isinstance(raw, dict) and "rle" in raw:
        fields.mapping(raw, where, ("rle",))
        rle = fields.mapping(raw["rle"], f"{where}.rle", ("size", "counts"))
        size = rle.get("size")
        if size != [height, width]:
            raise fields.error(f"{where}.rle.size", f"expected [{height}, {width}] (height, width), got {size!r}")
        counts = rle.get("counts")
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
                raise fields.error(f"{where}.rle.counts", "run lengths must be whole numbers >= 0")
            if sum(counts) != height * width:
                raise fields.error(f"{where}.rle.counts", f"run lengths sum to {sum(counts)}, not {height}*{width}")
        elif isinstance(counts, str):
            # pycocotools trusts its input: a malformed string would decode to garbage, not an error.
            total = compressed_rle_total(counts)
            if total != height * width:
                found = "cannot be decoded" if total is None else f"covers {total} pixels, not {height}*{width}"
                raise fields.error(f"{where}.rle.counts", f"not a valid COCO RLE string: it {found}")
        else:
            raise fields.error(
                f"{where}.rle.counts", f"expected a COCO RLE string or run lengths, got {_describe(counts)}"
            )
        return MaskSpec(rle=rle_from_counts(size, counts))
    if isinstance(raw, dict) and "png" in raw:
        fields.mapping(raw, where, ("png",))
        png = (path.parent / fields.string(raw["png"], f"{where}.png")).resolve()
        from .images import image_size

        try:
            size = image_size(png)
        except ImageError as exc:
            raise fields.error(f"{where}.png", str(exc)) from None
        if size != (width, height):
            raise fields.error(f"{where}.png", f"mask is {size[0]}x{size[1]} but the image is {width}x{height}")
        return MaskSpec(png=png)
    raise fields.error(where, "expected a polygon [[x, y], ...], a list of polygons, {rle: ...} or {png: path}")


def _polygons(fields: _Fields, raw: list, where: str, width: int, height: int) -> tuple[tuple[float, ...], ...]:
    # One polygon is a list of [x, y] points; several are a list of such lists.
    if not raw:
        raise fields.error(where, "a polygon needs at least 3 [x, y] points; leave `mask` out for no mask")
    groups = [raw] if isinstance(raw[0], list) and raw[0] and not isinstance(raw[0][0], list) else raw
    polygons = []
    for g, points in enumerate(groups):
        here = where if len(groups) == 1 else f"{where}[{g}]"
        if not isinstance(points, list) or len(points) < 3:
            raise fields.error(here, "a polygon needs at least 3 [x, y] points")
        flat = _plain_polygon(points, width, height)
        if flat is not None:
            if polygon_area(flat) == 0:
                raise fields.error(here, "the polygon has zero area (its points are collinear)")
            polygons.append(tuple(flat))
            continue
        flat = []  # something is wrong: find the first bad point, to name it
        for p, point in enumerate(points):
            if not isinstance(point, list) or len(point) != 2:
                raise fields.error(f"{here}[{p}]", f"expected [x, y], got {_describe(point)}")
            x, y = (fields.number(v, f"{here}[{p}]") for v in point)
            if not (0 <= x <= width and 0 <= y <= height):
                raise fields.error(f"{here}[{p}]", f"point ({x:g}, {y:g}) is outside the {width}x{height} image")
            flat += [x, y]
        if polygon_area(flat) == 0:
            raise fields.error(here, "the polygon has zero area (its points are collinear)")
        polygons.append(tuple(flat))
    return tuple(polygons)


def _plain_polygon(points: list, width: int, height: int) -> list[float] | None:
    """The flat coordinates when every point is a plain in-image ``[x, y]``, else None.

    The fast path for big suites: one pass in C-speed comprehensions instead of a check per number.
    """
    if not all(type(point) is list and len(point) == 2 for point in points):
        return None
    flat = [value for point in points for value in point]
    if not all(type(value) is int or type(value) is float for value in flat):
        return None  # bools, strings, None: the slow path names them
    xs, ys = flat[0::2], flat[1::2]
    if not (min(xs) >= 0 and max(xs) <= width and min(ys) >= 0 and max(ys) <= height):
        return None  # also false for NaN, which compares false with everything
    if any(value != value for value in flat):
        return None
    return [float(value) for value in flat]
