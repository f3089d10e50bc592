"""A fast reader for the plain subset of YAML that case files are written in: block mappings and
sequences, one-line scalars, one-line flow lists and flow mappings, comments. Where it answers, it
answers exactly what PyYAML's safe loader (with this package's duplicate-key rule) would; every
scalar is typed by PyYAML's own resolver and constructors. Anything outside the subset (anchors,
tags, block scalars, multi-line values, tabs, odd indentation, a syntax error) makes it give up,
and the caller parses the text with PyYAML, which keeps every error message and line number.

Why: PyYAML builds a Python node object, with two position marks, for every scalar before it builds
the value; an 11 MB suite of polygons took 18-36 s to parse. Here a polygon's coordinate list is one
``json.loads`` (JSON and YAML 1.1 agree on the number forms it accepts) and every other line is one
regular-expression match.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

# Values YAML 1.1 and JSON read alike: no leading zeros (octal in YAML 1.1), no '+', no exponent
# without a dot (a string in YAML 1.1), no '_' or ':' (YAML 1.1 ints).
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"


def _number_lists(depth: int) -> str:
    """One-line flow lists of numbers nested up to ``depth`` levels: [1, 2], [[1, 2], [3, 4]]..."""
    levels = [_NUMBER]
    for _ in range(depth):
        item = levels[-1]
        levels.append(rf"\[ *(?:{item} *(?:, *{item} *)*)?\]")
    return "|".join(reversed(levels[1:]))  # the deepest first: "[[" is no list of numbers


NUMBER_LISTS = re.compile(_number_lists(3))
_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*(?: [A-Za-z0-9_.\-]+)*"
# One line of block structure: indentation, an optional "- ", an optional "key:", the rest.
_LINE = re.compile(rf"( *)(- +|-$)?(?:({_KEY}):(?: +|$))?(.*)")
# Characters a plain scalar may not start with (YAML's indicators), and those a flow item may not hold.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_SPECIAL = re.compile(r"[\[\]{}\"'#]|: |:$")
# A flow scalar runs to the next flow indicator; a flow mapping's key is a plain word and ": ".
_FLOW_SCALAR = re.compile(r"[^,\[\]{}]*")
_FLOW_KEY = re.compile(rf"({_KEY}): +")
# Characters PyYAML refuses or reads specially (controls, BOM, line separators): the caller decides.
_UNUSUAL = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"')
_SINGLE_QUOTED = re.compile(r"'([^']*)'")
_TYPED = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))
_STR = "tag:yaml.org,2002:str"


class NotPlain(Exception):
    """The text is outside the plain subset (or not valid YAML): parse it with PyYAML instead."""


def load_plain(text: str, duplicate_keys: str) -> tuple[Any, bool]:
    """The document of ``text`` as PyYAML's safe loader builds it, duplicate keys of a mapping listed
    under the key ``duplicate_keys`` as ``yaml_parse`` does, and whether any mapping has them;
    raises ``NotPlain`` outside the subset."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if _UNUSUAL.search(text) or "\t" in text:
        raise NotPlain
    lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if _has_content(line)]
    if not lines:
        raise NotPlain  # PyYAML's answer for an empty document (None) is the caller's business
    reader = _Reader(lines, _Scalars(duplicate_keys))
    value, end = reader.block(0, 0)
    if end != len(lines) or not isinstance(value, dict):
        raise NotPlain
    return value, reader.scalars.found_duplicates


def _has_content(line: str) -> bool:
    stripped = line.lstrip(" ")
    return bool(stripped) and not stripped.startswith("#")


class _Scalars:
    """One-line scalars typed by PyYAML's resolver and constructors, memoised: case files repeat
    their class names and tags thousands of times."""

    def __init__(self, duplicate_keys: str) -> None:
        self.duplicate_keys = duplicate_keys
        self.found_duplicates = False
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.typed: dict[tuple[str, bool], Any] = {}

    def plain(self, text: str, *, in_flow: bool = False) -> Any:
        """A plain scalar (a comment already cut off)."""
        known = self.typed.get((text, in_flow), self)  # self: not seen yet (None is a value)
        if known is not self:
            return known
        if not text or (text[0] in _INDICATORS and not (text[0] == "-" and len(text) > 1 and text[1] != " ")):
            raise NotPlain
        if ": " in text or text.endswith(":") or " #" in text or (in_flow and _FLOW_SPECIAL.search(text)):
            raise NotPlain
        tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))
        if tag not in _TYPED:
            raise NotPlain  # dates, merge keys, '=': rare, and PyYAML knows what to do
        value = (
            text
            if tag == _STR
            else self.constructor.yaml_constructors[tag](self.constructor, yaml.ScalarNode(tag, text))
        )
        self.typed[text, in_flow] = value
        return value

    def value(self, text: str, line: int) -> Any:
        """What follows ``key:`` or ``- `` on a line: a quoted, flow or plain scalar, comment allowed."""
        if text[0] in "\"'[{":
            value, end = self.flow_node(text, 0, line)
            _only_comment(text[end:])
            return value
        comment = text.find(" #")
        return self.plain((text if comment < 0 else text[:comment]).rstrip(" "))

    def flow_node(self, text: str, position: int, line: int) -> tuple[Any, int]:
        """The quoted scalar, flow collection or flow scalar at ``position``, and where it ends."""
        if position >= len(text):
            raise NotPlain  # a flow collection continued on the next line
        first = text[position]
        if first == "[":
            numbers = NUMBER_LISTS.match(text, position)
            if numbers:
                return json.loads(numbers.group(0)), numbers.end()
            return self.flow_list(text, position + 1, line)
        if first == "{":
            return self.flow_mapping(text, position + 1, line)
        if first in "\"'":
            found = (_DOUBLE_QUOTED if first == '"' else _SINGLE_QUOTED).match(text, position)
            if not found:
                raise NotPlain
            return found.group(1), found.end()
        found = _FLOW_SCALAR.match(text, position)
        return self.plain(found.group(0).rstrip(" "), in_flow=True), found.end()

    def flow_list(self, text: str, position: int, line: int) -> tuple[list, int]:
        items: list = []
        position = _skip_spaces(text, position)
        if text.startswith("]", position):
            return items, position + 1
        while True:
            item, position = self.flow_node(text, position, line)
            items.append(item)
            position, closed = _next_item(text, position, "]")
            if closed:
                return items, position

    def flow_mapping(self, text: str, position: int, line: int) -> tuple[dict, int]:
        mapping: dict = {}
        duplicates = []
        position = _skip_spaces(text, position)
        closed = text.startswith("}", position)
        position += closed
        while not closed:
            found = _FLOW_KEY.match(text, position)
            if not found:
                raise NotPlain
            key = self.plain(found.group(1), in_flow=True)
            if not isinstance(key, str):
                raise NotPlain
            if key in mapping:
                duplicates.append(f"{key!r} (line {line})")
            mapping[key], position = self.flow_node(text, found.end(), line)
            position, closed = _next_item(text, position, "}")
        if duplicates:
            mapping[self.duplicate_keys] = "duplicate key " + ", ".join(duplicates)
            self.found_duplicates = True
        return mapping, position


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position


def _next_item(text: str, position: int, closing: str) -> tuple[int, bool]:
    """After a flow item: past the ", " before the next one (False), or past the closing bracket (True)."""
    position = _skip_spaces(text, position)
    if text.startswith(closing, position):
        return position + 1, True
    if not text.startswith(",", position):
        raise NotPlain
    position = _skip_spaces(text, position + 1)
    if position >= len(text) or text[position] in ",]}":
        raise NotPlain  # an empty item or a trailing comma: PyYAML's business
    return position, False


def _only_comment(rest: str) -> None:
    stripped = rest.lstrip(" ")
    if stripped and not (stripped.startswith("#") and rest.startswith(" ")):
        raise NotPlain


class _Reader:
    """Block structure by indentation, over the lines that hold content."""

    def __init__(self, lines: list[tuple[int, str]], scalars: _Scalars) -> None:
        self.lines = lines
        self.scalars = scalars
        self.parsed = [_split(line) for _, line in lines]

    def block(self, index: int, indent: int) -> tuple[Any, int]:
        """The block collection starting at line ``index``, whose entries sit at column ``indent``."""
        column, dash, _, _ = self.parsed[index]
        if column != indent:
            raise NotPlain
        return self.sequence(index, indent) if dash else self.mapping(index, indent)

    def sequence(self, index: int, indent: int) -> tuple[list, int]:
        items = []
        while index < len(self.lines):
            column, dash, key, rest = self.parsed[index]
            if column < indent or (column == indent and not dash):
                break
            if column > indent:
                raise NotPlain
            if key is not None:  # "- key: value" opens a mapping at the key's column
                item_column = column + len(dash)
                self.parsed[index] = (item_column, None, key, rest)
                item, index = self.mapping(index, item_column)
            elif rest.startswith("- ") or rest == "-":  # "- - x" opens a sequence at the inner dash's column
                item_column = column + len(dash)
                self.parsed[index] = _split(" " * item_column + rest)
                item, index = self.sequence(index, item_column)
            elif rest:
                item, index = self.scalars.value(rest, self.lines[index][0]), index + 1
                self._no_continuation(index, indent)
            else:
                item, index = self.child(index + 1, indent, in_sequence=True)
            items.append(item)
        return items, index

    def mapping(self, index: int, indent: int) -> tuple[dict, int]:
        mapping: dict = {}
        duplicates = []
        while index < len(self.lines):
            column, dash, key, rest = self.parsed[index]
            if column < indent or (column == indent and dash):
                break
            if column > indent or key is None:
                raise NotPlain
            key_value = self.scalars.plain(key)
            if not isinstance(key_value, str):
                raise NotPlain  # 'yes:', '1:' keys: PyYAML types them
            if key_value in mapping:
                duplicates.append(f"{key_value!r} (line {self.lines[index][0]})")
            if rest:
                value = self.scalars.value(rest, self.lines[index][0])
                index += 1
                self._no_continuation(index, indent)
            else:
                value, index = self.child(index + 1, indent, in_sequence=False)
            mapping[key_value] = value
        if duplicates:
            mapping[self.scalars.duplicate_keys] = "duplicate key " + ", ".join(duplicates)
            self.scalars.found_duplicates = True
        return mapping, index

    def child(self, index: int, indent: int, *, in_sequence: bool) -> tuple[Any, int]:
        """The block under ``key:`` or ``-``: more indented, or (a mapping's value only) a sequence
        at the key's own column; nothing there is null."""
        if index < len(self.lines):
            column, dash, _, _ = self.parsed[index]
            if column > indent or (column == indent and dash and not in_sequence):
                return self.block(index, column)
        return None, index

    def _no_continuation(self, index: int, indent: int) -> None:
        """A line more indented than the entry it follows would continue a multi-line scalar."""
        if index < len(self.lines) and self.parsed[index][0] > indent:
            raise NotPlain


def _split(line: str) -> tuple[int, str | None, str | None, str]:
    found = _LINE.fullmatch(line)
    indent, dash, key, rest = found.groups()
    return len(indent), dash, key, rest.rstrip(" ")
