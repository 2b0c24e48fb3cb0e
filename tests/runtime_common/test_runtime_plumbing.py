"""The shared plumbing every runtime uses (docs/architecture.md §7, issue 9): identifiers,
settings from the environment, timestamps and backoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

import contracts
from runtime_common.backoff import backoff_seconds
from runtime_common.identifiers import is_account_id, is_region_name, region_list, region_names
from runtime_common.settings import (
    SettingsError,
    comma_separated,
    environment_of,
    from_variable,
    json_document,
    json_text,
    nested,
    number,
    one_of,
    read_settings,
    variables_of,
    whole_number,
)
from runtime_common.timestamps import epoch_seconds, format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("123456789012", True),
        ("012345678901", True),
        ("12345678901", False),
        ("123456789012\n", False),  # `$` alone would accept it
        ("١٢٣٤٥٦٧٨٩٠١٢", False),  # Arabic-Indic digits: `\d` would accept them
        (123456789012, False),
        (None, False),
    ],
)
def test_account_ids_are_twelve_ascii_digits(value: object, valid: bool) -> None:
    assert is_account_id(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("eu-west-1", True),
        ("us-gov-east-1", True),
        ("cn-north-1", True),
        ("eu-west", False),
        ("EU-WEST-1", False),
        ("eu-west-1\n", False),
    ],
)
def test_region_names_are_checked_for_syntax(value: str, valid: bool) -> None:
    assert is_region_name(value) is valid


def test_the_event_schemas_spell_the_account_id_as_the_contract_does() -> None:
    for name in ("metric-event-v2", "refresh-event"):
        pattern = contracts.load_schema(name)["properties"]["AccountId"]["pattern"]
        assert pattern == contracts.ACCOUNT_ID_PATTERN, name


@dataclass(frozen=True)
class ExampleSettings:
    bus_name: str = from_variable("BUS_NAME")
    quota: int = from_variable("QUOTA", parse=whole_number, default=300)
    regions: tuple[str, ...] = from_variable("REGIONS", parse=comma_separated, default=())
    mode: str = from_variable("MODE", parse=one_of(("a", "b")), default="a")
    not_from_the_environment: str = "fixed"


class ExampleSettingsError(SettingsError):
    pass


def test_settings_are_read_stripped_parsed_and_defaulted() -> None:
    settings = read_settings(
        ExampleSettings,
        {"BUS_NAME": " hub ", "QUOTA": "", "REGIONS": "eu-west-1, us-east-1,,eu-west-1"},
    )
    assert settings == ExampleSettings(
        bus_name="hub", quota=300, regions=("eu-west-1", "us-east-1"), mode="a"
    )


@pytest.mark.parametrize(
    ("environment", "variable", "message"),
    [
        ({}, "BUS_NAME", "environment variable BUS_NAME: is not set"),
        ({"BUS_NAME": "  "}, "BUS_NAME", "environment variable BUS_NAME: is not set"),
        (
            {"BUS_NAME": "hub", "QUOTA": "3x"},
            "QUOTA",
            "environment variable QUOTA: '3x' is not a whole number",
        ),
        (
            {"BUS_NAME": "hub", "MODE": "c"},
            "MODE",
            "environment variable MODE: 'c' is not one of 'a', 'b'",
        ),
    ],
)
def test_a_bad_environment_names_the_variable_in_the_units_error(
    environment: dict[str, str], variable: str, message: str
) -> None:
    with pytest.raises(ExampleSettingsError) as raised:
        read_settings(ExampleSettings, environment, error=ExampleSettingsError)
    assert (raised.value.variable, str(raised.value)) == (variable, message)


def _table(document: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(document, dict) or not all(
        isinstance(value, list) for value in document.values()
    ):
        raise ValueError("must map names to lists")
    return {name: tuple(values) for name, values in document.items()}


@dataclass(frozen=True)
class Inner:
    table: dict[str, tuple[str, ...]] = from_variable(
        "TABLE",
        parse=json_document(_table),
        render=json_text(lambda table: {name: list(values) for name, values in table.items()}),
    )
    pause: float = from_variable("PAUSE", parse=number, default=2.0)


@dataclass(frozen=True)
class Outer:
    bus_name: str = from_variable("BUS_NAME")
    inner: Inner = nested(Inner)
    regions: tuple[str, ...] = from_variable("REGIONS", parse=region_names, default=())
    topic: str | None = from_variable("TOPIC", default=None)


def test_environment_of_writes_what_read_settings_reads_back_without_defaults() -> None:
    settings = Outer(
        bus_name="hub", inner=Inner(table={"a": ("x", "y")}, pause=0.5), regions=("eu-west-1",)
    )
    environment = environment_of(settings)
    assert environment == {
        "BUS_NAME": "hub",
        "TABLE": '{"a":["x","y"]}',
        "PAUSE": "0.5",
        "REGIONS": "eu-west-1",
    }
    assert read_settings(Outer, environment) == settings
    # Defaults (and None) are not written: the function reads the same value without them.
    plain = Outer(bus_name="hub", inner=Inner(table={}))
    assert environment_of(plain) == {"BUS_NAME": "hub", "TABLE": "{}"}
    assert variables_of(Outer) == {
        "BUS_NAME": True,
        "TABLE": True,
        "PAUSE": False,
        "REGIONS": False,
        "TOPIC": False,
    }


def test_every_bad_variable_is_named_nested_ones_included() -> None:
    with pytest.raises(ExampleSettingsError) as raised:
        read_settings(
            Outer,
            {"TABLE": '{"a": "x"}', "PAUSE": "-1", "REGIONS": "eu-west-1,Frankfurt"},
            error=ExampleSettingsError,
        )
    assert raised.value.problems == (
        ("BUS_NAME", "is not set"),
        ("TABLE", "must map names to lists"),
        ("PAUSE", "'-1' is not a non-negative finite number"),
        ("REGIONS", "'Frankfurt' is not an AWS region name"),
    )
    assert raised.value.variable == "BUS_NAME"
    assert str(raised.value).startswith(
        "environment variable BUS_NAME: is not set; environment variable TABLE: must map"
    )
    with pytest.raises(SettingsError, match="environment variable TABLE: is not JSON"):
        read_settings(Outer, {"BUS_NAME": "hub", "TABLE": "{"})


def test_region_lists_keep_or_sort_their_order() -> None:
    assert region_names("us-east-1, eu-west-1,us-east-1") == ("eu-west-1", "us-east-1")
    assert region_list("us-east-1, eu-west-1,us-east-1") == ("us-east-1", "eu-west-1")
    with pytest.raises(ValueError, match="'mars'"):
        region_list("eu-west-1,mars")


def test_timestamps_have_one_fixed_width_utc_form() -> None:
    moment = datetime(2025, 6, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    text = format_timestamp(moment)
    assert text == "2025-06-01T12:00:00.123Z"
    assert parse_timestamp(text) == datetime(2025, 6, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert epoch_seconds(parse_timestamp("1970-01-02T00:00:00Z")) == 86400
    with pytest.raises(ValueError, match="no timezone"):
        format_timestamp(datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="no timezone offset"):
        parse_timestamp("2025-06-01T12:00:00")


def test_backoff_doubles_up_to_its_cap_and_jitters_below_it() -> None:
    pauses = [backoff_seconds(n, base_seconds=0.5, cap_seconds=3.0) for n in range(1, 6)]
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_seconds(3, base_seconds=0.5, cap_seconds=3.0, jitter=lambda: 0.25) == 0.5
    with pytest.raises(ValueError, match="counts from 1"):
        backoff_seconds(0, base_seconds=1, cap_seconds=1)
