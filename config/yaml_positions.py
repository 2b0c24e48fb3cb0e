"""Parse YAML keeping where every key and value was written, and every duplicate key.

ruamel.yaml's constructor stops at the first duplicate key (PyYAML silently keeps the last one).
We want every problem in one run, so we walk the composed node tree ourselves: it records the
position of each key and value and finds all duplicates, then the data is constructed with
duplicates allowed (the file is rejected anyway when any exist).

Paths are tuples of mapping keys (always `str`, as written) and list indexes (`int`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

DocumentPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True)
class NodeLocation:
    value: Position
    # Where the mapping key was written; None for list items and the document root.
    key: Position | None = None
    # The scalar exactly as written (before YAML turned it into a number, a date...).
    raw_scalar: str | None = None
    quoted: bool = False


@dataclass(frozen=True)
class DuplicateKey:
    path: DocumentPath
    first: Position
    second: Position


class YamlSyntaxError(Exception):
    """The text is not valid YAML (or uses a tag we cannot construct)."""

    def __init__(self, position: Position, problem: str, context: str | None) -> None:
        self.position = position
        self.problem = problem
        self.context = context
        super().__init__(f"line {position.line}, column {position.column}: {problem}")


@dataclass(frozen=True)
class ParsedDocument:
    data: Any
    locations: Mapping[DocumentPath, NodeLocation] = field(default_factory=dict)
    duplicate_keys: tuple[DuplicateKey, ...] = ()

    def locate(self, path: DocumentPath, *, at_key: bool = False) -> Position:
        """Where `path` was written: its key (`at_key`) or its value. A path that is not in the
        file (a missing key, a value YAML merged in) falls back to its nearest written parent,
        pointing at the parent's key so the user lands on the section to fix."""
        location = self.locations.get(path)
        if location is not None:
            if at_key and location.key is not None:
                return location.key
            return location.value
        for length in range(len(path) - 1, -1, -1):
            parent = self.locations.get(path[:length])
            if parent is not None:
                return parent.key or parent.value
        return Position(1, 1)

    def raw_scalar(self, path: DocumentPath) -> str | None:
        location = self.locations.get(path)
        return None if location is None else location.raw_scalar


def _position(node: Node) -> Position:
    # ruamel marks are 0-based.
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _key_text(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return str(node.value)
    return f"<{type(node).__name__.removesuffix('Node').lower()} key>"


class _LocationCollector:
    def __init__(self) -> None:
        self.locations: dict[DocumentPath, NodeLocation] = {}
        self.duplicates: list[DuplicateKey] = []
        self._active: set[int] = set()

    def visit(self, node: Node, path: DocumentPath, key_position: Position | None) -> None:
        raw = node.value if isinstance(node, ScalarNode) else None
        quoted = isinstance(node, ScalarNode) and node.style in ("'", '"')
        self.locations[path] = NodeLocation(_position(node), key_position, raw, quoted)
        if id(node) in self._active:
            # `&a [*a]` builds a value that contains itself: no config needs one, and walking
            # it (here or in jsonschema) would never end.
            raise YamlSyntaxError(
                _position(node), "an alias refers to a value that contains it", None
            )
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                self._visit_mapping(node, path)
            elif isinstance(node, SequenceNode):
                for index, item in enumerate(node.value):
                    self.visit(item, (*path, index), None)
        finally:
            self._active.discard(id(node))

    def _visit_mapping(self, node: MappingNode, path: DocumentPath) -> None:
        first_seen: dict[tuple[str, str], Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = _key_text(key_node)
            key_position = _position(key_node)
            identity = (str(key_node.tag), key)
            if identity in first_seen:
                self.duplicates.append(
                    DuplicateKey((*path, key), first_seen[identity], key_position)
                )
                # Keep the first occurrence's location: the one the user is told about first.
                continue
            first_seen[identity] = key_position
            self.visit(value_node, (*path, key), key_position)


def _syntax_error(error: MarkedYAMLError) -> YamlSyntaxError:
    mark = error.problem_mark or error.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)
    context = error.context
    if context and error.context_mark is not None and error.context_mark is not mark:
        context = f"{context} started on line {error.context_mark.line + 1}"
    problem = error.problem or str(error).splitlines()[0]
    return YamlSyntaxError(position, problem, context)


def parse_yaml(text: str) -> ParsedDocument:
    """Parse one YAML document; raise YamlSyntaxError with the position of a syntax error."""
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    try:
        root = yaml.compose(text)
        data = yaml.load(text)
    except MarkedYAMLError as error:
        raise _syntax_error(error) from error
    if root is None or data is None:
        # No document, or one that is only `---` or `~`: nothing to locate.
        return ParsedDocument(data=None)
    collector = _LocationCollector()
    collector.visit(root, (), None)
    return ParsedDocument(data, collector.locations, tuple(collector.duplicates))


def document_path(data: Any, elements: Iterable[Any]) -> DocumentPath:
    """Turn a path into the loaded data (such as jsonschema's `absolute_path`) into a
    DocumentPath: list positions stay ints, mapping keys become the strings they were written as."""
    path: list[str | int] = []
    current = data
    for element in elements:
        if isinstance(current, list) and isinstance(element, int):
            path.append(element)
            current = current[element] if 0 <= element < len(current) else None
        else:
            path.append(str(element))
            current = current.get(element) if isinstance(current, dict) else None
    return tuple(path)


def format_json_path(path: DocumentPath) -> str:
    """`$.projects.fraud-detection.metrics[2].args`; unusual keys are quoted: `$['a b']`."""
    text = "$"
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        elif _PLAIN_KEY.match(element):
            text += f".{element}"
        else:
            text += "[" + repr(element) + "]"
    return text
