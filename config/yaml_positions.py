"""Parse YAML keeping where every key and value was written, and every duplicate key.

ruamel.yaml's constructor stops at the first duplicate key (PyYAML silently keeps the last one).
We want every problem in one run, so we walk the composed node tree ourselves: it records the
position of each key and value and finds all duplicates, then the data is constructed with
duplicates allowed (the file is rejected anyway when any exist).

The parse also enforces `config.input_limits` (characters, nesting, alias expansion) and refuses
what would change a value's meaning without a word: a `%YAML 1.1` directive (YAML 1.1 reads
`0400` as 256 and `yes` as true), merge keys (`<<`, a YAML 1.1 extension), and integers not
written in plain decimal (`0o400`, `0x190`, `4_00`, `0400`). Each of those is reported as an
`UnsafeYamlError` or an `OddScalar` with its position.

Paths are tuples of mapping keys (always `str`, as written) and list indexes (`int`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.input_limits import (
    MAX_ALIAS_EXPANSION,
    MAX_NESTING_DEPTH,
    describe_character,
    first_unreadable_character,
    first_unsafe_value_character,
)

DocumentPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)")
_YAML_1_2 = (1, 2)


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


class UnsafeYamlError(Exception):
    """Valid YAML that dsdash refuses to read: it would cost far more than its size, or YAML
    would change what the text says. `message` says what, `expected` what to write instead."""

    def __init__(self, position: Position, message: str, expected: str) -> None:
        self.position = position
        self.message = message
        self.expected = expected
        super().__init__(f"line {position.line}, column {position.column}: {message}")


@dataclass(frozen=True)
class OddScalar:
    """A scalar whose value YAML would read differently from what a person reads: a string with
    a control character (often an escaped trailing newline), or an integer not in plain decimal."""

    path: DocumentPath
    position: Position
    message: str
    expected: str
    # True for a mapping key (the path ends with it), False for a value.
    is_key: bool = False


@dataclass(frozen=True)
class ParsedDocument:
    data: Any
    locations: Mapping[DocumentPath, NodeLocation] = field(default_factory=dict)
    duplicate_keys: tuple[DuplicateKey, ...] = ()
    odd_scalars: tuple[OddScalar, ...] = ()

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
    """Walks the composed tree once. A node reached again through an alias is not walked again
    (its paths fall back to the alias's own location), so the walk is linear in the text even for
    an alias bomb; what aliases would add to the loaded data is counted against
    MAX_ALIAS_EXPANSION instead."""

    def __init__(self) -> None:
        self.locations: dict[DocumentPath, NodeLocation] = {}
        self.duplicates: list[DuplicateKey] = []
        self.odd_scalars: list[OddScalar] = []
        self._active: set[int] = set()
        # id(node) -> how many nodes it holds once every alias inside it is expanded.
        self._expanded_sizes: dict[int, int] = {}
        self._alias_expansion = 0

    def visit(self, node: Node, path: DocumentPath, key_position: Position | None) -> int:
        """Record `node` at `path`; return its expanded size in nodes."""
        raw = node.value if isinstance(node, ScalarNode) else None
        quoted = isinstance(node, ScalarNode) and node.style in ("'", '"')
        self.locations[path] = NodeLocation(_position(node), key_position, raw, quoted)
        if id(node) in self._active:
            # `&a [*a]` builds a value that contains itself: no config needs one, and walking
            # it (here or in jsonschema) would never end.
            raise YamlSyntaxError(
                _position(node), "an alias refers to a value that contains it", None
            )
        known_size = self._expanded_sizes.get(id(node))
        if known_size is not None:
            self._count_alias(known_size, key_position or _position(node))
            return known_size
        self._active.add(id(node))
        try:
            size = 1
            if isinstance(node, MappingNode):
                size += self._visit_mapping(node, path)
            elif isinstance(node, SequenceNode):
                for index, item in enumerate(node.value):
                    size += self.visit(item, (*path, index), None)
            elif isinstance(node, ScalarNode):
                self._check_scalar(node, path, is_key=False)
        finally:
            self._active.discard(id(node))
        self._expanded_sizes[id(node)] = size
        return size

    def _count_alias(self, size: int, position: Position) -> None:
        self._alias_expansion += size
        if self._alias_expansion > MAX_ALIAS_EXPANSION:
            raise UnsafeYamlError(
                position,
                f"aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} values",
                "expected aliases that repeat a few small values (a file that grows many-fold"
                " when its aliases are expanded is refused)",
            )

    def _visit_mapping(self, node: MappingNode, path: DocumentPath) -> int:
        size = 0
        first_seen: dict[tuple[str, str], Position] = {}
        for key_node, value_node in node.value:
            key_position = _position(key_node)
            if key_node.tag == _MERGE_TAG:
                raise UnsafeYamlError(
                    key_position,
                    "merge keys (<<) are not supported",
                    "expected the keys written out (merge keys are a YAML 1.1 extension that"
                    " YAML 1.2 dropped); an alias of a whole value (*name) works",
                )
            key = _key_text(key_node)
            if isinstance(key_node, ScalarNode):
                self._check_scalar(key_node, (*path, key), is_key=True)
            identity = (str(key_node.tag), key)
            if identity in first_seen:
                self.duplicates.append(
                    DuplicateKey((*path, key), first_seen[identity], key_position)
                )
                # Keep the first occurrence's location: the one the user is told about first.
                continue
            first_seen[identity] = key_position
            size += 1 + self.visit(value_node, (*path, key), key_position)
        return size

    def _check_scalar(self, node: ScalarNode, path: DocumentPath, *, is_key: bool) -> None:
        text = str(node.value)
        position = _position(node)
        character = first_unsafe_value_character(text)
        what = "key" if is_key else "value"
        if character is not None:
            self.odd_scalars.append(
                OddScalar(
                    path,
                    position,
                    f"the {what} {text!r} contains the control character"
                    f" {describe_character(character)}",
                    f"expected a {what} without control characters or line breaks",
                    is_key,
                )
            )
        elif node.tag == _INT_TAG and not _PLAIN_DECIMAL.fullmatch(text):
            self.odd_scalars.append(
                OddScalar(
                    path,
                    position,
                    f"the number {text} is not written in plain decimal (YAML versions and"
                    " readers disagree on what it means)",
                    "expected a whole number in plain decimal digits without leading zeros,"
                    " like 400; quote it if it is text",
                    is_key,
                )
            )


class _ScreeningComposer(Composer):
    """ruamel's composer, refusing a `%YAML` directive for any version but 1.2."""

    def compose_document(self) -> Any:
        start = self.parser.peek_event()
        version = getattr(start, "version", None)
        if version is not None and tuple(version) != _YAML_1_2:
            written = ".".join(str(part) for part in version)
            raise UnsafeYamlError(
                _directive_position(start),
                f"the file asks for YAML {written} (%YAML {written})",
                "expected no %YAML directive: dsdash reads YAML 1.2, where 0400 stays 400 and"
                " yes stays text (YAML 1.1 would read 256 and true)",
            )
        return super().compose_document()


def _directive_position(start_event: Any) -> Position:
    # The document-start event begins after its directives; the directive is the first line
    # starting with '%' in the text the reader holds.
    mark = start_event.start_mark
    buffer = getattr(mark, "buffer", None)
    if isinstance(buffer, str):
        for number, line in enumerate(buffer.splitlines(), start=1):
            if line.startswith("%YAML"):
                return Position(number, 1)
    return Position(mark.line + 1, mark.column + 1)


def _syntax_error(error: MarkedYAMLError) -> YamlSyntaxError:
    mark = error.problem_mark or error.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)
    context = error.context
    if context and error.context_mark is not None and error.context_mark is not mark:
        context = f"{context} started on line {error.context_mark.line + 1}"
    problem = error.problem or str(error).splitlines()[0]
    return YamlSyntaxError(position, problem, context)


def parse_yaml(text: str) -> ParsedDocument:
    """Parse one YAML document; raise YamlSyntaxError with the position of a syntax error, or
    UnsafeYamlError for a document dsdash refuses to read (see the module docstring)."""
    unreadable = first_unreadable_character(text)
    if unreadable is not None:
        raise UnsafeYamlError(
            Position(unreadable.line, unreadable.column),
            f"the file contains the character {unreadable.description}",
            "expected printable text (YAML allows no control characters but tab and line"
            ' breaks; write one inside a value as an escape like "\\t")',
        )
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    yaml.Composer = _ScreeningComposer
    # ruamel composes recursively: past about 1,000 levels Python's stack would overflow.
    yaml.max_depth = MAX_NESTING_DEPTH
    try:
        root = yaml.compose(text)
        if root is None:
            # No document, or one that is only `---`: nothing to locate.
            return ParsedDocument(data=None)
        # Checked before the data is built, so an alias bomb is never expanded.
        collector = _LocationCollector()
        collector.visit(root, (), None)
        data = yaml.constructor.construct_document(root)
    except MaxDepthExceededError as error:
        mark = error.problem_mark
        raise UnsafeYamlError(
            Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1),
            f"values are nested more than {MAX_NESTING_DEPTH} levels deep",
            f"expected at most {MAX_NESTING_DEPTH} levels of nested mappings and lists (the"
            " config needs about 6)",
        ) from None
    except MarkedYAMLError as error:
        raise _syntax_error(error) from error
    if data is None:
        return ParsedDocument(data=None)
    return ParsedDocument(
        data, collector.locations, tuple(collector.duplicates), tuple(collector.odd_scalars)
    )


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
        elif _PLAIN_KEY.fullmatch(element):
            text += f".{element}"
        else:
            text += "[" + repr(element) + "]"
    return text
