"""A function's settings, read from its environment variables in one way.

A settings class is a frozen dataclass whose fields name their variable with `from_variable`:

    @dataclass(frozen=True)
    class RefreshSettings:
        bus_name: str = from_variable("HUB_BUS_NAME")
        quota: int = from_variable("RULES_PER_BUS_QUOTA", parse=whole_number, default=300)

    settings = read_settings(RefreshSettings, os.environ)

Each value is stripped; an unset or blank variable takes the field's default, or fails when the
field has none. A parser raises ValueError with the problem; the error then names the variable
(`environment variable RULES_PER_BUS_QUOTA: 'x' is not a whole number`), and every bad variable
of the class is named at once, so a misconfigured function says what to fix in its first log
line. Checks that span fields stay in the class's `__post_init__`; per-field checks belong in
the parsers, so the CDK side can build an instance from deploy-time tokens.

The CDK side writes a function's environment with `environment_of(settings_instance)`: the same
fields, each written back by its `render` (the inverse of `parse`), so the variables a construct
sets are exactly those its function reads. A settings class may hold another (`nested`), whose
variables are read from, and written to, the same environment. A structured value (a table, not
a flat list) stays JSON inside one variable, read by `json_document` and written by `json_text`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

SettingsT = TypeVar("SettingsT")
ValueT = TypeVar("ValueT")

_VARIABLE: Final = "environment_variable"
_PARSE: Final = "parse"
_RENDER: Final = "render"
_NESTED: Final = "nested_settings"


class SettingsError(ValueError):
    """Environment variables are missing or hold values their fields cannot take.

    `variable` and `problem` are the first; `problems` lists every (variable, problem)."""

    def __init__(self, variable: str, problem: str, *more: tuple[str, str]) -> None:
        self.variable = variable
        self.problem = problem
        self.problems = ((variable, problem), *more)
        super().__init__(
            "; ".join(f"environment variable {name}: {text}" for name, text in self.problems)
        )


def render_plain(value: object) -> str:
    """The default `render`: text as is, numbers in Python's notation, a tuple comma-separated
    (what `comma_separated` reads back)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool setting needs an explicit render")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise TypeError(f"no plain rendering of {type(value).__name__}; give the field a render")


def from_variable(
    variable: str,
    *,
    parse: Callable[[str], Any] = str,
    render: Callable[[Any], str] = render_plain,
    default: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field read from `variable` by `read_settings` (typed as its annotation), and
    written by `environment_of` with `render`."""
    return dataclasses.field(
        default=default, metadata={_VARIABLE: variable, _PARSE: parse, _RENDER: render}
    )


def nested(settings_class: type[Any]) -> Any:
    """A dataclass field holding `settings_class`, read from the same environment."""
    return dataclasses.field(metadata={_NESTED: settings_class})


def variables_of(settings_class: type[Any]) -> dict[str, bool]:
    """Every variable `settings_class` reads (nested classes included) -> whether it is required."""
    variables: dict[str, bool] = {}
    for field in dataclasses.fields(settings_class):
        if _NESTED in field.metadata:
            variables.update(variables_of(field.metadata[_NESTED]))
        elif _VARIABLE in field.metadata:
            variables[field.metadata[_VARIABLE]] = field.default is dataclasses.MISSING
    return variables


def environment_of(settings: object) -> dict[str, str]:
    """The environment variables that `read_settings` reads back as `settings` (for the CDK).

    A field holding its default is left out: the function reads the same value without it, the
    class stays the one place that states the default, and Lambda's 4 KB for all of a function's
    variables is kept for the values that vary."""
    environment: dict[str, str] = {}
    for field in dataclasses.fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, field.name)
        if _NESTED in field.metadata:
            environment.update(environment_of(value))
        elif _VARIABLE in field.metadata and value is not None and value != field.default:
            environment[field.metadata[_VARIABLE]] = field.metadata[_RENDER](value)
    return environment


def read_settings(
    settings_class: type[SettingsT],
    environ: Mapping[str, str],
    *,
    error: type[SettingsError] = SettingsError,
) -> SettingsT:
    """An instance of `settings_class` from `environ`; `error` is raised (a SettingsError
    subclass, so a unit can keep its own exception type) naming every bad variable."""
    values, problems = _read_fields(settings_class, environ)
    if problems:
        raise error(*problems[0], *problems[1:])
    return settings_class(**values)


def _read_fields(
    settings_class: type[Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The parsed field values of `settings_class` and every (variable, problem) found."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for field in dataclasses.fields(settings_class):
        if _NESTED in field.metadata:
            inner, inner_problems = _read_fields(field.metadata[_NESTED], environ)
            problems.extend(inner_problems)
            if not inner_problems:
                values[field.name] = field.metadata[_NESTED](**inner)
            continue
        variable = field.metadata.get(_VARIABLE)
        if variable is None:
            continue
        text = environ.get(variable, "").strip()
        if not text:
            if field.default is dataclasses.MISSING:
                problems.append((variable, "is not set"))
            continue
        try:
            values[field.name] = field.metadata[_PARSE](text)
        except ValueError as problem:
            problems.append((variable, str(problem)))
    return values, problems


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


def number(text: str) -> float:
    """A non-negative decimal number (`2`, `0.5`)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a non-negative finite number")
    return value


def json_document(check: Callable[[Any], ValueT]) -> Callable[[str], ValueT]:
    """A parser of a JSON variable: the decoded document goes to `check`, which returns the
    field's value or raises ValueError saying what the document lacks. The one reader of every
    JSON-valued variable."""

    def parse(text: str) -> ValueT:
        try:
            document = json.loads(text)
        except ValueError as problem:
            raise ValueError(f"is not JSON: {problem}") from None
        return check(document)

    return parse


def json_text(to_document: Callable[[Any], object]) -> Callable[[Any], str]:
    """The `render` of a `json_document` field: compact JSON with sorted keys."""

    def render(value: Any) -> str:
        return json.dumps(to_document(value), sort_keys=True, separators=(",", ":"))

    return render
