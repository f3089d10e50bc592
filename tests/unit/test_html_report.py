"""The HTML report as a file: self-contained, and safe whatever text a case file or a model brings.

What it looks like and does in a browser is tests/browser/test_report_browser.py."""

from __future__ import annotations

import json
import re

from harness.reports.html_report import TEMPLATE, render_html
from harness.reports.run_outputs import CasePictures

HOSTILE = "</script><script>document.title='pwned'</script><!-- __RUN_PICTURES__"


def record(message: str = "") -> dict:
    counts = {"passed": 0, "failed": 1, "error": 0, "skipped": 0}
    return {
        "schema": "vision-harness/run-record",
        "schema_version": 1,
        "exit_status": 1,
        "totals": {"items": counts, "cases": counts},
        "cases": [
            {"node_id": "a.yaml::x", "name": "x", "outcome": "failed", "message": message, "tags": [], "verdict": None}
        ],
        "suites": [],
    }


def embedded(page: str, element_id: str):
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_text_from_case_files_cannot_close_the_data_script():
    page = render_html(record(HOSTILE), {})
    assert HOSTILE not in page
    assert page.count("</script>") == TEMPLATE.read_text().count("</script>")
    assert embedded(page, "run-record")["cases"][0]["message"] == HOSTILE  # and the text survives intact


def test_pictures_are_inline_webp_data_urls():
    pictures = {"a.yaml::x": CasePictures(thumbnail=b"RIFF-thumb", picture=b"RIFF-full")}
    page = render_html(record(), pictures)
    images = embedded(page, "run-pictures")["a.yaml::x"]
    assert images["thumbnail"] == "data:image/webp;base64,UklGRi10aHVtYg=="
    assert images["overlay"].startswith("data:image/webp;base64,")


def test_the_page_names_nothing_outside_itself():
    page = TEMPLATE.read_text()
    # No URL of any scheme but data:, and a content policy that forbids fetching anything else.
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", page)
    assert not re.search(r"https?://|//cdn|@import|url\(", page)
    assert "default-src 'none'" in page and "img-src data:" in page


def test_only_the_worst_cases_carry_a_labelled_overlay():
    document = record()
    verdict = {"worst_iou": 0.6}
    document["cases"] = [
        {"node_id": "a.yaml::fine", "outcome": "passed", "verdict": verdict, "tags": []},
        {"node_id": "a.yaml::bad", "outcome": "failed", "verdict": {"worst_iou": 0.7}, "tags": []},
        {"node_id": "a.yaml::worse", "outcome": "failed", "verdict": {"worst_iou": 0.1}, "tags": []},
    ]
    pictures = {case["node_id"]: CasePictures(thumbnail=b"t", picture=b"p") for case in document["cases"]}
    images = embedded(render_html(document, pictures, max_overlays=2), "run-pictures")
    assert {node for node, entry in images.items() if "overlay" in entry} == {"a.yaml::worse", "a.yaml::bad"}
    assert all("thumbnail" in entry for entry in images.values())
