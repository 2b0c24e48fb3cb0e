"""Files no person writes on purpose: each is refused with its place in the file and exit 2,
never a traceback, a hang or a value YAML quietly changed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from config.input_limits import MAX_ALIAS_EXPANSION, MAX_CONFIG_BYTES, MAX_NESTING_DEPTH
from config.loader import ConfigError, load_config, parse_config

EXAMPLE = (Path(__file__).resolve().parents[2] / "config" / "projects.yaml").read_text(
    encoding="utf-8"
)


def _line_of(text: str) -> int:
    """The 1-based line of the example that starts with `text` (indentation ignored)."""
    lines = [line.strip() for line in EXAMPLE.splitlines()]
    return next(number for number, line in enumerate(lines, start=1) if line.startswith(text))


def _only_problem(text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="projects.yaml")
    problems = raised.value.problems
    assert len(problems) == 1, [str(problem) for problem in problems]
    return str(problems[0])


def _replace(old: str, new: str) -> str:
    assert old in EXAMPLE
    return EXAMPLE.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A trailing newline passed patterns ending in `$`, and then the hub != management and
        # account-declared-once checks.
        (
            _replace('account_id: "111111111111"', 'account_id: "111111111111\\n"'),
            f"projects.yaml:{_line_of('account_id:')}:15: $.hub.account_id:"
            " the value '111111111111\\n' contains the"
            " control character U+000A (LINE FEED)",
        ),
        (
            _replace('prod: ["333333333333"]', 'prod: ["333333333333\\r"]'),
            # Python's `$` matches before "\n" only: "\r" already fails the pattern.
            "$.projects.churn-prediction.accounts.prod[0]: account id '333333333333\\r' is not",
        ),
        (
            _replace("  fraud-detection:", '  "fraud-detection\\n":'),
            f"projects.yaml:{_line_of('fraud-detection:')}:3:"
            " $.projects['fraud-detection\\n']: the key 'fraud-detection\\n'"
            " contains the control character U+000A (LINE FEED)",
        ),
        (
            # Free text no pattern checks.
            _replace('"validation:auc"', '"validation:auc\\t"'),
            "args.objective_metric: the value 'validation:auc\\t' contains the control character"
            " U+0009 (TAB)",
        ),
    ],
)
def test_values_with_control_characters_are_refused_where_they_are(text, expected):
    assert expected in _only_problem(text)


def test_event_version_must_be_written_as_a_whole_number():
    problem = _only_problem(_replace("event_version: 2", "event_version: 2.0"))

    assert problem.startswith(
        f"projects.yaml:{_line_of('event_version:')}:16: $.event_version: found the number 2.0"
    )


def test_the_spoke_stack_reads_an_integer_event_version():
    config = parse_config(EXAMPLE)

    assert type(config.event_version) is int
    assert str(config.event_version) == "2"


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("rate(1 hours)", "invalid value 'rate(1 hours)'"),
        ("rate(5 minute)", "invalid value 'rate(5 minute)'"),
        ("rate(0 minutes)", "invalid value 'rate(0 minutes)'"),
        ("cron(99 * * * ? *)", "field '99' is out of range"),
    ],
)
def test_schedules_eventbridge_refuses_are_refused(schedule, expected):
    assert expected in _only_problem(_replace("rate(1 hour)", schedule))


@pytest.mark.parametrize("schedule", ["rate(1 minute)", "rate(2 hours)", "rate(10 days)"])
def test_rate_schedules_with_the_right_unit_are_accepted(schedule):
    assert parse_config(_replace("rate(1 hour)", schedule)).refresh_schedule == schedule


def test_a_yaml_1_1_header_is_refused_before_it_changes_any_value():
    problem = _only_problem(
        "%YAML 1.1\n---\n" + _replace("retention_days: 400", "retention_days: 0400")
    )

    assert problem.startswith("projects.yaml:1:1: $: the file asks for YAML 1.1")


@pytest.mark.parametrize("written", ["0400", "0o620", "0x190", "4_00", "+400"])
def test_integers_not_in_plain_decimal_are_refused(written):
    problem = _only_problem(_replace("retention_days: 400", f"retention_days: {written}"))

    assert f"$.retention_days: the number {written} is not written in plain decimal" in problem


def test_an_unquoted_account_id_is_refused_with_advice_to_quote_it():
    problem = _only_problem(_replace('"999999999999"', "012345678901"))

    assert "YAML read the unquoted value 012345678901 as the number 12345678901" in problem
    assert 'quote it: "012345678901"' in problem


def test_merge_keys_are_refused():
    text = _replace("defaults:\n", "base: &base {environments: [dev]}\ndefaults:\n  <<: *base\n")

    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert "merge keys (<<) are not supported" in str(raised.value)


def test_a_plain_alias_is_still_accepted():
    text = _replace("environments: [dev, prod]", "environments: *every_environment")
    text = text.replace(
        "environments: [dev, int, prod]", "environments: &every_environment [dev, int, prod]"
    )

    assert parse_config(text).project("churn-prediction").environments == ("dev", "int", "prod")


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 9, 20])
def test_an_alias_bomb_is_refused_quickly(levels):
    started = time.perf_counter()

    problem = _only_problem(_alias_bomb(levels))

    assert f"aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} values" in problem
    # Not a timing assertion on the code's speed: a bound that only an exponential walk misses.
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "hub:\n  name: Central\x00Hub\n",
            "projects.yaml:2:16: $: the file contains the character U+0000 (NUL)",
        ),
        ("hub: \x1b[31m\n", "projects.yaml:1:6: $: the file contains the character U+001B"),
        ("a: " + "[" * 1200 + "]" * 1200 + "\n", f"nested more than {MAX_NESTING_DEPTH} levels"),
        ("".join(" " * level + "a:\n" for level in range(300)), "nested more than"),
    ],
)
def test_unreadable_characters_and_deep_nesting_are_located_problems(text, expected):
    assert expected in _only_problem(text)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path):
    path = tmp_path / "projects.yaml"
    path.write_text(EXAMPLE + "#" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    (problem,) = raised.value.problems
    assert str(problem).startswith(f"{path}:1:1: $: the file is {path.stat().st_size:,} bytes")
    assert "expected at most 1,048,576 bytes (1 MiB)" in str(problem)


@pytest.mark.parametrize(
    "text",
    [
        "hub:\n  name: Central\x00Hub\n",
        _alias_bomb(9),
        "a: " + "{a: " * 2000 + "}" * 2000,
        "%YAML 1.1\n---\nretention_days: 0400\n",
    ],
)
def test_dsdash_validate_exits_2_without_a_traceback(tmp_path: Path, text: str):
    path = tmp_path / "projects.yaml"
    path.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(app, ["validate", "-c", str(path)])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"{path}:")
