"""Golden detect, segment, pose and obb cases to an Ultralytics YOLO dataset: ``data.yaml``,
``images/SPLIT/NAME.png`` and ``labels/SPLIT/NAME.txt`` for each case, NAME the case's name, so that
``import yolo`` (harness/golden/yolo.py) gives the same cases back.

A label line is what Ultralytics writes, normalised to the picture's size: ``class cx cy w h`` (detect),
``class x1 y1 x2 y2 ...`` (segment: the polygon; the box comes back as its extremes, Ultralytics' rule),
``class cx cy w h x y v ...`` (pose) and ``class x1 y1 ... x4 y4`` (obb). What the format cannot hold is
refused in one line naming the case: a mask given as RLE or PNG (a traced polygon would move its edge;
``export coco`` keeps it), a mask of several polygons (a line holds one), a segment object without a
mask (Ultralytics reads a box line among polygons as two points), a coordinate outside the picture
(Ultralytics drops such a label file as corrupt). A crowd region is left out and named: Ultralytics'
labels have no crowd flag, and its own COCO converter skips ``iscrowd`` annotations too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from harness.casefile.schema import Case, CaseFile, ExpectedObject
from harness.core.errors import CaseFileError, HarnessError
from harness.golden.export_common import Exported, cases_to_export, new_folder, place_image

SPLITS = ("train", "val", "test")  # the splits `import yolo --split` reads


def write_yolo(
    case_file: Path, out: Path, *, split: str = "val", symlink: bool = False, class_names: Sequence[str] = ()
) -> Exported:
    """Export a detect, segment, pose or obb case file to the YOLO dataset ``out`` (new or empty).

    Class indices follow ``class_names`` (the model's, in its order) then any other class the cases use.

    Raises:
        HarnessError: the file is a classify case file, a case is broken or holds what a label line
            cannot (see the module's docstring), or ``out`` holds files already; nothing is written then.
    """
    if split not in SPLITS:
        raise HarnessError(f"--split {split!r}: give one of {', '.join(SPLITS)}, the splits `import yolo` reads")
    loaded, cases, awaiting_review = cases_to_export(case_file, "yolo")
    kind = _kind(loaded)
    names = list(dict.fromkeys([*class_names, *(o.class_name for c in cases for o in c.objects if not o.crowd)]))
    index = {name: i for i, name in enumerate(names)}
    labels = {case.name: _label_text(case_file, case, kind, index) for case in cases}  # every check before any write
    new_folder(out)
    (out / "labels" / split).mkdir(parents=True)
    for case in cases:
        place_image(case.image, out / "images" / split / f"{case.name}{case.image.suffix}", symlink=symlink)
        (out / "labels" / split / f"{case.name}.txt").write_text(labels[case.name], encoding="utf-8")
    (out / "images" / split).mkdir(parents=True, exist_ok=True)  # a file of no cases still names its split
    counts = [len(o.keypoints) for c in cases for o in c.objects if o.keypoints is not None]
    keypoints = loaded.keypoints.count if loaded.keypoints else max(counts, default=0)  # the block, else the objects'
    (out / "data.yaml").write_text(_data_yaml(case_file, loaded, split, names, keypoints), encoding="utf-8")
    crowd = tuple(case.name for case in cases if any(o.crowd for o in case.objects))
    return Exported(tuple(labels), tuple(awaiting_review), crowd)


def _kind(loaded: CaseFile) -> str:
    """The label lines the file's task calls for; without ``task:``, segment if any object has a mask."""
    if loaded.task:
        return loaded.task
    has_mask = any(o.mask is not None for c in loaded.cases if isinstance(c, Case) for o in c.objects)
    return "segment" if has_mask else "detect"


def _data_yaml(case_file: Path, loaded: CaseFile, split: str, names: list[str], keypoints: int) -> str:
    """data.yaml: no ``path:``, so Ultralytics and ``import yolo`` both read the splits from its own folder
    (Ultralytics takes a relative ``path`` from the working directory); train and val are keys Ultralytics
    requires, so the split not exported is there, empty."""
    data: dict = {key: None for key in ("train", "val")} | {split: f"images/{split}"}
    data["names"] = dict(enumerate(names))
    spec = loaded.keypoints
    if loaded.task == "pose" and keypoints:
        data["kpt_shape"] = [keypoints, 3]  # x y v: the visibility travels
    if loaded.task == "pose" and spec is not None:
        if spec.flip_idx is not None:
            data["flip_idx"] = list(spec.flip_idx)
        data["kpt_names"] = {i: list(spec.names) for i in range(len(names))}  # Ultralytics keeps names per class
    header = (
        f"# Exported by vision-harness from {case_file.name} (task {_kind(loaded)}): a person's annotations.\n"
        "# Ultralytics requires both train and val: an empty one is for you to point at your own images.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _label_text(case_file: Path, case: Case, kind: str, index: dict[str, int]) -> str:
    lines = []
    for number, obj in enumerate(case.objects):
        if obj.crowd:
            continue  # Ultralytics' labels have no crowd flag: left out, and named by the caller
        field = f"objects[{number}]"
        values = _coordinates(case_file, case, obj, kind, field)
        width, height = case.image_size
        xs, ys = values[0::2], values[1::2]
        if min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height:
            raise CaseFileError(
                case_file,
                f"lies outside the {width}x{height} picture; Ultralytics' labels are normalised to [0, 1] and it "
                "drops a label file with a coordinate past them: keep the object inside the picture",
                case=case.name,
                field=field,
            )
        normalised = [v / (width if i % 2 == 0 else height) for i, v in enumerate(values)]
        if kind in ("detect", "pose"):  # corners to centre and size
            x1, y1, x2, y2 = normalised[:4]
            normalised[:4] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        numbers = [_number(v) for v in normalised]
        if kind == "pose":  # each keypoint's x y, then its visibility
            assert obj.keypoints is not None
            points = numbers[4:]
            numbers[4:] = [v for k, kp in enumerate(obj.keypoints) for v in (*points[2 * k : 2 * k + 2], str(kp[2]))]
        lines.append(" ".join([str(index[obj.class_name]), *numbers]))
    return "".join(f"{line}\n" for line in lines)


def _coordinates(case_file: Path, case: Case, obj: ExpectedObject, kind: str, field: str) -> list[float]:
    """The object's numbers in pixels, in the order of its label line (visibilities added later)."""
    if kind == "obb":
        assert obj.obb is not None, "an obb case file's objects all carry corners"
        return [float(v) for v in obj.obb]
    if kind == "pose":
        assert obj.keypoints is not None, "the loader requires a pose object's keypoints"
        # An unlabelled keypoint is written 0 0 0, as Ultralytics writes one.
        return [*map(float, obj.box), *(float(v) if k[2] else 0.0 for k in obj.keypoints for v in k[:2])]
    if kind == "detect":
        return [float(v) for v in obj.box]
    return _polygon(case_file, case, obj, field)


def _polygon(case_file: Path, case: Case, obj: ExpectedObject, field: str) -> list[float]:
    mask = obj.mask
    if mask is None:
        problem = (
            "has no mask; a segment dataset's lines are polygons "
            "(Ultralytics reads a box line among them as two points)"
        )
    elif mask.polygons is None:
        problem = (
            f"its mask is given as {'RLE' if mask.rle is not None else 'a PNG'}; a label line is a polygon, and one "
            "traced from a mask would move its edge: export it with `vision-harness export coco`"
        )
    elif len(mask.polygons) != 1:
        problem = f"its mask is {len(mask.polygons)} polygons; an Ultralytics label line holds one: split the object"
    else:
        return [float(v) for v in mask.polygons[0]]
    raise CaseFileError(case_file, problem, case=case.name, field=f"{field}.mask")


def _number(value: float) -> str:
    """A normalised coordinate to 10 significant digits: 1e-6 px on a 10,000 px picture, so import's 0.01 px
    rounding gives the case file's number back (Ultralytics writes 6 digits, 0.01 px only up to 10,000 px)."""
    text = format(value, ".10g")
    return "0" if text == "-0" else text
