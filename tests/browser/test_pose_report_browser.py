"""The HTML report of the weak pose model in headless Chromium: the suite's pose metrics row, and a
failing case's keypoint tables (one row per keypoint, as the terminal's failure report has them)."""

from __future__ import annotations

import json

import pytest

from chromium import chromium, missing_browser
from conftest import MODELS, shipped_suite, unavailable

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_report_shows_pose_metrics_and_keypoint_tables(pytester, tmp_path):
    reason = missing_browser()
    if reason is not None:
        unavailable(reason)
    pytester.makefile(".yaml", shapes_pose=shipped_suite("shapes-pose.yaml", gates=True))
    weak = "--harness-model=" + str(MODELS / "shapes-pose-weak.pt")
    result = pytester.runpytest(weak, "--harness-report=report.html", "--harness-json=run.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    record = json.loads((pytester.path / "run.json").read_text())
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((pytester.path / "report.html").as_uri())
        page.wait_for_selector("body[data-ready=true]")
        assert "pose" in [cell.strip() for cell in page.locator(".suite table th").all_inner_texts()]
        page.locator("#cases tbody tr[data-outcome=failed]").first.click()
        page.wait_for_selector("#detail[open] table.keypoints")
        detail = page.inner_text("#detail")
        failing = next(c for c in record["cases"] if c["verdict"] and f"image {c['image']} " in detail)
        objects = [obj for obj in failing["verdict"]["objects"] if obj["keypoints"]]
        assert page.locator("#detail table.keypoints").count() == len(objects)
        rows = page.locator("#detail table.keypoints").first.locator("tr").all_inner_texts()
        assert [row.split()[0] for row in rows] == ["keypoint", "tip", "left_barb", "right_barb", "notch"]
        assert f"OKS {objects[0]['oks']:.3f} (minimum 0.5)" in detail and errors == []
