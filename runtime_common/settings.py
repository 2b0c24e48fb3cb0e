"""A function's settings, read from its environment variables in one way.

A settings class is a frozen dataclass whose fields name their variable with `from_variable`:

    @dataclass(frozen=True)
    class RefreshSettings:
        bus_name: str = from_variable("HUB_BUS_NAME")
        quota: int = from_variable("RULES_PER_BUS_QUOTA", parse=whole_number, default=300)

    settings = read_settings(RefreshSettings, os.environ)

Each value is stripped; an unset or blank variable takes the field's default, or fails when the
field has none. A parser raises ValueError with the problem; the error then names the variable
(`environment variable RULES_PER_BUS_QUOTA: 'x' is not a whole number`), so a misconfigured
function says what to fix in its first log line. Checks that span fields stay in the class's
`__post_init__`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

SettingsT = TypeVar("SettingsT")

_VARIABLE: Final = "environment_variable"
_PARSE: Final = "parse"


class SettingsError(ValueError):
    """An environment variable is missing or holds a value its field cannot take."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"environment variable {variable}: {problem}")


def from_variable(
    variable: str,
    *,
    parse: Callable[[str], Any] = str,
    default: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field read from `variable` by `read_settings` (typed as its annotation)."""
    return dataclasses.field(default=default, metadata={_VARIABLE: variable, _PARSE: parse})


def read_settings(
    settings_class: type[SettingsT],
    environ: Mapping[str, str],
    *,
    error: type[SettingsError] = SettingsError,
) -> SettingsT:
    """An instance of `settings_class` from `environ`; `error` is raised (a SettingsError
    subclass, so a unit can keep its own exception type) naming the first bad variable."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(settings_class):  # type: ignore[arg-type]
        variable = field.metadata.get(_VARIABLE)
        if variable is None:
            continue
        text = environ.get(variable, "").strip()
        if not text:
            if field.default is dataclasses.MISSING:
                raise error(variable, "is not set")
            continue
        try:
            values[field.name] = field.metadata[_PARSE](text)
        except ValueError as problem:
            raise error(variable, str(problem)) from None
    return settings_class(**values)


def whole_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def comma_separated(text: str) -> tuple[str, ...]:
    """`a, b,,a` -> ('a', 'b'): sorted, without blanks or repeats."""
    return tuple(sorted({item.strip() for item in text.split(",")} - {""}))


def matching(pattern: str | re.Pattern[str]) -> Callable[[str], str]:
    """A parser accepting only values `pattern` matches in full."""
    compiled = re.compile(pattern)

    def parse(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(f"{text!r} does not match {compiled.pattern}")
        return text

    return parse


def one_of(choices: Iterable[str]) -> Callable[[str], str]:
    """A parser accepting only one of `choices` (listed in the error, quoted)."""
    allowed = tuple(choices)

    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(map(repr, allowed))}")
        return text

    return parse
