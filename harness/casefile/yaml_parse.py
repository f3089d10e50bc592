"""YAML text to plain values: PyYAML's safe loader, bounded (aliases may not expand a document past a
limit), duplicate keys kept as an error of the mapping that holds them, and the parse cache. Text in
the plain subset that case files are written in takes a fast path (``plain_yaml``) with the same
result."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.casefile.plain_yaml import NotPlain, load_plain
from harness.core.sealed import SCHEME, read_sealed, write_sealed

# libyaml's parser when PyYAML was built with it (every wheel is): 10x faster on big case files.
FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# In every parse-cache key: bump it when entries change, so that old ones are never read.
PARSE_FORMAT = f"parsed-3 marshal-{marshal.version} {SCHEME}"


# A key no case file means (YAML needs an escape to write it): it holds the mapping's duplicate keys,
# so that the mapping's own validation reports them against its case, and the file's other cases still run.
DUPLICATE_KEYS = "\x00duplicate keys"
# Set (True) in a document's top mapping when any mapping in it holds DUPLICATE_KEYS: a document
# without it has none, and validation need not look for them in every polygon.
DUPLICATES_INSIDE = "\x00has duplicate keys"
# Values that aliases may add to a document beyond its own nodes: a case file that shares a few object
# lists stays far below; an alias bomb of a few hundred bytes (billions of values) is refused unbuilt.
MAX_ALIAS_EXPANSION = 1_000_000
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.YAMLError):
    """A document refused before it is built: its aliases expand too far, or refer to themselves."""


class _StrictMappings:
    """Duplicate keys, which PyYAML would otherwise silently overwrite, are recorded under
    ``DUPLICATE_KEYS``; merge keys (``<<``) work as in PyYAML's safe loader."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen, duplicates = set(), []
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # merged keys may be overridden by the mapping's own: no duplicates
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)):
                if key in seen:
                    duplicates.append(f"{key!r} (line {key_node.start_mark.line + 1})")
                seen.add(key)
        mapping = super().construct_mapping(node, deep=deep)
        if duplicates:
            mapping[DUPLICATE_KEYS] = "duplicate key " + ", ".join(duplicates)
            self.found_duplicates = True
        return mapping


class _StrictSafeLoader(_StrictMappings, FAST_SAFE_LOADER):
    """PyYAML's safe loader (on libyaml when available), recording duplicate keys."""


class _StrictPythonLoader(_StrictMappings, yaml.SafeLoader):
    """The same in pure Python: slower, but its error messages show the offending character."""


def load_bounded(text: str, loader_class: type | None = None) -> Any:
    """The YAML document of ``text``, composed first and refused (``YamlLimitError``) when its aliases
    would expand it by more than ``MAX_ALIAS_EXPANSION`` values or refer to themselves. Without a
    ``loader_class``, text in the plain subset (no aliases there) is read by ``plain_yaml``, 10-20x
    faster, and everything else by PyYAML's safe loader on libyaml."""
    if loader_class is None:
        try:
            document, found_duplicates = load_plain(text, DUPLICATE_KEYS)
            return _marked(document, found_duplicates)
        except (NotPlain, RecursionError):  # outside the subset, or nested past Python's stack: PyYAML
            loader_class = _StrictSafeLoader
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        distinct, expanded = expanded_size(node)
        if expanded - distinct > MAX_ALIAS_EXPANSION:
            raise YamlLimitError(
                f"aliases expand the document to {expanded:,} values from {distinct:,} (more than "
                f"{MAX_ALIAS_EXPANSION:,} added): write the shared values out, or share fewer"
            )
        document = loader.construct_document(node)
        return _marked(document, getattr(loader, "found_duplicates", False))
    finally:
        loader.dispose()


def _marked(document: Any, found_duplicates: bool) -> Any:
    if found_duplicates and isinstance(document, dict):
        document[DUPLICATES_INSIDE] = True
    return document


def expanded_size(root: yaml.Node) -> tuple[int, int]:
    """(distinct nodes, nodes once every alias is expanded) of a composed document, counted without
    expanding anything (each node's expanded size once, bottom up)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlLimitError(f"line {node.start_mark.line + 1}: an alias refers to its own anchor (recursive)")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YamlLimitError(f"line {child.start_mark.line + 1}: an alias refers to its own anchor (recursive)")
            if id(child) not in sizes:
                stack.append((child, False))
    return len(sizes), sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(text: str, cache: Path | None) -> Any:
    """The YAML document, from the parse cache when it holds this text."""
    if cache is None:
        return load_bounded(text)
    key = parse_cache_key(text)
    entry = cache / f"{key}.marshal"
    found = read_parsed(entry, key)
    if found is not None:
        return found[0]
    document = load_bounded(text)
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
        load_bounded(text, _StrictPythonLoader)
    except yaml.YAMLError as python_error:
        return python_error
    except RecursionError:
        pass
    return error


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem
