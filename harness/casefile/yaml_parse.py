"""YAML text to plain values: PyYAML's safe loader, strict about duplicate keys, and the parse cache."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.core.atomic import write_bytes_atomically

# libyaml's parser when PyYAML was built with it (every wheel is): 10x faster on big case files.
FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RejectDuplicateKeys:
    """Refuses duplicate keys, which PyYAML would otherwise silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key) if isinstance(key, (str, int, float, bool)) else None
        return super().construct_mapping(node, deep=deep)


class _StrictSafeLoader(_RejectDuplicateKeys, FAST_SAFE_LOADER):
    """PyYAML's safe loader (on libyaml when available), refusing duplicate keys."""


class _StrictPythonLoader(_RejectDuplicateKeys, yaml.SafeLoader):
    """The same in pure Python: slower, but its error messages show the offending character."""


def parse_yaml(text: str, cache: Path | None) -> Any:
    """The YAML document, from the parse cache when it holds this text."""
    if cache is None:
        return yaml.load(text, Loader=_StrictSafeLoader)
    # marshal: 30x faster to read than YAML to parse, and it holds exactly the safe loader's plain types.
    key = hashlib.sha256(f"{yaml.__version__} {sys.version_info[:2]} {text}".encode()).hexdigest()
    entry = cache / f"{key}.marshal"
    try:
        return marshal.loads(entry.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    document = yaml.load(text, Loader=_StrictSafeLoader)
    with contextlib.suppress(ValueError, OSError):  # marshal cannot hold dates; a full disk costs speed
        write_bytes_atomically(entry, marshal.dumps(document))
    return document


def python_parser_error(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's error for the same text: libyaml's leave out the offending character."""
    try:
        yaml.load(text, Loader=_StrictPythonLoader)
    except yaml.YAMLError as python_error:
        return python_error
    except RecursionError:
        pass
    return error


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem
