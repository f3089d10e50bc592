"""What a run leaves behind for people and tools, gathered while it runs: each case's pictures
(overlay PNG, the report's thumbnails), each item's outcome, and where the reports go.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from harness.core.errors import HarnessError, display_path

if TYPE_CHECKING:
    from harness.casefile.schema import Case
    from harness.evaluation.matching import CaseVerdict
    from harness.reports.picture_cache import PictureCache


XFAIL_MESSAGE = "expected failure (xfail): "  # an expected failure's message in the records (pytest: skipped)


OVERLAY_MODES = ("failed", "all", "none")


DEFAULT_OVERLAYS_DIR = "harness-overlays"


# A folder holding this file was made by the harness: its old pictures may be removed at the next run.
MARKER = ".vision-harness-overlays"


THUMBNAIL_SIDE = 240  # pixels, the long side of the report's table pictures


@dataclass(frozen=True)
class OutputSettings:
    """Where the run's pictures and reports go, from the command line (validated)."""

    overlays: str  # failed | all | none
    overlays_dir: Path
    report: Path | None
    json: Path | None
    step_summary: Path | None  # GitHub's GITHUB_STEP_SUMMARY file, when set


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
        from harness.reports.picture_cache import picture_key  # the plugin imports this module at start-up

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
    """The case's pictures of ``kinds`` (see harness/reports/picture_cache.py), drawn from one decode of its image."""
    # Pillow, numpy and the case stack only when a picture is drawn: the plugin imports this module at start-up.
    from harness.reports.overlay import case_overlay, png
    from harness.robustness.variants import case_pixels

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
