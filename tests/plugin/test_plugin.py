"""The plugin run the way users run it: pytest on case files, through pytester, with the real models."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import ALLOW_OUTSIDE_ROOT, MODELS, shipped_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def case_count(text: str, predicate=lambda case: True) -> int:
    return sum(1 for case in yaml.safe_load(text)["cases"] if predicate(case))


def shift_first_box(text: str, case_name: str, fraction: float) -> tuple[str, list[float]]:
    """Shift the first expected box of ``case_name`` right by ``fraction`` of its width."""
    document = yaml.safe_load(text)
    case = next(c for c in document["cases"] if c["name"] == case_name)
    x1, y1, x2, y2 = case["objects"][0]["box"]
    dx = (x2 - x1) * fraction
    case["objects"][0]["box"] = [x1 + dx, y1, x2 + dx, y2]
    case["objects"][0].pop("mask", None)  # only the box moves; its mask would fail for the same reason
    return yaml.safe_dump(document, sort_keys=False), case["objects"][0]["box"]


def test_shipped_seg_suite_passes(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=case_count(seg_suite))
    result.stdout.fnmatch_lines(["*vision-harness*", "cases judged: *, passed *, failed 0"])


def test_shipped_suites_pass_with_their_gates(pytester):
    for name in ("shapes-detect.yaml", "shapes-seg.yaml"):
        pytester.makefile(".yaml", **{name.removesuffix(".yaml"): shipped_suite(name, gates=True)})
    result = pytester.runpytest("-v")
    gates = [line for line in result.outlines if "::suite::" in line and "PASSED" in line]
    assert len(gates) >= 4
    cases = sum(case_count(shipped_suite(name)) for name in ("shapes-detect.yaml", "shapes-seg.yaml"))
    result.assert_outcomes(passed=cases + len(gates))


def test_shifted_box_fails_exactly_that_case_with_iou_shown(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(detect_suite) - 1, failed=1)
    result.stdout.fnmatch_lines(["FAILED shapes.yaml::scene-002 - *worst IoU 0.*"])
    # A box shifted by a third of its width overlaps about 2/4 of the union: IoU near 0.5.
    row = next(line for line in result.outlines if "FAIL: box IoU low" in line)
    iou = float(re.search(r"(\d\.\d{3}) <  0\.75", row).group(1))
    assert 0.35 < iou < 0.65
    assert "Traceback" not in result.stdout.str()


def test_schema_error_is_one_line_and_other_files_still_run(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    model = MODELS / "shapes-detect.pt"
    broken = f"model: {model}\ncases:\n  - name: a\n    image: x.png\n    objects: []\n    colour: red\n"
    pytester.makefile(".yaml", broken=broken)
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(detect_suite), errors=1)
    result.stdout.fnmatch_lines(["broken.yaml: case 'a': colour: unknown key*"])
    assert "Traceback" not in result.stdout.str()


def test_yaml_syntax_error_names_line_and_column(pytester):
    pytester.makefile(".yaml", bad="model: m.pt\ncases: [\n  - {name: a\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.yaml: invalid YAML: line *, column *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_weak_model_fails_cases_that_have_objects(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-detect-weak.pt"))
    with_objects = case_count(detect_suite, lambda case: case["objects"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= with_objects * 0.9
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*model *shapes-detect-weak.pt (detect, *"])


def test_missing_model_override_is_a_usage_error(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest("--harness-model", "nowhere/candidate.pt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--harness-model nowhere/candidate.pt: file not found*"])


def test_detect_model_on_seg_cases_is_an_error_per_case(pytester, seg_suite):
    pytester.makefile(".yaml", shapes=seg_suite)
    result = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-detect.pt"))
    result.assert_outcomes(errors=case_count(seg_suite))
    result.stdout.fnmatch_lines(["*shapes.yaml: case 'scene-000': task: the file says segment but *is a detect model"])


def test_unknown_class_breaks_only_its_case(pytester, detect_suite):
    text = detect_suite.replace("class: circle", "class: hexagon", 1)
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(detect_suite) - 1, errors=1)
    result.stdout.fnmatch_lines(["*: objects[[]*[]].class: 'hexagon' is not a class of shapes-detect.pt*"])


def test_missing_image_breaks_only_its_case(pytester, detect_suite):
    text = detect_suite.replace("golden-003.png", "gone.png")
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest()
    result.assert_outcomes(passed=case_count(detect_suite) - 1, errors=1)
    result.stdout.fnmatch_lines(["shapes.yaml: case 'scene-003': image: image not found: *gone.png"])


def test_node_ids_keyword_and_tag_selection(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    listed = pytester.runpytest("--collect-only", "-q")
    assert "shapes.yaml::scene-000" in listed.outlines
    pytester.runpytest("-k", "scene-001 or scene-002").assert_outcomes(passed=2)
    crowded = case_count(detect_suite, lambda case: "crowded" in case["tags"])
    assert crowded > 0
    pytester.runpytest("-m", "crowded", "--strict-markers").assert_outcomes(passed=crowded)
    pytester.runpytest("-m", "not crowded").assert_outcomes(passed=case_count(detect_suite) - crowded)


def test_last_failed_and_exitfirst(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    text, _ = shift_first_box(text, "scene-006", 1 / 3)
    pytester.makefile(".yaml", shapes=text)
    pytester.runpytest().assert_outcomes(passed=case_count(detect_suite) - 2, failed=2)
    pytester.runpytest("--lf").assert_outcomes(failed=2)
    pytester.runpytest("-x", "-p", "no:cacheprovider").assert_outcomes(passed=2, failed=1)


def test_junit_xml_records_failures_and_errors(pytester, detect_suite):
    text, _ = shift_first_box(detect_suite, "scene-002", 1 / 3)
    pytester.makefile(".yaml", shapes=text)
    pytester.makefile(".yaml", broken="cases: {}\n")
    pytester.runpytest("--junitxml=report.xml")
    suite = ET.parse(pytester.path / "report.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) == 1
    assert int(suite.get("errors")) == 1
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["scene-002"]
    assert "box IoU low" in failed[0].find("failure").text


def test_yaml_without_cases_key_is_not_collected_unless_named(pytester, detect_suite):
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.makefile(".yaml", data="path: somewhere\nnames: {0: circle}\n")
    pytester.runpytest().assert_outcomes(passed=case_count(detect_suite))
    named = pytester.runpytest("data.yaml")
    named.assert_outcomes(errors=1)
    named.stdout.fnmatch_lines(["*data.yaml: path: unknown key*"])


def test_each_model_loaded_once_and_each_image_predicted_once(pytester, detect_suite):
    pytester.makefile(".yaml", first=detect_suite, second=detect_suite)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2 * case_count(detect_suite))
    model_lines = [line for line in result.outlines if line.startswith("model ")]
    assert len(model_lines) == 1
    assert f"{case_count(detect_suite)} images predicted" in model_lines[0]


def test_ini_thresholds_apply_below_case_file_thresholds(pytester, detect_suite):
    # The shipped file sets box_iou 0.75 itself, so an ini default of 0.999 must not change its verdicts.
    pytester.makefile(".yaml", shapes=detect_suite)
    pytester.makeini(ALLOW_OUTSIDE_ROOT + "harness_box_iou = 0.999\n")
    pytester.runpytest().assert_outcomes(passed=case_count(detect_suite))
    without_file_threshold = re.sub(r"thresholds: \{box_iou: 0.75, ", "thresholds: {", detect_suite)
    pytester.makefile(".yaml", shapes=without_file_threshold)
    result = pytester.runpytest()
    assert result.parseoutcomes().get("failed", 0) > 0


def test_a_pinned_model_with_another_sha256_is_refused_before_loading(pytester, detect_suite):
    assert "sha256: " in detect_suite
    text = re.sub(r"sha256: [0-9a-f]{64}", "sha256: " + "f" * 64, detect_suite)
    pytester.makefile(".yaml", shapes=text)
    result = pytester.runpytest()
    result.assert_outcomes(errors=case_count(detect_suite))
    result.stdout.fnmatch_lines(
        ["*case 'scene-000': model.sha256: shapes-detect.pt has sha256 *, but the file pins ffff*"]
    )
    assert "images predicted" not in result.stdout.str()  # refused before the weights were loaded
    # A candidate given on the command line is not the pinned file: the pin does not apply to it.
    candidate = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-detect-weak.pt"))
    outcomes = candidate.parseoutcomes()
    assert "errors" not in outcomes and outcomes["failed"] > 0


def test_a_case_file_without_cases_is_an_error_and_an_empty_run_fails(pytester):
    pytester.makefile(".yaml", empty=f"model: {MODELS / 'shapes-detect.pt'}\ncases: []\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["empty.yaml: cases: no cases: list at least one, or delete the file"])
    (pytester.path / "empty.yaml").unlink()
    assert pytester.runpytest().ret == pytest.ExitCode.NO_TESTS_COLLECTED  # non-zero: nothing ran


def test_files_outside_the_project_root_are_refused_unless_allowed(pytester, detect_suite):
    pytester.makeini("[pytest]\n")  # the default: case files stay inside the project
    pytester.makefile(".yaml", shapes=detect_suite)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["shapes.yaml: model: */shapes-detect.pt is outside the project root *; set harness_allow_outside_root*"]
    )
    # The model given on the command line is the user's own choice; the images are still checked.
    result = pytester.runpytest("--harness-model=" + str(MODELS / "shapes-detect.pt"))
    result.assert_outcomes(errors=case_count(detect_suite))
    result.stdout.fnmatch_lines(["shapes.yaml: case 'scene-000': image: */golden-000.png is outside the project root*"])
    assert "images predicted" not in result.stdout.str()  # not one image outside the project was run
