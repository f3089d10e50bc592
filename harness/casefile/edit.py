"""Writing and editing case files without losing a person's work.

Edits go through ruamel.yaml's round-trip mode, so comments, key order, flow style and the way
numbers were written survive; only the values a command changes are new. Every write is atomic:
the new text goes to a temporary file beside the case file, which then replaces it (``os.replace``),
so a crash or a kill leaves the file either as it was or fully new, never half written.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.util import load_yaml_guess_indent

from harness.casefile.load import load_case_file
from harness.casefile.schema import BrokenCase
from harness.core.errors import CaseFileError

# Test hook: seconds to pause with the temporary file half written, so a test can kill a real
# update mid-write (tests/plugin/test_update_interrupted.py). Unset in normal use.
WRITE_PAUSE_ENV = "VISION_HARNESS_WRITE_PAUSE"
TEMP_PREFIX = ".vh-tmp-"  # hidden, and not a .yaml name: pytest never collects a leftover one
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")
_BOM = "\ufeff"


class StaleFileError(CaseFileError):
    """The case file changed on disk after it was read for editing: writing would lose that change."""


def text_sha256(data: bytes) -> str:
    """The sha256 a case file's bytes are known by while it is edited (hexadecimal)."""
    return hashlib.sha256(data).hexdigest()


class CaseDocument:
    """A case file read for editing: the YAML tree, the indentation to write it back with, and the
    sha256 of the bytes it was read from (None for a new file)."""

    def __init__(
        self,
        path: Path,
        data: CommentedMap | None = None,
        indent: tuple[int, int, int] = (2, 4, 2),
        *,
        newline: str = "\n",
        bom: bool = False,
        sha256: str | None = None,
    ):
        self.path = path
        self.data = data if data is not None else CommentedMap()
        self._indent = indent
        self._newline = newline  # the file's own line ending, written back (a Windows checkout keeps CRLF)
        self._bom = bom  # a UTF-8 byte-order mark the file starts with, written back too
        self.sha256 = sha256  # of the bytes it was read from (None for a new file)

    @classmethod
    def load(cls, path: Path) -> CaseDocument:
        """Read ``path`` for editing (its cases must already have passed ``load_case_file``)."""

        try:
            data_bytes = path.read_bytes()
            raw = data_bytes.decode("utf-8")
            bom = raw.startswith(_BOM)
            text = raw.removeprefix(_BOM)
            first_end = text.find("\n")
            newline = "\r\n" if first_end > 0 and text[first_end - 1] == "\r" else "\n"
            data, indent, sequence_dash = load_yaml_guess_indent(text.replace("\r\n", "\n"), yaml=_yaml())
        except (OSError, UnicodeDecodeError, YAMLError) as exc:
            raise CaseFileError(path, f"cannot read the file for editing: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, CommentedMap) or not isinstance(data.get("cases"), list):
            raise CaseFileError(path, "not a case file: expected a mapping with a `cases:` list", field="cases")
        # ruamel reports the dash offset; its sequence indent is the dash offset plus the room for "- ".
        sequence_dash = sequence_dash or 0
        indent = _top_mapping_indent(text) or indent or 2
        indents = (indent, max(indent, sequence_dash + 2), sequence_dash)
        return cls(path, data, indents, newline=newline, bom=bom, sha256=text_sha256(data_bytes))

    @property
    def cases(self) -> CommentedSeq:
        if "cases" not in self.data:
            self.data["cases"] = CommentedSeq()
        return self.data["cases"]

    def case(self, name: str) -> CommentedMap:
        """The case entry called ``name``, to edit: whatever it shares with other cases through YAML
        aliases (``objects: *shared``, ``<<: *base``) is first made its own copy.

        Copied rather than refused: the edit is meant for this case alone, and after the copy the
        other cases keep exactly what they had, so an update of one case can neither rewrite another
        (turning its failure into a silent pass) nor be blocked by it."""
        for entry in self.cases:
            if isinstance(entry, Mapping) and entry.get("name") == name:
                _unshare(entry, self.data)
                return entry
        raise CaseFileError(self.path, "no such case in the file", case=name, field="name")

    def text(self) -> str:
        yaml = _yaml()
        mapping, sequence, offset = self._indent
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        out = io.StringIO()
        yaml.dump(self.data, out)
        return (_BOM if self._bom else "") + out.getvalue().replace("\n", self._newline)

    def save(
        self, *, changed: Iterable[str] | None = None, root: Path | None = None, unchanged_since_read: bool = False
    ) -> None:
        """Write the document back atomically, only if the file and the ``changed`` cases (default:
        all) still load; cases that were broken before and left alone stay as they were. ``root``: as
        for ``load_case_file``, no image or mask outside it is opened by that check.

        ``unchanged_since_read``: refuse (StaleFileError) when the file on disk is no longer the one
        this document was read from, checked just before the new file replaces it."""
        names = None if changed is None else set(changed)
        expected = self.sha256 if unchanged_since_read else None

        def check(temporary: Path, path: Path) -> None:
            _check_loads(temporary, path, names, root)
            if expected is not None:
                refuse_if_changed(path, expected)

        text = self.text()
        write_atomic(self.path, text, check=check)
        self.sha256 = text_sha256(text.encode("utf-8"))


_NESTED_KEY = re.compile(r"^[A-Za-z_][\w-]*:[ \t]*(?:#.*)?\n( +)[A-Za-z_\"'][^\n]*:", re.MULTILINE)


def _top_mapping_indent(text: str) -> int | None:
    """The indent of a block mapping under a top-level key (``keypoints:`` then ``  names: ...``), or
    None. ruamel guesses from the first indented line, often a case's keys under ``- name:`` (4), and
    would re-indent a 2-space ``keypoints:`` block on every write."""
    match = _NESTED_KEY.search(text)
    return len(match.group(1)) if match else None


def refuse_if_changed(path: Path, sha256: str) -> None:
    """Raise StaleFileError unless ``path`` still holds the bytes whose sha256 is ``sha256``."""
    try:
        current = text_sha256(path.read_bytes())
    except OSError:
        current = None
    if current != sha256:
        raise StaleFileError(
            path,
            "changed on disk since it was read for editing (another editor, a git checkout, "
            "--harness-update?): nothing was written; reload it and make the change again",
        )


def _unshare(entry: CommentedMap, document: CommentedMap) -> None:
    """Replace each value of ``entry`` that is also reachable elsewhere in ``document`` (an alias, a
    merge key) by a deep copy without anchors, so that editing it changes this case alone."""
    seen: dict[int, int] = {}
    _count(document, seen)
    for key in list(entry):
        value = entry[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and _shared(value, seen):
            private = copy.deepcopy(value)
            _drop_anchors(private)
            entry[key] = private


def _count(node: Any, seen: dict[int, int]) -> None:
    if not isinstance(node, (Mapping, list)):
        return
    seen[id(node)] = seen.get(id(node), 0) + 1
    if seen[id(node)] == 1:  # an aliased node's children were counted at its first sight
        for child in node.values() if isinstance(node, Mapping) else node:
            _count(child, seen)


def _shared(node: Any, seen: dict[int, int]) -> bool:
    if not isinstance(node, (Mapping, list)):
        return False
    children = node.values() if isinstance(node, Mapping) else node
    return seen.get(id(node), 0) > 1 or any(_shared(child, seen) for child in children)


def _drop_anchors(node: Any) -> None:
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None) is not None:
        anchor.value = None
    if isinstance(node, (Mapping, list)):
        for child in node.values() if isinstance(node, Mapping) else node:
            _drop_anchors(child)


def _yaml() -> YAML:
    yaml = YAML()  # round-trip mode: comments, key order and flow style are kept
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # one polygon per line, as people write them, not folded at 80 columns
    return yaml


def _check_loads(temporary: Path, path: Path, names: set[str] | None, root: Path | None = None) -> None:
    """Refuse to write a case file whose new cases would not load."""

    try:
        cases = load_case_file(temporary, check_model=False, root=root).cases
        broken = [c for c in cases if isinstance(c, BrokenCase) and (names is None or c.name in names)]
    except CaseFileError as exc:
        raise CaseFileError(path, f"not written, the new text would not load: {exc.message}", field=exc.field) from None
    if broken:
        error = broken[0].error
        raise CaseFileError(
            path, f"not written, the case would not load: {error.message}", case=error.case, field=error.field
        )


def write_atomic(path: Path, text: str, *, check: Callable[[Path, Path], None] | None = None) -> None:
    """Replace ``path`` with ``text`` so that any reader, or a crash, sees the old file or the new one.

    ``check(temporary, path)`` may refuse the complete new file before it replaces the old one."""
    path = path.resolve()  # a case file that is a symbolic link is written through, not replaced by a file
    data = text.encode("utf-8")
    pause = float(os.environ.get(WRITE_PAUSE_ENV) or 0)
    handle, temporary = tempfile.mkstemp(prefix=TEMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            half = len(data) // 2
            out.write(data[:half])
            if pause:
                out.flush()
                time.sleep(pause)
            out.write(data[half:])
            out.flush()
            os.fsync(out.fileno())  # the bytes are on disk before the name points at them
        if check is not None:
            check(Path(temporary), path)
        os.chmod(temporary, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; set it straight back
    os.umask(mask)
    return mask


def _sync_directory(folder: Path) -> None:
    # The rename itself must reach the disk too; not every platform lets a directory be opened.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def number(value: float) -> int | float:
    """A coordinate as written in case files: 0.01 px precision, whole numbers without ``.0``."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def flow(values: Iterable[Any]) -> CommentedSeq:
    """A sequence written on one line, ``[a, b, c]``."""
    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def flow_map(values: Mapping[str, Any]) -> CommentedMap:
    """A mapping written on one line, ``{a: 1, b: 2}``."""
    out = CommentedMap(values)
    out.fa.set_flow_style()
    return out


def mask_entry(mask: Any) -> Any:
    """A mask in case-file form (polygon list, list of polygons, ``{rle: ...}``, ``{png: ...}``) styled for YAML."""
    if isinstance(mask, Mapping) and "rle" in mask:
        rle = mask["rle"]
        counts = rle["counts"]
        # Quoted: an RLE string holds characters such as ':', '[' and '?' that YAML would misread.
        counts = flow(counts) if isinstance(counts, list) else DoubleQuotedScalarString(counts)
        return flow_map({"rle": flow_map({"size": flow(rle["size"]), "counts": counts})})
    if isinstance(mask, Mapping):
        return flow_map(mask)
    if mask and isinstance(mask[0][0], (list, tuple)):
        return flow(flow(flow(number(v) for v in point) for point in polygon) for polygon in mask)
    return flow(flow(number(v) for v in point) for point in mask)


def keypoints_entry(keypoints: Iterable[Sequence[float]]) -> CommentedSeq:
    """Keypoints ``[[x, y, v], ...]`` written on one line, each ``v`` a whole number."""
    return flow(flow([number(x), number(y), int(v)]) for x, y, v in keypoints)


def object_entry(obj: Mapping[str, Any]) -> CommentedMap:
    """An expected object in case-file form (``class``, ``box``, optional ``mask``, ``crowd``, thresholds)."""
    entry = CommentedMap()
    for key, value in obj.items():
        if key == "box":
            value = flow(number(v) for v in value)
        elif key == "mask":
            value = mask_entry(value)
        elif key == "keypoints":
            value = keypoints_entry(value)
        elif key == "obb" and isinstance(value, list):  # corners, one [x, y] each
            value = flow(flow(number(v) for v in point) for point in value)
        entry[key] = value
    return entry


def case_entry(
    name: str,
    image: str,
    objects: Sequence[Mapping[str, Any]],
    *,
    tags: Sequence[str] = (),
    thresholds: Mapping[str, Any] | None = None,
    recorded: Mapping[str, Any] | None = None,
    label: str | None = None,
) -> CommentedMap:
    """A case in case-file form, keys in the order people write them; a classify case's ``label``
    takes the place of its objects."""
    entry = CommentedMap(name=name, image=image)
    if tags:
        entry["tags"] = flow(tags)
    if thresholds:
        entry["thresholds"] = flow_map(thresholds)
    if recorded is not None:
        entry["recorded"] = flow_map(recorded)
    if label is not None:
        entry["label"] = label
    else:
        entry["objects"] = CommentedSeq(object_entry(obj) for obj in objects)
    return entry


def new_document(
    path: Path, *, model: str, task: str, predict: Mapping[str, Any], header: str, keypoints: Mapping | None = None
) -> CaseDocument:
    """An empty case file: a comment, the model (relative to ``path``), task and predict arguments, and
    for pose the ``keypoints:`` block (``names``, ``flip_idx``) when the annotations give one."""
    data = CommentedMap(version=1, model=model, task=task)
    if predict:
        data["predict"] = flow_map(predict)
    if isinstance(keypoints, CommentedMap):
        data["keypoints"] = keypoints  # built with its comments (vision-harness new: golden/model_keypoints.py)
    elif keypoints:
        data["keypoints"] = CommentedMap(
            (key, flow(flow(v) if isinstance(v, list) else v for v in value)) for key, value in keypoints.items()
        )
    data["cases"] = CommentedSeq()
    data.yaml_set_start_comment(header)
    return CaseDocument(path, data)


def case_name(stem: str, taken: set[str]) -> str:
    """A valid, unused case name made from an image's file name (``IMG 01.jpg`` -> ``IMG-01``)."""
    base = _NAME_CHARS.sub("-", stem).strip("-_.") or "image"
    if not base[0].isalnum():
        base = "image-" + base
    if base == "suite":
        base = "suite-image"  # reserved for the file's metric gates
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}-{counter}", counter + 1
    taken.add(name)
    return name


def relative(path: Path, start: Path) -> str:
    """``path`` relative to the folder ``start``, with forward slashes, as case files write paths."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
