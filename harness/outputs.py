"""What a run leaves behind for people and tools: overlay pictures, the HTML report, the JSON record
and the CI step summary.

The hooks live on ``ReportHooks``, a plugin object that ``plugin.py`` registers when the session is
configured, so the run's own hooks stay as they were. Overlays are drawn while a case runs (its
failure message names the file); the reports are written when the session finishes.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pytest

XFAIL_MESSAGE = "expected failure (xfail): "  # an expected failure's message in the records (pytest: skipped)

if TYPE_CHECKING:
    from .cases import Case
    from .matching import CaseVerdict
    from .picture_cache import PictureCache

OVERLAY_MODES = ("failed", "all", "none")
DEFAULT_OVERLAYS_DIR = "harness-overlays"
# A folder holding this file was made by the harness: its old pictures may be removed at the next run.
MARKER = ".vision-harness-overlays"
THUMBNAIL_SIDE = 240  # pixels, the long side of the report's table pictures
WORKER_OUTPUT_KEY = "vision_harness_outputs"  # in pytest-xdist's workeroutput


@dataclass(frozen=True)
class OutputSettings:
    """Where the run's pictures and reports go, from the command line (validated)."""

    overlays: str  # failed | all | none
    overlays_dir: Path
    report: Path | None
    json: Path | None
    step_summary: Path | None  # GitHub's GITHUB_STEP_SUMMARY file, when set

    @classmethod
    def from_config(cls, config: pytest.Config) -> OutputSettings:
        overlays_dir = config.getoption("harness_overlays_dir")
        overlays_dir = Path(overlays_dir) if overlays_dir else config.rootpath / DEFAULT_OVERLAYS_DIR
        if overlays_dir.exists() and not overlays_dir.is_dir():
            raise pytest.UsageError(f"--harness-overlays-dir {overlays_dir}: exists and is not a folder")
        paths = {}
        for option in ("harness_report", "harness_json"):
            value = config.getoption(option)
            if value and Path(value).is_dir():
                raise pytest.UsageError(f"--{option.replace('_', '-')} {value}: is a folder; give a file name")
            paths[option] = Path(value) if value else None
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        return cls(
            overlays=config.getoption("harness_overlays"),
            overlays_dir=overlays_dir,
            report=paths["harness_report"],
            json=paths["harness_json"],
            step_summary=Path(summary) if summary else None,
        )


@dataclass
class CasePictures:
    """A judged case's pictures: the PNG written to disk, and the report's WebP images."""

    overlay: Path | None = None
    thumbnail: bytes | None = None
    picture: bytes | None = None  # the labelled overlay, for the report's detail view


@dataclass(frozen=True)
class ItemInfo:
    """A harness item of this session: which case file, which case (None for a suite check)."""

    suite: str
    name: str
    kind: str  # case | suite | parity
    case: Case | None = None
    model_spec: str | None = None


@dataclass
class Outcome:
    """pytest's outcome of one item: passed, failed or error, and the first line of its report."""

    outcome: str
    message: str = ""


@dataclass
class RunOutputs:
    """Pictures and outcomes gathered during the session, for the reports written at its end."""

    settings: OutputSettings
    pictures: dict[str, CasePictures] = field(default_factory=dict)  # by node id
    items: dict[str, ItemInfo] = field(default_factory=dict)  # by node id, in collection order
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # by node id
    written: list[str] = field(default_factory=list)  # a line per report written, or why it was not
    _folder_ready: bool = False

    def case_judged(
        self, nodeid: str, suite: str, verdict: CaseVerdict, *, failing: bool, cache: PictureCache | None = None
    ) -> str | None:
        """Draw what this case needs (its overlay PNG, the report's pictures), or copy them from
        ``cache`` when an earlier run drew the same verdict.

        Returns the line a failure message carries about the overlay, None when none was drawn."""
        mode = self.settings.overlays
        write_png = mode == "all" or (mode == "failed" and failing)
        with_report = self.settings.report is not None
        if not write_png and not with_report:
            return None
        from .errors import HarnessError, display_path
        from .picture_cache import picture_key

        # The report's detail view shows the labelled overlay only where the overlay is drawn anyway.
        kinds = (
            ("png",) * write_png + ("thumbnail.webp",) * with_report + ("picture.webp",) * (with_report and write_png)
        )
        key = picture_key(verdict, thumbnail_side=THUMBNAIL_SIDE) if cache is not None else None
        drawn = cache.get(key, kinds) if key is not None else None
        if drawn is None:
            try:
                drawn = draw_pictures(verdict, kinds)
            except (HarnessError, OSError, ValueError) as exc:  # e.g. the image changed on disk since it was predicted
                return f"overlay not drawn: {exc}"
            if key is not None:
                cache.put(key, drawn)
        pictures = self.pictures.setdefault(nodeid, CasePictures())
        pictures.thumbnail = drawn.get("thumbnail.webp")
        pictures.picture = drawn.get("picture.webp")
        if "png" not in drawn:
            return None
        try:
            self._prepare_folder()
            path = overlay_path(self.settings.overlays_dir, suite, verdict)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(drawn["png"])
            pictures.overlay = path
        except OSError as exc:  # a full disk or a read-only folder must not hide the verdict
            return f"overlay not written: {exc}"
        return f"overlay: {display_path(pictures.overlay)}"

    def remove_old_overlays(self) -> None:
        """Empty a folder of overlays the harness made before, so none from an earlier run remains."""
        folder = self.settings.overlays_dir
        if (folder / MARKER).is_file():
            for old in folder.rglob("*.png"):
                old.unlink(missing_ok=True)

    def _prepare_folder(self) -> None:
        """Create the folder when the first picture is written (not before). Only a folder the harness
        made, or found empty, is marked as its own, so no earlier file of the user's is ever removed."""
        folder = self.settings.overlays_dir
        if self._folder_ready or (folder / MARKER).is_file():
            self._folder_ready = True
            return
        foreign = folder.is_dir() and any(folder.iterdir())
        folder.mkdir(parents=True, exist_ok=True)
        if not foreign:
            (folder / MARKER).write_text("pictures written by vision-harness; removed at the start of its next run\n")
        self._folder_ready = True


def overlay_path(folder: Path, suite: str, verdict: CaseVerdict) -> Path:
    """``folder/<case file, relative to the rootdir>/<case name>.png``, always inside ``folder``."""
    parts = [part.replace(":", "_") for part in PurePosixPath(suite).parts if part not in ("/", "..", ".")]
    return folder.joinpath(*parts, f"{verdict.case.name}.png")


def draw_pictures(verdict: CaseVerdict, kinds: tuple[str, ...]) -> dict[str, bytes]:
    """The case's pictures of ``kinds`` (see harness/picture_cache.py), drawn from one decode of its image."""
    from .overlay import case_overlay, png
    from .variants import case_pixels

    rgb = case_pixels(verdict.case)
    out = {}
    picture = case_overlay(verdict.case, verdict, image=rgb) if "png" in kinds or "picture.webp" in kinds else None
    if "png" in kinds:
        out["png"] = png(picture)
    if "thumbnail.webp" in kinds:
        thumbnail = case_overlay(verdict.case, verdict, labels=False, long_side=THUMBNAIL_SIDE, image=rgb)
        out["thumbnail.webp"] = webp(thumbnail, quality=60)
    if "picture.webp" in kinds:
        out["picture.webp"] = webp(picture, quality=75)
    return out


def webp(picture, *, quality: int) -> bytes:
    """``picture`` (a Pillow image) as WebP bytes: a third of JPEG's size at the same look (measured)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="WEBP", quality=quality, method=2)  # 3x faster than 4, 2% larger (measured)
    return buffer.getvalue()


OUTPUTS_KEY = pytest.StashKey[RunOutputs]()


def run_outputs(config: pytest.Config) -> RunOutputs | None:
    """This session's outputs, or None where the plugin did not configure them (e.g. no harness)."""
    return config.stash.get(OUTPUTS_KEY, None)


def is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class ReportHooks:
    """pytest hooks that collect outcomes and write the reports; registered by ``plugin.py``."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @property
    def outputs(self) -> RunOutputs:
        return self.config.stash[OUTPUTS_KEY]

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        from .collect import BaselineItem, BrokenItem, CaseItem, GateItem, suite_key
        from .parity_item import ParityItem
        from .search_item import SearchItem

        if isinstance(item, (CaseItem, SearchItem)):
            info = ItemInfo(suite_key(item.config, item.path), item.name, "case", item.case, item.model_spec)
        elif isinstance(item, ParityItem):
            info = ItemInfo(suite_key(item.config, item.path), item.name, "parity", item.case, item.model_spec)
        elif isinstance(item, BrokenItem):
            info = ItemInfo(suite_key(item.config, item.path), item.name, "case")
        elif isinstance(item, (GateItem, BaselineItem)):
            info = ItemInfo(suite_key(item.config, item.path), item.name, "suite")
        else:
            return
        self.outputs.items[item.nodeid] = info

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Every item's outcome is kept: under pytest-xdist the controller learns which items are the
        # harness' only when the workers finish (pytest_testnodedown), after their reports arrived.
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            self.outputs.outcomes[report.nodeid] = Outcome(outcome, _first_line(report.longreprtext))
        elif report.when == "call" and report.passed:
            self.outputs.outcomes.setdefault(report.nodeid, Outcome("passed"))
        elif report.skipped:
            reason = getattr(report, "wasxfail", None)  # pytest reports an expected failure as skipped
            message = f"{XFAIL_MESSAGE}{reason}" if reason else _first_line(report.longreprtext)
            self.outputs.outcomes[report.nodeid] = Outcome("skipped", message)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from .session import RUN_KEY

        run = session.config.stash.get(RUN_KEY, None)
        settings = self.outputs.settings
        summary = settings.step_summary if self.outputs.items else None  # CI runs other pytest sessions too
        if is_xdist_worker(session.config):
            # What the controller needs for the reports; xdist carries only plain values, so pickled.
            state = {"items": self.outputs.items, "pictures": self.outputs.pictures}
            session.config.workeroutput[WORKER_OUTPUT_KEY] = pickle.dumps(state)
            return
        if run is None:
            return
        if settings.json is None and settings.report is None and summary is None:
            return
        from .run_record import run_record, write_json

        record = run_record(run, self.outputs, session.config, exit_status=int(exitstatus))
        for label, path, write in (
            ("JSON record", settings.json, write_json),
            ("HTML report", settings.report, self._write_report),
            ("step summary", summary, self._append_summary),
        ):
            if path is None:
                continue
            try:
                write(record, path)
            except OSError as exc:  # an unwritable path is reported, and must not hide the run's outcome
                self.outputs.written.append(f"{label} not written: {exc}")
            else:
                if label == "step summary":
                    self.outputs.written.append(f"{label} appended to {path}")
                else:
                    self.outputs.written.append(f"{label}: {_shown(path)} ({path.stat().st_size / 1e6:.1f} MB)")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist, on the controller: fold in a finished worker's items and pictures."""
        payload = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
        if payload is None:
            return
        state = pickle.loads(payload)  # written by this session's own workers, so trusted
        for nodeid, info in state["items"].items():  # every worker collected them all, in the same order
            self.outputs.items.setdefault(nodeid, info)
        self.outputs.pictures.update(state["pictures"])

    def _write_report(self, record: dict, path: Path) -> None:
        from .html_report import write_html_report

        write_html_report(record, self.outputs.pictures, path)

    @staticmethod
    def _append_summary(record: dict, path: Path) -> None:
        from .ci_summary import append_step_summary

        append_step_summary(record, path)

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        settings = self.outputs.settings
        written = [p for p in self.outputs.pictures.values() if p.overlay is not None]
        lines = []
        if written:
            pictures = "1 picture" if len(written) == 1 else f"{len(written)} pictures"
            lines.append(f"overlays: {pictures} in {_shown(settings.overlays_dir)}")
        lines += self.outputs.written
        if lines:
            terminalreporter.section("vision-harness outputs")
            for line in lines:
                terminalreporter.write_line(line)


def _shown(path: Path) -> str:
    from .errors import display_path

    return display_path(path)


def _first_line(text: str) -> str:
    """The first line of a report that says something (not xdist's "[gw0] linux -- Python ..." header)."""
    for line in text.splitlines():
        line = line.strip()
        if line and not re.match(r"\[gw\d+\] ", line):
            return line.removeprefix("Failed: ")
    return ""
