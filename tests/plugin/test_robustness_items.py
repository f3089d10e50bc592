"""Transformed variants as pytest items: ids, markers, errors, cache, update, on the shipped models."""

from __future__ import annotations

import json
import re

import jsonschema
import numpy as np
import pytest
from PIL import Image

from harness.reports.run_record import load_schema

from conftest import CASES, MODELS, shipped_suite, with_case_line

FLIPS_AND_ROTATIONS = "transforms: [hflip, vflip, rot90, rot180, rot270]\n"


def with_transforms(suite: str, line: str = FLIPS_AND_ROTATIONS) -> str:
    """The suite with a file-level ``transforms:`` line after its thresholds."""
    head, thresholds, rest = suite.partition("\nthresholds:")
    end = rest.index("\n") + 1
    return head + thresholds + rest[:end] + line + rest[end:]


@pytest.mark.parametrize("name", ["shapes-seg.yaml", "shapes-detect.yaml"])
def test_flipped_and_rotated_shipped_suites_pass_on_the_shipped_models(pytester, name, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    suite = shipped_suite(name, transforms=True)
    assert suite.count("transforms:") == 1 and "transforms: [hflip, vflip, rot90, rot180, rot270]" in suite
    count = suite.count("- name:")
    pytester.makefile(".yaml", shapes=suite)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=count * 6)
    result.stdout.fnmatch_lines(
        [
            f"cases judged: {count}, passed {count}, failed 0",
            f"transformed variants judged: {count * 5}, passed {count * 5}, failed 0",
        ]
    )
    assert f"{count * 6} passed of {count * 6} cases" in (pytester.path / "summary.md").read_text()


@pytest.mark.parametrize("name", ["shapes-seg.yaml", "shapes-detect.yaml"])
def test_a_variant_predicts_what_plain_ultralytics_finds_in_the_transformed_picture_saved(tmp_path, name):
    """The harness predicts a transformed picture in memory; Ultralytics reading the same picture
    from a PNG file must find exactly the same objects, so a variant's verdict is the model's."""
    from ultralytics import YOLO

    from harness.casefile.load import load_case_file
    from harness.casefile.schema import Case
    from harness.evaluation.suites import Judge
    from harness.robustness.variants import case_pixels, make_variant

    loaded = load_case_file(CASES / name)
    (case,) = [c for c in loaded.cases if isinstance(c, Case) and c.name == "scene-003"]  # its smallest shapes
    model, judge = YOLO(str(loaded.model)), Judge("cpu")
    for spec in case.variants:
        variant = make_variant(case, spec)
        verdict = judge.verdict(variant, loaded.model)
        assert verdict.passed, variant.name
        png = tmp_path / f"{spec.transform.id}.png"
        Image.fromarray(case_pixels(variant)).save(png)
        result = model.predict(str(png), verbose=False, retina_masks=True, **dict(case.predict))[0]
        names = [result.names[int(c)] for c in result.boxes.cls]
        assert sorted(names) == sorted(verdict.predictions.class_names), variant.name
        assert np.allclose(np.sort(result.boxes.xyxy.numpy(), axis=0), np.sort(verdict.predictions.boxes, axis=0))


def with_case_transforms(entries: str, case: str = "scene-001") -> str:
    """The shipped detect suite with a ``transforms:`` list on one case."""
    return with_case_line(shipped_suite("shapes-detect.yaml"), case, f"transforms: [{entries}]")


def test_a_known_failure_is_xfail_with_its_reason_everywhere_the_run_is_reported(pytester, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    reason = "no detector is that exact"
    pytester.makefile(
        ".yaml", shapes=with_case_transforms(f'hflip, {{vflip: true, box_iou: 0.999, xfail: "{reason}"}}')
    )
    result = pytester.runpytest(
        "shapes.yaml::scene-001",
        "shapes.yaml::scene-001[hflip]",
        "shapes.yaml::scene-001[vflip]",
        "-rx",
        "--harness-json=run.json",
        "--harness-report=report.html",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2, xfailed=1)
    assert f"XFAIL shapes.yaml::scene-001[vflip] - {reason}" in result.outlines
    result.stdout.fnmatch_lines(["transformed variants judged: 2, passed 1, failed 1 (1 known: xfail)"])
    record = json.loads((pytester.path / "run.json").read_text())
    (case,) = [c for c in record["cases"] if c["name"] == "scene-001[vflip]"]
    assert (case["outcome"], case["message"]) == ("skipped", f"expected failure (xfail): {reason}")
    assert case["verdict"]["passed"] is False  # the verdict is kept: what failed, and by how much
    summary = (pytester.path / "summary.md").read_text()
    assert "2 passed, 1 known failure (xfail) of 3 cases" in summary
    assert summary.count("| known failure (xfail) |") == 1


def test_a_known_failure_that_passes_fails_the_run_strictly(pytester):
    pytester.makefile(".yaml", shapes=with_case_transforms('{hflip: true, xfail: "was wrong once"}'))
    result = pytester.runpytest("shapes.yaml::scene-001[hflip]", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "[XPASS(strict)] was wrong once" in result.outlines
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_known_failure_that_cannot_even_run_is_an_error_not_an_xfail(pytester):
    # scene-001 is 320x320: a crop window reaching x=400 cannot apply to it.
    pytester.makefile(".yaml", shapes=with_case_transforms('{crop: [0, 0, 400, 100], xfail: "too dark"}'))
    result = pytester.runpytest("shapes.yaml::scene-001", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)


def test_variants_are_items_named_after_their_transform_and_marked_robustness(pytester):
    suite = with_transforms(shipped_suite("shapes-detect.yaml"), "transforms: [hflip, {brightness: 0.8}]\n")
    pytester.makefile(".yaml", shapes=suite)
    listed = pytester.runpytest("--collect-only", "-q").outlines
    assert "shapes.yaml::scene-001" in listed
    assert "shapes.yaml::scene-001[hflip]" in listed and "shapes.yaml::scene-001[brightness=0.8]" in listed
    plain = pytester.runpytest("-m", "not robustness", "--collect-only", "-q")
    assert not [line for line in plain.outlines if "[" in line and "::" in line]
    variants = pytester.runpytest("-m", "robustness and dark", "--collect-only", "-q")  # case tags carry over
    ids = [line for line in variants.outlines if "::" in line]
    assert ids and all(re.search(r"::scene-\d+\[(hflip|brightness=0\.8)\]$", line) for line in ids)
    one = pytester.runpytest("shapes.yaml::scene-001[hflip]", "-p", "no:cacheprovider")
    one.assert_outcomes(passed=1)


def test_a_variant_that_cannot_apply_errors_alone_with_one_line(pytester):
    suite = shipped_suite("shapes-detect.yaml")
    first = suite.index("  - name: scene-001")
    # scene-001 is 320x320: a crop window reaching x=400 cannot apply to it.
    suite = suite[:first] + suite[first:].replace(
        "    tags:", "    transforms: [hflip, {crop: [0, 0, 400, 100]}]\n    tags:", 1
    )
    pytester.makefile(".yaml", shapes=suite)
    result = pytester.runpytest("shapes.yaml::scene-001", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    assert "shapes.yaml: case 'scene-001': transforms[1].crop: [0, 0, 400, 100] is outside the 320x320 image" in (
        result.outlines
    )


def test_variants_are_cached_apart_and_a_rerun_predicts_nothing(pytester):
    suite = with_transforms(shipped_suite("shapes-detect.yaml"), "transforms: [vflip, {noise: 8}]\n")
    count = suite.count("- name:")
    pytester.makefile(".yaml", shapes=suite)
    cold = pytester.runpytest()
    assert re.search(rf"\b{count * 3} images predicted", cold.outlines[-3] + "\n".join(cold.outlines))
    warm = pytester.runpytest()
    assert f"0 images predicted in 0.0 s, {count * 3} from the cache" in "\n".join(warm.outlines)
    assert warm.parseoutcomes() == cold.parseoutcomes()
    pytester.makefile(".yaml", shapes=suite.replace("{noise: 8}", "{noise: 9}"))
    changed = pytester.runpytest()
    assert f"{count} images predicted" in "\n".join(changed.outlines)  # only the changed transform's images


def test_a_failing_variant_reports_its_table_and_overlay_and_update_leaves_the_file_alone(pytester):
    suite = with_transforms(shipped_suite("shapes-seg.yaml"), "transforms: [rot90]\n")
    path = pytester.makefile(".yaml", shapes=suite)
    before = path.read_bytes()
    weak = f"--harness-model={MODELS / 'shapes-seg-weak.pt'}"
    result = pytester.runpytest(
        weak, "-m", "robustness", "--harness-update", "--harness-json=run.json", "-p", "no:cacheprovider"
    )
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] > 0
    text = "\n".join(result.outlines)  # fnmatch would read the brackets of node ids as character sets
    assert "case 'scene-001[rot90]' in shapes.yaml: model shapes-seg-weak.pt, image " in text
    assert "golden-001.png (320x320)\n" in text
    assert "overlay: harness-overlays/shapes.yaml/scene-001[rot90].png" in text
    assert (pytester.path / "harness-overlays" / "shapes.yaml" / "scene-001[rot90].png").is_file()
    record = json.loads((pytester.path / "run.json").read_text())
    jsonschema.validate(record, load_schema(), cls=jsonschema.Draft202012Validator)
    (case,) = [c for c in record["cases"] if c["name"] == "scene-001[rot90]"]
    assert (case["transform"], case["image"].endswith("golden-001.png"), case["outcome"]) == ("rot90", True, "failed")
    assert path.read_bytes() == before  # a variant's expectations are its case's: --harness-update never rewrites them


def test_update_rewrites_the_failing_cases_of_a_file_with_variants_and_never_from_a_variant(pytester):
    suite = with_transforms(shipped_suite("shapes-seg.yaml"), "transforms: [rot90]\n")
    path = pytester.makefile(".yaml", shapes=suite)
    weak = f"--harness-model={MODELS / 'shapes-seg-weak.pt'}"
    result = pytester.runpytest(weak, "--harness-update", "-p", "no:cacheprovider")
    assert not [line for line in result.outlines if "could not write" in line]
    failed_cases = [line for line in result.outlines if line.startswith("FAILED") and "[" not in line.split("::")[1]]
    rewritten = path.read_text().count("reviewed: false")
    assert rewritten == len(failed_cases) > 0
    again = pytester.runpytest(weak, "-p", "no:cacheprovider", "-m", "not robustness")
    assert again.parseoutcomes().get("skipped") == rewritten  # recorded, waiting for review
