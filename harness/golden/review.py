"""``vision-harness review``: pictures of the cases that wait for a person's check, and the flag
that says the check was done (``recorded: {reviewed: true}``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.casefile.edit import CaseDocument, refuse_if_changed
from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case
from harness.core.errors import CaseFileError, display_path
from harness.reports.overlay import case_overlay, save_png


def skip_reason(case: Case) -> str:
    """Why a recorded case is skipped, and what to do about it."""
    where = display_path(case.file)
    return (
        f"recorded from {case.recorded.model}'s predictions, not reviewed: check it with "
        f"`vision-harness review {where}`, then `vision-harness review {where} --mark-reviewed`"
    )


def _chosen(path: Path, names: Sequence[str] | None, *, everything: bool) -> list[Case]:
    """The cases of ``path`` to act on: those named, else those waiting for review (or all)."""
    cases = load_case_file(path, check_model=False).cases
    if names:
        known = {case.name: case for case in cases}
        for name in names:
            if name not in known:
                raise CaseFileError(path, f"no such case; the file has {', '.join(known)}", case=name, field="name")
            if isinstance(known[name], BrokenCase):
                raise known[name].error
        return [known[name] for name in names]
    broken = [case for case in cases if isinstance(case, BrokenCase)]
    if broken:
        raise broken[0].error  # a case that does not load cannot be drawn or vouched for
    return [case for case in cases if everything or case.awaiting_review]


def write_overlays(
    path: Path, out: Path, names: Sequence[str] | None = None, *, everything: bool = False
) -> list[tuple[str, Path]]:
    """Draw the expected objects of each case waiting for review (or the named ones, or all) on its
    image; one PNG per case under ``out/<case file stem>/``. Returns (case name, picture) pairs."""

    written = []
    for case in _chosen(path, names, everything=everything):
        picture = case_overlay(case)
        written.append((case.name, save_png(picture, out / path.stem / f"{case.name}.png")))
    return written


def mark_reviewed(path: Path, names: Sequence[str] | None = None, *, sha256: str | None = None) -> list[str]:
    """Set ``reviewed: true`` on the cases waiting for review (or the named recorded ones); the rest of
    the file, comments included, is left as it was. Returns the names marked.

    ``sha256``: the file's bytes as the caller last saw them; a file changed since is not written
    (StaleFileError)."""

    cases = _chosen(path, names, everything=False)
    for case in cases:
        if case.recorded is None:
            raise CaseFileError(
                path, "not a recorded case: there is nothing to review", case=case.name, field="recorded"
            )
    marked = [case.name for case in cases if case.awaiting_review]
    if marked:
        if sha256 is not None:
            refuse_if_changed(path, sha256)
        document = CaseDocument.load(path)  # a change after this read is caught when saving
        for name in marked:
            document.case(name)["recorded"]["reviewed"] = True
        document.save(changed=marked, unchanged_since_read=sha256 is not None)
    return marked
