"""search: on the pose, oriented-box and classify suites, run by the plugin on the shipped models: the
search explores, shrinks its break, and reports it with the task's own table (keypoints, oriented boxes,
ranked labels). The search itself is tests/unit/test_search.py; on segment, test_search_items.py."""

from __future__ import annotations

import re

import pytest

from conftest import shipped_suite, with_case_line

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SEARCH = "search: {noise: [0, 80], brightness: [0.2, 1.0]}"


@pytest.mark.parametrize(
    ("task", "case", "table"),
    [
        ("pose", "arrows-002", r"keypoints: OKS [\d.]+ [<>]=? 0\.50"),
        ("obb", "obb-002", r"#  class +expected obb +predicted obb +conf +obb IoU"),
        ("classify", "classify-002", r"rank  class +score"),
    ],
)
def test_a_search_breaks_and_reports_with_the_tasks_own_table(pytester, task, case, table):
    pytester.makefile(".yaml", **{task: with_case_line(shipped_suite(f"shapes-{task}.yaml"), case, SEARCH)})
    result = pytester.runpytest(f"{task}.yaml::{case}[search]", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "Traceback" not in out
    found = re.search(r"breaks at (.+) \(shrunk from (.+); (\d+) images judged, (\d+) predicted\)", out)
    assert found, out
    assert int(found.group(3)) > 1  # it explored before it broke
    assert re.search(table, out), out
    result.stdout.fnmatch_lines([f"case '{case}[[]search[]][[]*[]]' in {task}.yaml: model shapes-{task}.pt, *"])
    result.stdout.fnmatch_lines(["searches: 1, held 0, broke 1"])
