"""Export parity (harness/robustness/parity.py) on synthetic predictions, and the `compare_to:` schema; no model runs.

The plugin's parity items, with a model compared with itself, are tests/plugin/test_parity_items.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from harness.casefile.load import load_case_file
from harness.core.config import PARITY_CONF, PARITY_IOU, CompareTo
from harness.core.errors import CaseFileError
from harness.core.geometry import mask_to_rle
from harness.evaluation.predictions import Predictions
from harness.robustness.parity import ParityResult, compare_predictions, conf_threshold, format_parity, summarize_parity

from case_strategies import values
from conftest import shipped_suite

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

WIDTH, HEIGHT = 160, 120
IOU, CONF, THRESHOLD = PARITY_IOU, PARITY_CONF, 0.25


def rectangle_rle(box) -> dict:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    x1, y1, x2, y2 = (round(v) for v in box)
    mask[y1:y2, x1:x2] = True
    return mask_to_rle(mask)


def predictions(*items, masks: bool = False) -> Predictions:
    """Predictions from ``(class_name, box, score)`` tuples; with ``masks``, each box filled as its mask."""
    boxes = np.array([item[1] for item in items], dtype=np.float64).reshape(-1, 4)
    return Predictions(
        boxes=boxes,
        class_names=tuple(item[0] for item in items),
        scores=np.array([item[2] for item in items], dtype=np.float64),
        masks=[rectangle_rle(item[1]) for item in items] if masks else None,
        image_size=(WIDTH, HEIGHT),
    )


def subset(p: Predictions, order) -> Predictions:
    """The predictions at ``order`` (a permutation, or fewer)."""
    order = list(order)
    return Predictions(
        boxes=p.boxes[order].reshape(-1, 4),
        class_names=tuple(p.class_names[i] for i in order),
        scores=p.scores[order],
        masks=None if p.masks is None else [p.masks[i] for i in order],
        image_size=p.image_size,
    )


def compare(a: Predictions, b: Predictions, *, masks: bool = False):
    return compare_predictions(a, b, iou=IOU, conf=CONF, conf_threshold=THRESHOLD, use_masks=masks)


def result_of(a: Predictions, b: Predictions, *, masks: bool = False) -> ParityResult:
    from harness.casefile.schema import Case

    case = Case("scene", Path("cases/x.yaml"), Path("cases/x.png"), (WIDTH, HEIGHT), (), (), 0, None, None, {})
    rows = compare(a, b, masks=masks)
    return ParityResult(case, "m.pt", "m.onnx", CompareTo("m.onnx"), THRESHOLD, a, b, rows)


SCENE = predictions(
    ("circle", (10, 10, 50, 50), 0.91),
    ("square", (60, 20, 100, 70), 0.83),
    ("square", (110, 60, 150, 110), 0.47),
    ("triangle", (20, 70, 60, 115), 0.66),
)


# --- matching and judging ------------------------------------------------------------------------


@pytest.mark.parametrize("masks", [False, True], ids=["detect", "segment"])
def test_identical_predictions_are_at_parity(masks):
    scene = predictions(*zip(SCENE.class_names, SCENE.boxes.tolist(), SCENE.scores, strict=True), masks=masks)
    result = result_of(scene, scene, masks=masks)
    assert result.passed
    assert result.pairs == 4 and result.unmatched == 0 and result.borderline == ()
    assert result.worst_iou == 1.0 and result.max_conf_difference == 0.0
    assert all(row.a == row.b for row in result.rows)
    assert all((row.mask_iou is not None) == masks for row in result.rows)
    assert summarize_parity(result) == "parity: 4 pairs match (worst IoU 1.0000, largest conf difference 0.0000)"


def test_nothing_on_either_side_is_at_parity():
    empty = Predictions.empty((WIDTH, HEIGHT), with_masks=True)
    result = result_of(empty, empty, masks=True)
    assert result.passed and result.rows == ()
    assert "neither model predicted anything" in format_parity(result)


boxes = st.tuples(
    st.floats(0, WIDTH - 2), st.floats(0, HEIGHT - 2), st.floats(1, WIDTH / 2), st.floats(1, HEIGHT / 2)
).map(lambda b: (b[0], b[1], min(b[0] + b[2], WIDTH), min(b[1] + b[3], HEIGHT)))
prediction_sets = st.lists(
    st.tuples(st.sampled_from(["circle", "square"]), boxes, st.floats(0.0, 1.0)), max_size=8
).flatmap(lambda items: st.tuples(st.just(items), st.permutations(range(len(items))), st.booleans()))


@settings(max_examples=150, deadline=None)
@given(prediction_sets)
def test_any_prediction_set_is_at_parity_with_itself_and_with_a_permutation_of_itself(drawn):
    # Duplicates (the same box twice, maybe with two confidences) included: hypothesis finds them.
    items, order, masks = drawn
    a = predictions(*items, masks=masks)
    for b in (a, subset(a, order)):
        rows = compare(a, b, masks=masks)
        assert not [row for row in rows if row.problems], rows
        assert sum(row.a is not None and row.b is not None for row in rows) == len(items)
        for row in rows:  # each pair joins a prediction with its copy (or a twin of it: same box, same score
            assert abs(row.conf_a - row.conf_b) <= 1e-6  # to 1e-6, where the tie-break on scores stops telling)
            assert a.boxes[row.a].tolist() == b.boxes[row.b].tolist()


def test_a_dropped_prediction_fails_on_the_side_that_has_it():
    result = result_of(SCENE, subset(SCENE, [0, 2, 3]))
    assert not result.passed
    [alone] = [row for row in result.rows if row.problems]
    assert alone.problems == ("only in A",) and alone.a == 1 and alone.b is None and alone.conf_a == 0.83
    assert summarize_parity(result) == ("parity: 1 only in A (worst IoU 1.0000, largest conf difference 0.0000)")
    reverse = result_of(subset(SCENE, [0, 2, 3]), SCENE)
    assert [row.problems for row in reverse.rows if row.problems] == [("only in B",)]


@pytest.mark.parametrize("masks", [False, True], ids=["detect", "segment"])
def test_a_shifted_box_fails_with_its_iou(masks):
    a = predictions(("circle", (10, 10, 50, 50), 0.91), masks=masks)
    moved = predictions(("circle", (12, 10, 52, 50), 0.91), masks=masks)  # 2 px of 40: IoU 38/42
    result = result_of(a, moved, masks=masks)
    [row] = result.rows
    assert row.box_iou == pytest.approx(38 / 42)
    assert row.problems == (("box IoU low", "mask IoU low") if masks else ("box IoU low",))
    assert not result.passed
    assert re.search(r"worst IoU 0\.904", summarize_parity(result))


def test_a_confidence_beyond_the_tolerance_fails_within_it_passes():
    for score, passes in ((0.91 + CONF * 0.99, True), (0.91 + CONF * 1.5, False)):
        b = predictions(("circle", (10, 10, 50, 50), score))
        [row] = compare(subset(SCENE, [0]), b)
        assert (row.problems == ()) == passes
        assert passes or row.problems == ("conf differs",)


def test_a_prediction_near_the_confidence_threshold_is_borderline_tolerated_and_reported():
    near = predictions(("circle", (10, 10, 50, 50), 0.91), ("square", (60, 20, 100, 70), THRESHOLD + 0.015))
    result = result_of(near, subset(near, [0]))
    assert result.passed
    [row] = result.borderline
    assert row.problems == () and row.a == 1 and row.b is None
    assert result.unmatched == 1
    assert "1 borderline" in summarize_parity(result)
    table = format_parity(result)
    assert re.search(r"1\s+-\s+square .* borderline$", table, re.MULTILINE)
    # Just below the threshold on the other side: the same, seen from B.
    assert result_of(subset(near, [0]), near).borderline[0].b == 1
    # Further from the threshold than the tolerance: a real difference.
    far = predictions(("circle", (10, 10, 50, 50), 0.91), ("square", (60, 20, 100, 70), THRESHOLD + 0.05))
    assert not result_of(far, subset(far, [0])).passed


def test_a_class_that_changes_is_two_leftovers_not_a_pair():
    b = predictions(("square", (10, 10, 50, 50), 0.91))
    rows = compare(subset(SCENE, [0]), b)
    assert sorted(row.problems for row in rows) == [("only in A",), ("only in B",)]


def test_two_empty_masks_agree():
    a = predictions(("circle", (10, 10, 50, 50), 0.9), masks=True)
    empty = mask_to_rle(np.zeros((HEIGHT, WIDTH), dtype=bool))
    a = Predictions(a.boxes, a.class_names, a.scores, [empty], a.image_size)
    [row] = compare(a, a, masks=True)
    assert row.mask_iou == 1.0 and row.problems == ()


def test_the_failure_report_is_a_table_of_pairs():
    b = predictions(("circle", (12, 10, 52, 50), 0.70), ("square", (60, 20, 100, 70), 0.83))
    report = format_parity(result_of(subset(SCENE, [0, 1, 3]), b))
    lines = report.splitlines()
    assert lines[0] == "parity: 1 of 2 pairs differ, 1 only in A (worst IoU 0.9048, largest conf difference 0.2100)"
    assert lines[1].startswith("case 'scene' in cases/x.yaml: A m.pt against B m.onnx, image cases/x.png (160x120)")
    assert "each pair needs IoU >= 0.98 and |conf A - conf B| <= 0.02" in lines[2]
    assert lines[3].split() == ["A", "B", "class", "box", "box", "IoU", "conf", "A", "conf", "B", "verdict"]
    assert lines[4].split()[:3] == ["0", "0", "circle"] and lines[4].endswith("FAIL: box IoU low, conf differs")
    assert lines[5].split()[:3] == ["2", "-", "triangle"] and lines[5].endswith("FAIL: only in A")
    assert lines[6].split()[:3] == ["1", "1", "square"] and lines[6].endswith("ok")
    assert "Traceback" not in report


def test_the_threshold_is_the_files_conf_or_ultralytics_default():
    assert conf_threshold({"conf": 0.4}) == 0.4
    assert conf_threshold({}) == 0.25 == conf_threshold({"conf": None})


# --- the schema ----------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (WIDTH, HEIGHT)).save(tmp_path / "img.png")
    for name in ("model.pt", "model.onnx"):
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def load(project: Path, compare_to) -> object:
    document = {
        "model": "model.pt",
        "compare_to": compare_to,
        "cases": [{"name": "a", "image": "img.png", "objects": []}],
    }
    path = project / "cases.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_case_file(path)


def test_compare_to_is_a_path_or_a_mapping_with_tolerances(project):
    assert load(project, "model.onnx").compare_to == CompareTo(str(project / "model.onnx"), PARITY_IOU, PARITY_CONF)
    loaded = load(project, {"model": "model.onnx", "iou": 0.9, "conf": 0.1}).compare_to
    assert loaded == CompareTo(str(project / "model.onnx"), 0.9, 0.1)
    assert load(project, {"model": "model.onnx", "conf": 0}).compare_to.iou == PARITY_IOU
    document = {"model": "model.pt", "cases": [{"name": "a", "image": "img.png", "objects": []}]}
    (project / "plain.yaml").write_text(yaml.safe_dump(document))
    assert load_case_file(project / "plain.yaml").compare_to is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gone.onnx", "cases.yaml: compare_to: file not found: gone.onnx (looked for "),
        ({"model": "gone.onnx"}, "cases.yaml: compare_to.model: file not found: gone.onnx"),
        ({"iou": 0.9}, "cases.yaml: compare_to.model: missing: the second model"),
        ({"model": "model.onnx", "iuo": 0.9}, "cases.yaml: compare_to.iuo: unknown key; did you mean 'iou'?"),
        ({"model": "model.onnx", "iou": 1.5}, "cases.yaml: compare_to.iou: 1.5 is outside [0.0, 1.0]"),
        ({"model": "model.onnx", "conf": -0.1}, "cases.yaml: compare_to.conf: -0.1 is outside [0.0, 1.0]"),
        ({"model": "model.onnx", "conf": "small"}, "cases.yaml: compare_to.conf: expected a finite number, got str"),
        ({"model": "model.onnx", "iou": True}, "cases.yaml: compare_to.iou: expected a finite number, got bool"),
        (0.95, "cases.yaml: compare_to: expected a model path or {model: PATH, iou: X, conf: Y}, got float 0.95"),
        ("", "cases.yaml: compare_to: expected a non-empty string"),
        (["model.onnx"], "cases.yaml: compare_to: expected a model path or {model: PATH, iou: X, conf: Y}, got list"),
    ],
)
def test_a_bad_compare_to_is_one_line_naming_file_and_field(project, value, message):
    with pytest.raises(CaseFileError) as raised:
        load(project, value)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(message), text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(values, st.dictionaries(st.sampled_from(["model", "iou", "conf", "modle"]), values, max_size=4)))
def test_any_compare_to_value_loads_or_is_a_case_file_error(project, value):
    try:
        loaded = load(project, value).compare_to
    except CaseFileError as exc:
        assert "\n" not in str(exc) and "compare" in str(exc)
    else:
        assert Path(loaded.model).is_file() and 0 <= loaded.iou <= 1 and 0 <= loaded.conf <= 1


def test_a_misspelt_compare_to_key_gets_a_suggestion(project):
    path = project / "cases.yaml"
    path.write_text("model: model.pt\ncompare-to: model.onnx\ncases: []\n")
    with pytest.raises(CaseFileError, match=r"cases.yaml: compare-to: unknown key; did you mean 'compare_to'\?"):
        load_case_file(path)


def test_a_missing_compare_to_file_is_not_checked_when_it_is_overridden(project):
    document = {
        "model": "model.pt",
        "compare_to": "gone.onnx",
        "cases": [{"name": "a", "image": "img.png", "objects": []}],
    }
    path = project / "cases.yaml"
    path.write_text(yaml.safe_dump(document))
    assert load_case_file(path, check_compare_to=False).compare_to.model == str(project / "gone.onnx")
    assert load_case_file(path, check_model=False).compare_to.model == str(
        project / "gone.onnx"
    )  # tools that run nothing


def test_recording_into_a_file_does_not_need_its_export(tmp_path):
    from harness.golden.record import target

    text = shipped_suite("shapes-detect.yaml").replace("task: detect\n", "task: detect\ncompare_to: gone.onnx\n")
    (tmp_path / "detect.yaml").write_text(text)
    model, predict = target(tmp_path / "detect.yaml", None, None)
    assert model.name == "shapes-detect.pt" and predict["imgsz"] == 256


def test_parity_results_travel_home_from_pytest_xdist_workers():
    # A real -n 2 run (checked by hand, see docs/robustness.md) costs 10-20 s here; this is the part that is ours.
    from harness.core.config import Thresholds
    from harness.pytest_plugin.distributed import merge_worker_payload, worker_payload
    from harness.pytest_plugin.session import HarnessRun
    from harness.pytest_plugin.settings import Settings

    settings = Settings(None, None, "cpu", Thresholds(), ("*.yaml",))
    worker, controller = HarnessRun(settings), HarnessRun(settings)
    worker.parity["x.yaml::scene[parity]"] = result = result_of(SCENE, subset(SCENE, [0, 2, 3]))
    merge_worker_payload(controller, worker_payload(worker, []))
    [(nodeid, travelled)] = controller.parity.items()
    assert nodeid == "x.yaml::scene[parity]"
    assert travelled.rows == result.rows and format_parity(travelled) == format_parity(result)
