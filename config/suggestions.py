"""How a config problem names what was written and what was probably meant.

Shared by every validation pass: the closest valid name for a typo, a name rewritten to fit its
pattern, and a YAML value described the way a YAML user would name it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any


def closest(word: str, candidates: Sequence[str] | Mapping[str, Any]) -> str | None:
    """The candidate `word` most likely misspells: the same name in another case first."""
    names = list(candidates)
    for name in names:
        if name.lower() == word.lower():
            return name
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def closest_among(name: str, misspellings: Sequence[str]) -> bool:
    """True when one of `misspellings` is most likely a typo of `name`."""
    return any(closest(word, [name]) == name for word in misspellings)


def describe_value(value: Any) -> str:
    """How a YAML user would name what they wrote."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


_NAME_FIX = re.compile(r"[^a-z0-9-]+")


def name_fix(name: Any, pattern: str) -> str | None:
    """A name close to `name` that matches `pattern` (lowercased, other characters as '-')."""
    if not isinstance(name, str):
        return None
    fixed = _NAME_FIX.sub("-", name.lower()).strip("-")
    if fixed != name and re.search(pattern, fixed):
        return fixed
    return None
