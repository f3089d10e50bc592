"""The HTML report: one self-contained file (styles, script, data and pictures inline) that opens
from disk with no network, so a CI artifact is all anyone needs to look at a run.

The page is ``harness/report.html``; this module fills in the run record (the same document
``--harness-json`` writes) and the pictures as WebP data URLs: a thumbnail of every case, and the
labelled overlays of the worst MAX_OVERLAYS cases an overlay was drawn for. The page's script builds the tables and sets
a thumbnail's source only when its row scrolls into view, so a 2,000-case report opens quickly.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.core.atomic import write_text_atomically
from harness.reports.run_outputs import CasePictures
from harness.reports.run_record import severity

TEMPLATE = Path(__file__).with_name("report.html")
# A labelled overlay is about 36 kB inline and a thumbnail 3 kB: with this cap a report of 2,000
# failing cases stays near 25 MB, an artifact any CI keeps and a browser opens in a second.
MAX_OVERLAYS = 500


def render_html(
    record: dict[str, Any], pictures: Mapping[str, CasePictures], *, max_overlays: int = MAX_OVERLAYS
) -> str:
    """The report page for ``record``, with ``pictures`` (by node id) inline: every thumbnail, and the
    labelled overlays of the ``max_overlays`` worst cases that have one."""
    drawn = [case for case in record["cases"] if getattr(pictures.get(case["node_id"]), "picture", None)]
    labelled = {case["node_id"] for case in sorted(drawn, key=severity)[:max_overlays]}
    images = {}
    for nodeid, picture in pictures.items():
        entry = {}
        if picture.thumbnail:
            entry["thumbnail"] = _data_url(picture.thumbnail)
        if picture.picture and nodeid in labelled:
            entry["overlay"] = _data_url(picture.picture)
        if entry:
            images[nodeid] = entry
    cases = record["totals"]["cases"]
    title = f"vision-harness: {cases['failed']} failed, {cases['error']} errors, {cases['passed']} passed"
    page = TEMPLATE.read_text(encoding="utf-8")
    values = {
        "__TITLE__": html.escape(title),
        "__MAX_OVERLAYS__": str(int(max_overlays)),
        "__RUN_RECORD__": _script_json(record),
        "__RUN_PICTURES__": _script_json(images),
    }
    # One pass over the page: a placeholder's text inside a value is never replaced again.
    return re.sub("|".join(values), lambda match: values[match.group(0)], page)


def write_html_report(record: dict[str, Any], pictures: Mapping[str, CasePictures], path: Path) -> None:
    """Write the report to ``path`` (atomically: readers never see half a file)."""
    write_text_atomically(path, render_html(record, pictures))


def _data_url(webp: bytes) -> str:
    return "data:image/webp;base64," + base64.b64encode(webp).decode("ascii")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "</script>" or "<!--" can appear in it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
