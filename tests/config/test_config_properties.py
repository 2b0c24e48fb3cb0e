"""Property-based tests of the config loader (hypothesis): whatever the text, `parse_config`
either returns a model that holds exactly what was written, or raises ConfigError (exit 2 in
`dsdash validate`). Nothing else escapes, and nothing hangs.

Example counts are bounded and deadlines generous, so the suite stays fast on 2 shared cores.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from config.loader import ConfigError, parse_config
from config.model import DsdashConfig

EXAMPLE = (Path(__file__).resolve().parents[2] / "config" / "projects.yaml").read_text(
    encoding="utf-8"
)
BOUNDED = settings(
    max_examples=60,
    deadline=timedelta(seconds=20),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _load_or_refuse(text: str) -> DsdashConfig | None:
    try:
        return parse_config(text, source="generated.yaml")
    except ConfigError as error:
        # A refusal always says where: file:line:col, at least one problem.
        assert error.problems
        assert all(problem.file == "generated.yaml" for problem in error.problems)
        assert all(problem.line >= 1 and problem.column >= 1 for problem in error.problems)
        return None


@BOUNDED
@given(st.text(max_size=400))
def test_any_text_is_loaded_or_refused_with_a_located_problem(text: str) -> None:
    _load_or_refuse(text)


_HOSTILE_FRAGMENTS = st.sampled_from(
    [
        "\x00",
        "\t",
        "\r",
        "\x1b",
        "\ufeff",
        "\u2028",
        "\ud800",
        "\x85",
        "\n",
        ": ",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "<<: ",
        "!!int ",
        "!!binary ",
        "%YAML 1.1\n---\n",
        "'",
        '"',
        "#",
        "0o",
        "0x",
        "_",
        ".5",
        "e9",
        "~",
        "?",
        "|",
        ">",
        "@",
        "`",
    ]
)


@BOUNDED
@given(
    position=st.integers(min_value=0, max_value=len(EXAMPLE)),
    fragment=st.one_of(_HOSTILE_FRAGMENTS, st.text(max_size=12)),
    cut=st.integers(min_value=0, max_value=40),
)
def test_the_example_with_any_edit_is_loaded_or_refused(
    position: int, fragment: str, cut: int
) -> None:
    _load_or_refuse(EXAMPLE[:position] + fragment + EXAMPLE[position + cut :])


# -- round trip --------------------------------------------------------------------------
# A valid config is generated, then at most one of its fields is replaced by a hostile value, so
# both outcomes occur: most examples load (and must hold exactly what was written), the others
# must be refused.

_PROJECT_NAME = st.from_regex(r"\A[a-z][a-z0-9-]{0,31}\Z")
_ENVIRONMENT_NAME = st.from_regex(r"\A[a-z][a-z0-9-]{0,19}\Z")
_ACCOUNT = st.from_regex(r"\A[0-9]{12}\Z")
_SCHEDULE = st.one_of(
    st.sampled_from(["rate(1 hour)", "rate(1 minute)", "cron(0 6 * * ? *)"]),
    st.builds(
        lambda amount, unit: f"rate({amount} {unit})",
        st.integers(2, 500),
        st.sampled_from(["minutes", "hours", "days"]),
    ),
)
_HOSTILE_VALUE = st.one_of(
    st.integers(-5, 5000),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.text(max_size=16),
    st.sampled_from(
        ["111111111111\n", "eu-west-1\n", "rate(1 hours)", "rate(5 minute)", "2.0", "0400"]
    ),
    st.lists(st.text(max_size=4), max_size=2),
)
_FIELDS = (
    ("hub", "name"),
    ("hub", "account_id"),
    ("hub", "region"),
    ("organization", "id"),
    ("organization", "management_account_id"),
    ("refresh", "schedule"),
    ("retention_days",),
    ("event_version",),
)


@st.composite
def _configs(draw: st.DrawFn) -> dict[str, Any]:
    environments = draw(st.lists(_ENVIRONMENT_NAME, min_size=1, max_size=3, unique=True))
    accounts = iter(draw(st.lists(_ACCOUNT, min_size=12, max_size=12, unique=True)))
    hub_account, management_account = next(accounts), next(accounts)
    projects: dict[str, Any] = {}
    for name in draw(st.lists(_PROJECT_NAME, min_size=1, max_size=3, unique=True)):
        project: dict[str, Any] = {}
        if draw(st.booleans()):
            project["accounts"] = {environments[0]: [next(accounts)]}
        projects[name] = project
    document: dict[str, Any] = {
        "hub": {"name": "CentralHub", "account_id": hub_account, "region": "eu-west-1"},
        "organization": {
            "id": "o-a1b2c3d4e5",
            "management_account_id": management_account,
            "regions": draw(
                st.lists(st.sampled_from(["eu-west-1", "us-east-1"]), min_size=1, unique=True)
            ),
        },
        "refresh": {"schedule": draw(_SCHEDULE)},
        "retention_days": draw(st.integers(1, 3650)),
        "event_version": draw(st.sampled_from([1, 2])),
        "defaults": {"environments": environments, "metrics": ["TotalCompletedTrainingJobs"]},
        "projects": projects,
    }
    hostile_field = draw(st.one_of(st.none(), st.sampled_from(_FIELDS)))
    if hostile_field is not None:
        section = document
        for key in hostile_field[:-1]:
            section = section[key]
        section[hostile_field[-1]] = draw(_HOSTILE_VALUE)
    return document


def _dump(document: dict[str, Any]) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.dump(document, stream)
    return stream.getvalue()


def _same(loaded: Any, written: Any) -> bool:
    return type(loaded) is type(written) and loaded == written


@BOUNDED
@given(_configs())
def test_a_written_config_is_refused_or_loaded_exactly_as_written(document: dict[str, Any]) -> None:
    config = _load_or_refuse(_dump(document))
    if config is None:
        return
    hub, organization = document["hub"], document["organization"]
    assert _same(config.hub.name, hub["name"])
    assert _same(config.hub.account_id, hub["account_id"])
    assert _same(config.hub.region, hub["region"])
    assert _same(config.organization.id, organization["id"])
    assert _same(config.organization.management_account_id, organization["management_account_id"])
    assert config.organization.regions == tuple(organization["regions"])
    assert _same(config.refresh_schedule, document["refresh"]["schedule"])
    assert _same(config.retention_days, document["retention_days"])
    assert _same(config.event_version, document["event_version"])
    for name, project in document["projects"].items():
        settings_ = config.project(name)
        expected = project.get("environments") or document["defaults"]["environments"]
        assert settings_.environments == tuple(expected)
        assert {env: list(ids) for env, ids in settings_.accounts.items()} == project.get(
            "accounts", {}
        )
        for value in (
            name,
            *expected,
            *(i for ids in project.get("accounts", {}).values() for i in ids),
        ):
            assert "\n" not in value and "\r" not in value
