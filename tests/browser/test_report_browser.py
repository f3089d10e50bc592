"""The HTML report in a real headless Chromium: opened from disk, cases and overlays render,
filters and sorting work, no request leaves the file. Runs the shipped suites with the weak models.

Also the parity table of a failing ONNX export (tests/conftest.py's `onnx_models`).

Without Chromium or Playwright the tests skip locally and fail in CI (CI=true): .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from chromium import chromium, missing_browser
from conftest import MODELS, shipped_suite, unavailable, with_case_line, with_compare_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def browser():
    reason = missing_browser()
    if reason is not None:
        unavailable(reason)
    with chromium() as launched:
        yield launched


@pytest.fixture
def weak_report(pytester) -> tuple[dict, object]:
    """Both shipped suites, each run with its weak model, written as an HTML report and a JSON record."""
    for name in ("shapes-seg", "shapes-detect"):
        text = shipped_suite(f"{name}.yaml", gates=True)
        weak = str(MODELS / f"{name}-weak.pt")
        # The shipped files pin their model's sha256; the weak model replaces it, pin and all.
        lines = [f"model: {weak}" if line.startswith("model:") else line for line in text.splitlines()]
        pytester.makefile(".yaml", **{name: "\n".join(lines) + "\n"})
    result = pytester.runpytest("--harness-report=report.html", "--harness-json=run.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    return json.loads((pytester.path / "run.json").read_text()), pytester.path / "report.html"


def visible_outcomes(page) -> list[str]:
    return page.eval_on_selector_all("#cases tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.outcome)")


def test_report_of_the_weak_models_in_a_real_browser(browser, weak_report, tmp_path):
    record, report = weak_report
    cases = record["cases"]
    failed = sum(case["outcome"] == "failed" for case in cases)
    passed = sum(case["outcome"] == "passed" for case in cases)
    assert len(cases) == 48 and failed > 30 and passed > 0

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-ready=true]")

    # Run identity, suites and gates.
    assert f"{failed} failed" in page.inner_text("#banner")
    identity = page.inner_text("#identity")
    for model in record["models"]:
        assert model["sha256"] in identity and model["name"] in identity
    assert page.locator(".suite").count() == 2
    assert not page.is_visible("#parity-section")  # no compare_to: no parity table
    assert page.locator("table.gates .badge.failed").count() == 6

    # Every case is a row; failing ones come first, and their overlays render.
    assert page.locator("#cases tbody tr").count() == 48
    assert visible_outcomes(page)[:failed] == ["failed"] * failed
    page.eval_on_selector("#cases-heading", "heading => heading.scrollIntoView()")  # the table's top
    page.wait_for_function(
        "() => [...document.querySelectorAll('#cases tbody tr img.thumb')].slice(0, 4)"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    # Thumbnails far below the fold are not decoded until scrolled to.
    assert page.eval_on_selector("#cases tbody tr:last-child img.thumb", "img => img.getAttribute('src')") is None

    # Filtering by status hides the passing cases, and back.
    page.select_option("#filter-status", "failed")
    assert visible_outcomes(page) == ["failed"] * failed
    assert page.locator("#cases tbody tr[data-outcome=passed]:not([hidden])").count() == 0
    assert page.inner_text("#shown") == f"{failed} of 48 cases shown"
    screenshot = tmp_path / "report-failed-cases.png"
    page.screenshot(path=screenshot)
    page.select_option("#filter-status", "passed")
    assert visible_outcomes(page) == ["passed"] * passed
    page.select_option("#filter-status", "")

    # By tag and by class: exactly the cases the record says carry them.
    page.select_option("#filter-tag", "small")
    assert len(visible_outcomes(page)) == sum("small" in case["tags"] for case in cases)
    page.select_option("#filter-tag", "")
    page.select_option("#filter-class", "triangle")
    assert len(visible_outcomes(page)) == sum("triangle" in case["verdict"]["classes"] for case in cases)
    page.select_option("#filter-class", "")

    # Sorting by worst IoU, lowest first.
    page.click("th[data-sort=worst]")
    shown = page.eval_on_selector_all("#cases tbody tr td.num", "cells => cells.map(c => c.textContent)")
    values = [float(v) for v in shown if v != "-"]
    assert values == sorted(values)

    # A failing case's detail: the labelled overlay at full size and the object table.
    page.select_option("#filter-status", "failed")
    page.locator("#cases tbody tr:not([hidden])").first.click()
    page.wait_for_function("() => document.querySelector('#detail img.overlay')?.naturalWidth >= 640")
    assert page.locator("#detail[open]").count() == 1
    assert "FAIL:" in page.inner_text("#detail")
    page.screenshot(path=tmp_path / "report-case-detail.png")
    page.keyboard.press("Escape")
    assert page.locator("#detail[open]").count() == 0
    page.locator("#cases tbody tr:not([hidden])").nth(1).press("Enter")  # the keyboard opens a case too
    assert page.locator("#detail[open]").count() == 1

    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert screenshot.stat().st_size > 50_000  # a page of pictures, not a blank one
    keep = os.environ.get("HARNESS_SCREENSHOTS")
    if keep:  # for looking at them afterwards: HARNESS_SCREENSHOTS=folder pytest tests/browser/test_report_browser.py
        for picture in tmp_path.glob("*.png"):
            shutil.copy(picture, keep)


def test_a_known_failure_shows_as_xfail_with_its_reason(browser, pytester):
    entry = '{vflip: true, box_iou: 0.999, xfail: "no detector is that exact"}'
    suite = with_case_line(shipped_suite("shapes-detect.yaml"), "scene-001", f"transforms: [hflip, {entry}]")
    pytester.makefile(".yaml", shapes=suite)
    pytester.runpytest(
        "shapes.yaml::scene-001",
        "shapes.yaml::scene-001[hflip]",
        "shapes.yaml::scene-001[vflip]",
        "--harness-report=report.html",
    ).assert_outcomes(passed=2, xfailed=1)
    page = browser.new_page()
    page.goto((pytester.path / "report.html").as_uri())
    page.wait_for_selector("body[data-ready=true]")
    badges = page.eval_on_selector_all(
        "#cases tbody tr", "rows => rows.map(r => [r.innerText, r.querySelector('.badge').textContent])"
    )
    known = [badge for text, badge in badges if "scene-001[vflip]" in text]
    assert known == ["xfail"] and sorted(badge for _, badge in badges) == ["passed", "passed", "xfail"]
    title = page.eval_on_selector("#cases tbody tr .badge.skipped", "badge => badge.title")
    assert title == "expected failure (xfail): no detector is that exact"


def test_a_failing_export_s_parity_items_come_first_and_the_banner_counts_them(browser, pytester, onnx_models):
    """The weak model's export against the seg model: the run tests/acceptance/test_parity_onnx.py checks."""
    pytester.makefile(".yaml", seg=with_compare_to("shapes-seg.yaml", onnx_models["shapes-seg-weak.onnx"]))
    pytester.runpytest("--harness-report=report.html").assert_outcomes(passed=24 + 3, failed=21)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((pytester.path / "report.html").as_uri())
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_visible("#parity-section") and not errors
    outcomes = page.eval_on_selector_all("#parity tbody tr", "rows => rows.map(r => r.dataset.outcome)")
    assert outcomes == ["failed"] * 21 + ["passed"] * 3
    assert "21 of 24 parity items failed" in page.inner_text("#banner")
    assert "shapes-seg-weak.onnx" in page.inner_text("#parity tbody tr:first-child")
