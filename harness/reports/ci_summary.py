"""The CI step summary: Markdown for GitHub Actions' ``GITHUB_STEP_SUMMARY`` file (the job's page).

Read from the run record, so it shows the same numbers as the JSON and the HTML report: the
outcome, each suite's headline metrics and gates, and the worst cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.reports.run_outputs import XFAIL_MESSAGE
from harness.reports.run_record import severity

HEADLINE = ("map50_95", "map50", "precision", "recall", "f1")
WORST_CASES = 10


def step_summary(record: dict[str, Any]) -> str:
    """The Markdown summary of a run record."""
    cases = record["totals"]["cases"]
    gates = [gate for suite in record["suites"] for gate in suite["gates"]]
    failed_gates = sum(not gate["passed"] for gate in gates)
    ok = record["exit_status"] == 0
    known = sum(is_known_failure(case) for case in record["cases"])
    known_text = f", {known} known failure{'s' if known > 1 else ''} (xfail)" if known else ""
    lines = [
        f"## vision-harness: {'passed' if ok else 'FAILED'}",
        "",
        f"{cases['failed']} failed, {cases['error']} errors, {cases['passed']} passed{known_text} of "
        f"{len(record['cases'])} cases; {failed_gates} of {len(gates)} gates failed.",
        "",
    ]
    lines += _parity(record.get("parity") or [])
    for model in record["models"]:
        sha = (model["sha256"] or "-")[:12]
        lines.append(f"Model `{model['name']}` ({model['task']}, sha256 `{sha}`), device `{model['device']}`.")
    lines.append("")
    complete = [suite for suite in record["suites"] if suite["complete"]]
    if complete:
        # Pose columns only when a suite has keypoint metrics: detect and seg runs keep their table.
        kinds = ("box", "mask") + (("pose",) if any("pose.map50_95" in suite["metrics"] for suite in complete) else ())
        lines += ["| suite | " + " | ".join(f"{kind} {name}" for kind in kinds for name in HEADLINE) + " |"]
        lines += ["|---" * (1 + len(kinds) * len(HEADLINE)) + "|"]
        for suite in complete:
            cells = [_cell(suite["metrics"].get(f"{kind}.{name}")) for kind in kinds for name in HEADLINE]
            lines.append(f"| `{suite['key']}` | " + " | ".join(cells) + " |")
        lines.append("")
    if gates:
        lines += ["| suite | gate | value | minimum | |", "|---|---|---|---|---|"]
        for suite in complete:
            for gate in suite["gates"]:
                mark = "pass" if gate["passed"] else "**FAIL**"
                lines.append(
                    f"| `{suite['key']}` | `{gate['metric']}` | {_cell(gate['value'])} | {gate['minimum']:g} | {mark} |"
                )
        lines.append("")
    worst = sorted(record["cases"], key=severity)[:WORST_CASES]
    if worst:
        lines += ["| worst cases | status | worst IoU | verdict |", "|---|---|---|---|"]
        for case in worst:
            verdict = case["verdict"]
            summary = verdict["summary"] if verdict else case["message"] or ""
            iou = _cell(verdict["worst_iou"]) if verdict else "-"
            status = "known failure (xfail)" if is_known_failure(case) else case["outcome"]
            lines.append(f"| `{case['node_id']}` | {status} | {iou} | {_escape(summary)} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def is_known_failure(case: dict[str, Any]) -> bool:
    """A case record of an expected failure (strict xfail): pytest's outcome for it is "skipped"."""
    return case["outcome"] == "skipped" and (case["message"] or "").startswith(XFAIL_MESSAGE)


def _parity(items: list[dict[str, Any]]) -> list[str]:
    """Export parity (``CASE[parity]`` items): the counts, then the failing items."""
    if not items:
        return []
    count = {outcome: sum(item["outcome"] == outcome for item in items) for outcome in ("failed", "error", "passed")}
    borderline = sum(item["result"]["borderline"] for item in items if item["result"])
    lines = [
        f"Export parity: {count['failed']} failed, {count['error']} errors, {count['passed']} passed of "
        f"{len(items)} items; {borderline} borderline predictions tolerated.",
        "",
    ]
    bad = [item for item in items if item["outcome"] in ("failed", "error")][:WORST_CASES]
    if bad:
        lines += ["| parity | status | summary |", "|---|---|---|"]
        lines += [f"| `{item['node_id']}` | {item['outcome']} | {_escape(item['message'] or '')} |" for item in bad]
        lines.append("")
    return lines


def append_step_summary(record: dict[str, Any], path: Path) -> None:
    """Append the summary to ``path`` (GitHub gives every step the same file to append to)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(step_summary(record))


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
