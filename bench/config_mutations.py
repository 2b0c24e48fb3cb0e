"""A fixed corpus of mutated config files, generated from `config/projects.yaml`, and how each is
judged. Used by `bench/hardening_config.py` (`make bench`) and its test.

The corpus is deterministic: the example file, times a checked-in list of mutators.
- Value mutators replace the value of every `key: value` line with each token of `TOKENS`. Each
  token states what its text means to a person (`AMBIGUOUS` when YAML versions or readers
  disagree, or when the text hides a control character); an accepted ambiguous token, or an
  accepted token whose loaded value differs from its meaning, is a **silent coercion**.
- Structural mutators delete or duplicate each line, and add what an attacker or a careless
  editor would: a `%YAML 1.1` header, control characters, tabs, an alias bomb, deep nesting, a
  merge key, a file over the size limit.

Each variant is then **refused** (ConfigError, what `dsdash validate` turns into exit 2),
**accepted**, a **silent coercion**, or a **traceback** (any other exception).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from config.errors import ConfigError
from config.input_limits import MAX_CONFIG_BYTES
from config.loader import DEFAULT_CONFIG_PATH, parse_config
from config.model import DsdashConfig
from config.yaml_positions import DocumentPath, parse_yaml


class _Ambiguous:
    def __repr__(self) -> str:
        return "AMBIGUOUS"


AMBIGUOUS: Final = _Ambiguous()

# (written value, its meaning). The meaning of an unambiguous token is what YAML 1.2 reads and a
# person means alike.
TOKENS: Final[tuple[tuple[str, Any], ...]] = (
    ("400", 400),
    ("0400", AMBIGUOUS),  # YAML 1.1: 256; YAML 1.2: 400
    ("0o400", AMBIGUOUS),
    ("0x190", AMBIGUOUS),
    ("4_00", AMBIGUOUS),  # YAML 1.1 and ruamel: 400; YAML 1.2 core: text
    ("+400", 400),
    ("400.0", AMBIGUOUS),
    ("2.0", AMBIGUOUS),
    ("1e3", AMBIGUOUS),
    (".inf", AMBIGUOUS),
    (".nan", AMBIGUOUS),
    ("-1", -1),
    ("0", 0),
    ("1", 1),
    ("2", 2),
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("true", True),
    ("null", None),
    ("~", None),
    ("", None),
    ("012345678901", AMBIGUOUS),  # leading zero dropped, or octal-looking
    ('"012345678901"', "012345678901"),
    ("111111111111", 111111111111),
    ('"111111111111\\n"', AMBIGUOUS),  # a trailing newline a person does not see
    ('"111111111111 "', "111111111111 "),
    ('" eu-west-1"', " eu-west-1"),
    ('"eu-west-1\\u2028"', AMBIGUOUS),
    ('"o-a1b2c3d4e5\\t"', AMBIGUOUS),
    ('"fraud-detection\\r"', AMBIGUOUS),
    ('"a\\0b"', AMBIGUOUS),
    ("2001-12-14", AMBIGUOUS),  # a date, not text
    ("12:30", "12:30"),  # YAML 1.1: the sexagesimal 750
    ("!!str 400", "400"),
    ("!!int 400", 400),
    ("!!int '0400'", AMBIGUOUS),
    ("!!float 2", AMBIGUOUS),
    ("!!binary aGVsbG8=", AMBIGUOUS),
    ("!!timestamp 2001-12-14", AMBIGUOUS),
    ("!!set {a}", AMBIGUOUS),
    ("!!python/object/apply:os.system [ls]", AMBIGUOUS),
    ("*undefined", AMBIGUOUS),
    ("&anchor anchored", "anchored"),
    # Schedules EventBridge refuses: fine as text elsewhere (see SCHEDULE_PATH).
    ("rate(1 hours)", "rate(1 hours)"),
    ("rate(2 hours)", "rate(2 hours)"),
    ("cron(0 6 * * ? *)", "cron(0 6 * * ? *)"),
    ("cron(99 * * * ? *)", "cron(99 * * * ? *)"),
    ("[a, b]", ["a", "b"]),
    ("{}", {}),
    ("'it''s'", "it's"),
)


SCHEDULE_PATH: Final = ("refresh", "schedule")
# Fields that take any number (alert thresholds): there a decimal or exponent token means the
# number YAML 1.2 reads, which is the only YAML the loader accepts; non-finite ones stay
# AMBIGUOUS (no person means an alert that never fires).
NUMBER_FIELD: Final = "threshold"
NUMBER_MEANINGS: Final[Mapping[str, float]] = {
    "400.0": 400.0,
    "2.0": 2.0,
    "1e3": 1000.0,
    "!!float 2": 2.0,
}
# Text that means no valid schedule: accepting it as the refresh schedule is a coercion into a
# rule EventBridge refuses at deploy time (or a dashboard that cannot read it).
INVALID_SCHEDULES: Final = frozenset({"rate(1 hours)", "cron(99 * * * ? *)"})


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Variant:
    name: str
    text: str
    # For value mutations: the document path changed and what the written value means.
    path: DocumentPath | None = None
    meaning: Any = None


def _scalar_lines(text: str) -> dict[int, DocumentPath]:
    """1-based line -> path of every `key: value` scalar written on its own line."""
    document = parse_yaml(text)
    lines: dict[int, DocumentPath] = {}
    for path, location in document.locations.items():
        if location.raw_scalar is not None and location.key is not None and path:
            if isinstance(path[-1], str) and location.key.line == location.value.line:
                lines[location.value.line] = path
    return lines


def value_variants(base: str, tokens: tuple[tuple[str, Any], ...] = TOKENS) -> Iterator[Variant]:
    lines = base.splitlines(keepends=True)
    for line_number, path in sorted(_scalar_lines(base).items()):
        line = lines[line_number - 1]
        key_part = line[: line.index(":") + 1]
        for written, meaning in tokens:
            mutated = [*lines]
            mutated[line_number - 1] = f"{key_part} {written}\n".replace(":  \n", ":\n")
            if path[-1] == NUMBER_FIELD:
                meant = NUMBER_MEANINGS.get(written, meaning)
            else:
                meant = meaning
            yield Variant(f"{'.'.join(map(str, path))} = {written}", "".join(mutated), path, meant)


def structural_variants(base: str) -> Iterator[Variant]:
    lines = base.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            yield Variant(f"line {index + 1} deleted", "".join(lines[:index] + lines[index + 1 :]))
            yield Variant(
                f"line {index + 1} duplicated", "".join(lines[: index + 1] + lines[index:])
            )
            yield Variant(
                f"line {index + 1} indented with a tab",
                "".join([*lines[:index], "\t" + line.lstrip(" "), *lines[index + 1 :]]),
            )
    middle = len(base) // 2
    specials = {
        "%YAML 1.1 header": "%YAML 1.1\n---\n" + base,
        "%YAML 1.2 header": "%YAML 1.2\n---\n" + base,
        "NUL in a value": base.replace("CentralHub", "Central\x00Hub", 1),
        "ESC in a comment": base.replace("# dsdash", "# \x1b[31mdsdash", 1),
        "lone surrogate": base.replace("CentralHub", "Central\ud800Hub", 1),
        "byte-order mark": "\ufeff" + base,
        "CRLF line ends": base.replace("\n", "\r\n"),
        "truncated in the middle": base[:middle],
        "alias bomb (9 levels)": _alias_bomb(9),
        "alias bomb (30 levels)": _alias_bomb(30),
        "flow nesting 5,000 deep": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "block nesting 2,000 deep": "".join(" " * depth + "a:\n" for depth in range(2000)),
        "recursive alias": base + "loop: &loop [*loop]\n",
        "merge key": base.replace("defaults:\n", "base: &base {}\ndefaults:\n  <<: *base\n", 1),
        "two documents": base + "---\n" + base,
        "over the size limit": base + "#" * MAX_CONFIG_BYTES + "\n",
        "empty": "",
        "only a comment": "# nothing\n",
    }
    for name, text in specials.items():
        yield Variant(name, text)


def corpus(*, quick: bool = False) -> list[Variant]:
    base = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    tokens = TOKENS[::3] if quick else TOKENS
    variants = [*value_variants(base, tokens), *structural_variants(base)]
    return variants[::2] if quick else variants


class Outcome(StrEnum):
    REFUSED = "refused"
    ACCEPTED = "accepted"
    SILENT_COERCION = "silent coercion"
    TRACEBACK = "traceback"


@dataclass(frozen=True)
class Judgement:
    variant: Variant
    outcome: Outcome
    seconds: float
    detail: str = ""


def model_value(config: DsdashConfig, path: DocumentPath) -> Any:
    """The loaded value at a written path, for the paths the model keeps as written."""
    fields: Mapping[DocumentPath, Any] = {
        ("hub", "name"): config.hub.name,
        ("hub", "account_id"): config.hub.account_id,
        ("hub", "region"): config.hub.region,
        ("hub", "bus_policy"): config.hub.bus_policy,
        ("organization", "id"): config.organization.id,
        ("organization", "management_account_id"): config.organization.management_account_id,
        ("organization", "tag_keys", "project"): config.organization.project_tag_key,
        ("organization", "tag_keys", "environment"): config.organization.environment_tag_key,
        ("refresh", "schedule"): config.refresh_schedule,
        ("retention_days",): config.retention_days,
        ("event_version",): config.event_version,
    }
    return fields.get(path, AMBIGUOUS)


def _same(loaded: Any, meaning: Any) -> bool:
    # `type` too: True == 1 and 400 == 400.0 in Python, not to a person reading the file.
    return type(loaded) is type(meaning) and loaded == meaning


def judge(variant: Variant) -> Judgement:
    started = time.perf_counter()
    try:
        config = parse_config(variant.text, source=variant.name)
    except ConfigError:
        return Judgement(variant, Outcome.REFUSED, time.perf_counter() - started)
    except Exception as error:  # counting what escapes ConfigError is the point
        return Judgement(
            variant, Outcome.TRACEBACK, time.perf_counter() - started, f"{type(error).__name__}"
        )
    seconds = time.perf_counter() - started
    if variant.path is not None:
        if variant.path == SCHEDULE_PATH and variant.meaning in INVALID_SCHEDULES:
            return Judgement(variant, Outcome.SILENT_COERCION, seconds, "invalid schedule accepted")
        if variant.meaning is AMBIGUOUS:
            return Judgement(variant, Outcome.SILENT_COERCION, seconds, "ambiguous text accepted")
        loaded = model_value(config, variant.path)
        if loaded is not AMBIGUOUS and not _same(loaded, variant.meaning):
            return Judgement(
                variant,
                Outcome.SILENT_COERCION,
                seconds,
                f"loaded {loaded!r}, written {variant.meaning!r}",
            )
    return Judgement(variant, Outcome.ACCEPTED, seconds)
