"""YAML text to plain values: PyYAML's safe loader, strict about duplicate keys, and the parse cache."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.core.sealed import SCHEME, read_sealed, write_sealed

# libyaml's parser when PyYAML was built with it (every wheel is): 10x faster on big case files.
FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# In every parse-cache key: bump it when entries change, so that old ones are never read.
PARSE_FORMAT = f"parsed-2 marshal-{marshal.version} {SCHEME}"


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
    key = parse_cache_key(text)
    entry = cache / f"{key}.marshal"
    found = read_parsed(entry, key)
    if found is not None:
        return found[0]
    document = yaml.load(text, Loader=_StrictSafeLoader)
    with contextlib.suppress(ValueError):  # marshal cannot hold dates: such a file is parsed every time
        write_sealed(entry, marshal.dumps(document), key)
    return document


def parse_cache_key(text: str) -> str:
    """The parse-cache name of ``text``: what parses it, how entries are stored and sealed, and the text."""
    return hashlib.sha256(f"{PARSE_FORMAT} {yaml.__version__} {sys.version_info[:2]} {text}".encode()).hexdigest()


def read_parsed(entry: Path, key: str) -> tuple[Any] | None:
    """``(document,)`` from a parse-cache entry whose digest holds, or None (a miss).

    marshal is 30x faster to read than YAML is to parse and holds exactly the safe loader's plain
    types, but it trusts its input: a damaged length field makes it allocate gigabytes. So the
    entry's sha256 is checked first, and only bytes this module wrote ever reach ``marshal.loads``.
    """
    payload = read_sealed(entry, key)
    if payload is None:
        return None
    try:
        return (marshal.loads(payload),)
    except (ValueError, EOFError, TypeError):  # unreachable for what parse_yaml wrote; a miss all the same
        return None


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
