"""What the review app serves and changes: the case files named on the command line, each case as
JSON for the page, its verdict (judged by the same ``Judge`` pytest uses, with pytest's prediction
cache), and the edits, each written through ``CaseDocument`` only when the file is still the one the
page saw, and undoable.

No HTTP here (``server`` maps requests to these methods), so the whole API is testable without a
socket or a browser.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.casefile.edit import CaseDocument, StaleFileError, refuse_if_changed, text_sha256, write_atomic
from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase, Case, CaseFile
from harness.core.errors import CaseFileError, HarnessError
from harness.core.paths import suite_key
from harness.review_app.edits import EditError, add_object, apply_edit, replace_object
from harness.review_app.task_edits import TASK_EDITS, apply_task_edit, check_fits_task
from harness.review_app.views import case_view

if TYPE_CHECKING:
    from harness.evaluation.matching import CaseVerdict
    from harness.evaluation.suites import Judge


@dataclass(frozen=True)
class _Loaded:
    stat: tuple[int, int, int]  # size, mtime_ns, inode: a change of any means the file was written
    sha256: str
    case_file: CaseFile | None
    error: str | None = None  # the file as a whole does not load


@dataclass(frozen=True)
class _Undo:
    file: int
    case: str
    before: bytes  # the file's bytes before the edit, written back as they were
    sha256_after: str
    what: str


class Workspace:
    """The case files under review (addressed by their position in ``paths``) and their cases."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        root: Path,
        cache_folder: Path | None,
        model: str | None = None,
        device: str | None = None,
        record: Path | None = None,
    ):
        self.root = root.resolve()
        self.paths = [path.resolve() for path in paths]
        for path in self.paths:
            if not path.is_relative_to(self.root):
                raise HarnessError(f"{path}: outside the folder the app serves ({self.root})")
        self.model_override = model
        self.device = device
        self.cache_folder = cache_folder
        self._judge: Judge | None = None
        self.failing = failing_in_record(record) if record else None
        self._loaded: dict[int, _Loaded] = {}
        self._undo: list[_Undo] = []
        self._files_lock = threading.RLock()  # loading and writing case files
        self._judge_lock = threading.RLock()  # the judge and its models: one prediction at a time

    @property
    def judge(self) -> Judge:
        """The judge, made on first use: scipy and the models' stack are not needed to show a case."""
        if self._judge is None:
            from harness.evaluation.models import ModelPool  # not before the first case is shown
            from harness.evaluation.prediction_cache import PredictionCache
            from harness.evaluation.suites import Judge

            cache = PredictionCache(self.cache_folder) if self.cache_folder else None
            self._judge = Judge(self.device, models=ModelPool(self.device, cache=cache))
        return self._judge

    # Reading

    def listing(self) -> dict[str, Any]:
        """Every file and case, for the page's list and filters."""
        files, cases = [], []
        for index in range(len(self.paths)):
            loaded = self._load(index)
            case_file = loaded.case_file
            files.append(
                {
                    "id": index,
                    "path": suite_key(self.root, self.paths[index]),
                    "sha256": loaded.sha256,
                    "task": case_file.task if case_file else None,
                    "error": loaded.error,
                }
            )
            for case in case_file.cases if case_file else ():
                cases.append(self._summary(index, case))
        return {"files": files, "cases": cases, "failing_from": "record" if self.failing is not None else None}

    def _summary(self, index: int, case: Case | BrokenCase) -> dict[str, Any]:
        entry: dict[str, Any] = {"file": index, "name": case.name}
        if isinstance(case, BrokenCase):
            return {**entry, "broken": str(case.error), "tags": [], "classes": [], "awaiting": False}
        failing = None
        if self.failing is not None:
            failing = (str(self.paths[index]), case.name) in self.failing
        return {
            **entry,
            "tags": list(case.tags),
            "classes": sorted({obj.class_name for obj in case.objects}),
            "awaiting": case.awaiting_review,
            "recorded": case.recorded is not None,
            "failing": failing,
        }

    def case(self, index: int, name: str) -> dict[str, Any]:
        """One case for the page: image, size, expected objects (raster masks traced), thresholds."""
        loaded, case = self._case(index, name)
        if isinstance(case, BrokenCase):
            return {"file": index, "name": name, "sha256": loaded.sha256, "broken": str(case.error)}
        return {"file": index, "sha256": loaded.sha256, **case_view(case)}

    def image(self, index: int, name: str) -> Path:
        """The case's image file, refused (CaseFileError) where it lies outside the root."""
        _, case = self._case(index, name)
        image = case.image
        if image is None:
            raise CaseFileError(self.paths[index], "names no usable image", case=name, field="image")
        if not image.resolve().is_relative_to(self.root):
            raise CaseFileError(
                self.paths[index],
                f"{image} is outside the folder the app serves ({self.root}): not shown",
                case=name,
                field="image",
            )
        return image

    def verdict(self, index: int, name: str) -> dict[str, Any]:
        """The case judged now, as pytest would judge it; ``{"error": ...}`` where it cannot be."""
        from harness.review_app.views import verdict_view  # the models' stack: not before the first case is shown

        try:
            verdict, model = self._verdict(index, name)
        except HarnessError as exc:
            return {"error": str(exc)}
        return verdict_view(verdict, model)

    def judge_all(self) -> dict[str, str]:
        """Every case judged ("passed", "failed" or "error"), keyed ``FILE/NAME``, for the failing filter."""
        out = {}
        for index in range(len(self.paths)):
            case_file = self._load(index).case_file
            cases = case_file.cases if case_file else ()
            spec = self._model_spec(index) if case_file else None
            if spec is not None:
                with self._judge_lock:
                    self.judge.prefetch(cases, spec)
            for case in cases:
                try:
                    passed = self._verdict(index, case.name)[0].passed
                    out[f"{index}/{case.name}"] = "passed" if passed else "failed"
                except HarnessError:
                    out[f"{index}/{case.name}"] = "error"
        return out

    # Writing

    def edit(self, index: int, name: str, sha256: str, op: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one edit to the case, if the file is still the one the page saw (``sha256``)."""
        kind = op.get("op") if isinstance(op, Mapping) else None
        if kind == "reviewed":
            return self._write(index, name, sha256, lambda: self._reviewed(index, [name], sha256))
        if kind == "accept":
            return self._accept(index, name, sha256, op)
        if kind in TASK_EDITS:
            _, case = self._case(index, name)
            count = case.keypoints.count if isinstance(case, Case) and case.keypoints else None
            check_fits_task(op, self._load(index).case_file.task, count)
            return self._write(index, name, sha256, lambda: self._apply(index, name, [op], describe=apply_task_edit))
        return self._write(index, name, sha256, lambda: self._apply(index, name, [op]))

    def _apply(self, index: int, name: str, ops: Sequence[Mapping[str, Any]], describe=apply_edit) -> str:
        document = CaseDocument.load(self.paths[index])
        entry = document.case(name)
        what = ", ".join(describe(entry, op) for op in ops)
        document.save(changed=[name], unchanged_since_read=True)
        return what

    def _reviewed(self, index: int, names: Sequence[str], sha256: str) -> str:
        from harness.golden.review import mark_reviewed  # draws pictures too (scipy): not before the first case

        marked = mark_reviewed(self.paths[index], names, sha256=sha256)
        if not marked:
            raise EditError(f"{', '.join(names)}: not waiting for review")
        return f"marked reviewed: {', '.join(marked)}"

    def _accept(self, index: int, name: str, sha256: str, op: Mapping[str, Any]) -> dict[str, Any]:
        """A prediction (``prediction``: its index) or all of them (``all``) as expected objects: one
        matched to an object replaces that object's class, box and mask, an unmatched one is added."""
        if self._load(index).sha256 != sha256:
            refuse_if_changed(self.paths[index], sha256)
        from harness.golden.record import predicted_objects  # the models' stack: not before the first case

        verdict, _ = self._verdict(index, name)
        count = len(verdict.predictions)
        chosen = list(range(count)) if op.get("all") is True else [op.get("prediction")]
        for j in chosen:
            if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < count:
                raise EditError(f"prediction {j!r}: no such prediction (the model found {count})")
        matched = {result.prediction: i for i, result in enumerate(verdict.objects) if result.prediction is not None}
        objects = predicted_objects(verdict.predictions, chosen)

        def accept(entry, job) -> str:
            j, obj = job
            return replace_object(entry, matched[j], obj) if j in matched else add_object(entry, obj)

        jobs = [job for job in zip(chosen, objects, strict=True) if job[0] in matched]
        jobs += [job for job in zip(chosen, objects, strict=True) if job[0] not in matched]  # appended last
        return self._write(index, name, sha256, lambda: self._apply(index, name, jobs, describe=accept))

    def _write(self, index: int, name: str, sha256: str, change) -> dict[str, Any]:
        with self._files_lock:
            path = self.paths[index]
            before = path.read_bytes()
            if text_sha256(before) != sha256:
                refuse_if_changed(path, sha256)  # raises StaleFileError, naming the file
            what = change()
            after = text_sha256(path.read_bytes())
            self._undo.append(_Undo(index, name, before, after, what))
            self._forget(index)
        return {"what": what, "sha256": after, "case": self.case(index, name), "undo": len(self._undo)}

    def undo(self) -> dict[str, Any]:
        """Write back the file as it was before the last edit, if nobody has changed it since."""
        with self._files_lock:
            if not self._undo:
                raise EditError("nothing to undo")
            last = self._undo[-1]
            path = self.paths[last.file]
            write_atomic(path, last.before.decode("utf-8"), check=lambda _, p: refuse_if_changed(p, last.sha256_after))
            self._undo.pop()
            self._forget(last.file)
        return {
            "what": f"undone: {last.what}",
            "file": last.file,
            "sha256": text_sha256(last.before),
            "case": self.case(last.file, last.case),
            "undo": len(self._undo),
        }

    def mark_all_reviewed(self, items: Sequence[Mapping[str, Any]], hashes: Mapping[str, str]) -> dict[str, Any]:
        """``reviewed: true`` on the listed cases waiting for review, one write per file; a file that
        changed since the page saw it (``hashes``, by file id) is left alone and named."""
        by_file: dict[int, list[str]] = {}
        for item in items:
            by_file.setdefault(self._index(item.get("file")), []).append(str(item.get("case")))
        marked, stale = [], []
        for index, names in by_file.items():
            waiting = [name for name in names if self._awaiting(index, name)]
            if not waiting:
                continue
            sha256 = str(hashes.get(str(index)))
            try:
                self._write(index, waiting[0], sha256, functools.partial(self._reviewed, index, waiting, sha256))
            except StaleFileError as exc:
                stale.append(str(exc))
                continue
            marked += [{"file": index, "case": name} for name in waiting]
        return {"marked": marked, "stale": stale, "files": [self._file_hash(index) for index in by_file]}

    # Internals

    def _awaiting(self, index: int, name: str) -> bool:
        _, case = self._case(index, name)
        return isinstance(case, Case) and case.awaiting_review

    def _file_hash(self, index: int) -> dict[str, Any]:
        return {"id": index, "sha256": self._load(index).sha256}

    def _index(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.paths):
            raise EditError(f"file {value!r}: no such case file in this app")
        return value

    def _forget(self, index: int) -> None:
        self._loaded.pop(index, None)
        with self._judge_lock:
            if self._judge is not None:
                self._judge.forget(self.paths[index])

    def _load(self, index: int) -> _Loaded:
        """The case file as it is on disk now: loaded again whenever it was written since."""
        path = self.paths[self._index(index)]
        with self._files_lock:
            stat = path.stat()
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            loaded = self._loaded.get(index)
            if loaded is not None and loaded.stat == key:
                return loaded
            data = path.read_bytes()
            parse_cache = self.cache_folder / "parsed" if self.cache_folder else None
            try:
                case_file, error = load_case_file(path, check_model=False, parse_cache=parse_cache), None
            except CaseFileError as exc:
                case_file, error = None, str(exc)
            if loaded is not None and self._judge is not None:
                with self._judge_lock:
                    self._judge.forget(path)  # changed behind the app's back: old verdicts are void
            self._loaded[index] = _Loaded(key, text_sha256(data), case_file, error)
            return self._loaded[index]

    def _case(self, index: int, name: str) -> tuple[_Loaded, Case | BrokenCase]:
        loaded = self._load(index)
        if loaded.case_file is None:
            raise CaseFileError(self.paths[index], f"the file does not load: {loaded.error}")
        for case in loaded.case_file.cases:
            if case.name == name:
                return loaded, case
        raise CaseFileError(self.paths[index], "no such case in the file (reload the page)", case=name, field="name")

    def _model_spec(self, index: int) -> str:
        case_file = self._load(index).case_file
        spec = self.model_override or (case_file.model if case_file else None)
        if spec is None:
            raise CaseFileError(self.paths[index], "the file names no model: start the app with --model", field="model")
        return spec

    def _verdict(self, index: int, name: str) -> tuple[CaseVerdict, Any]:
        _, case = self._case(index, name)
        if isinstance(case, BrokenCase):
            raise case.error
        spec = self._model_spec(index)
        with self._judge_lock:
            return self.judge.verdict(case, spec), self.judge.model(spec)


def failing_in_record(record: Path) -> set[tuple[str, str]]:
    """(case file, case name) of every case that failed or errored in a ``--harness-json`` record;
    a transformed variant (``name[hflip]``) counts for its case."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        root = Path(data["invocation"]["rootdir"])
        cases = data["cases"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarnessError(f"{record}: not a run record written by --harness-json ({exc})") from None
    failing = set()
    for case in cases:
        if isinstance(case, dict) and case.get("outcome") in ("failed", "error"):
            path = Path(os.path.normpath(root / str(case.get("suite", ""))))
            failing.add((str(path.resolve()), str(case.get("name", "")).split("[", 1)[0]))
    return failing
