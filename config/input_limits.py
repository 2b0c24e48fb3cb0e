"""The limits a config file must stay within before dsdash parses it, and why.

A config file is a few kilobytes written by people. These limits refuse what no person writes,
before it can cost time or memory, each with a located, readable problem (see
`docs/architecture.md §7`, "Config input limits"):

- size: at most `MAX_CONFIG_BYTES` (1 MiB, about 40,000 projects' worth of lines); below it,
  validation time grows linearly with the size;
- characters: only YAML's printable set (https://yaml.org/spec/1.2.2/#51-character-set);
  NUL and other control characters are refused with their line and column instead of failing
  inside the YAML reader;
- nesting: at most `MAX_NESTING_DEPTH` levels (the example file uses 6);
- aliases: together they may add at most `MAX_ALIAS_EXPANSION` nodes to the document, so a
  "billion laughs" file of a few hundred bytes is refused instead of expanding nine-fold per level.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

MAX_CONFIG_BYTES: Final = 1024 * 1024
MAX_NESTING_DEPTH: Final = 64
MAX_ALIAS_EXPANSION: Final = 10_000

# YAML 1.2's printable characters: TAB, LF, CR, the printable ASCII range, NEL and everything from
# U+00A0 except surrogates and the non-characters U+FFFE/U+FFFF.
_NOT_YAML_PRINTABLE: Final = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# Inside a value (after escapes like "\n" are decoded): control characters, line and paragraph
# separators and lone surrogates. None belongs in a name, an id or a schedule; a trailing newline
# would otherwise pass patterns ending in `$` (Python's `$` also matches before a final "\n").
# (Unicode categories Cc, Zl, Zp and Cs.)
_UNSAFE_IN_VALUE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True)
class UnreadableCharacter:
    """The first character of a text that YAML does not allow in a stream."""

    line: int
    column: int
    character: str

    @property
    def description(self) -> str:
        return describe_character(self.character)


def describe_character(character: str) -> str:
    """`U+0000 (NUL)`: the code point and, when Unicode has one, its name or category."""
    name = unicodedata.name(character, "") or _CONTROL_NAMES.get(character, "")
    label = name or f"category {unicodedata.category(character)}"
    return f"U+{ord(character):04X} ({label})"


_CONTROL_NAMES: Final = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}


def first_unreadable_character(text: str) -> UnreadableCharacter | None:
    match = _NOT_YAML_PRINTABLE.search(text)
    if match is None:
        return None
    index = match.start()
    line_start = text.rfind("\n", 0, index) + 1
    return UnreadableCharacter(
        text.count("\n", 0, index) + 1, index - line_start + 1, match.group()
    )


def first_unsafe_value_character(value: str) -> str | None:
    """The first character that has no place in a config value, or None."""
    match = _UNSAFE_IN_VALUE.search(value)
    return None if match is None else match.group()
