"""The extractor's settings: a bad environment fails with a message naming the variable."""

from __future__ import annotations

import json

import pytest
from spoke_runtime_support import TestConstantMetric, TestSsmBackedMetric, read_extractor_settings

from spoke_stackset.extractor.runtime.extractor import (
    IdentityError,
    SettingsError,
    environment_settings,
    identity_from_lambda_context,
)

VALID = {
    "PROJECT_NAME": "churn",
    "ENVIRONMENT": "dev",
    "METRICS": json.dumps(
        [
            {"name": "TestConstantMetric", "args": {"value": 2}},
            {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/a"}},
        ]
    ),
    "SPOKE_BUS_NAME": "dsdash",
    "EVENT_VERSION": "1",
}


def test_valid_environment_builds_the_selected_metrics() -> None:
    settings = read_extractor_settings(VALID)

    assert (settings.project_name, settings.environment) == ("churn", "dev")
    assert (settings.spoke_bus_name, settings.event_version) == ("dsdash", 1)
    assert [type(metric) for metric in settings.metrics] == [
        TestConstantMetric,
        TestSsmBackedMetric,
    ]
    assert settings.metrics[0].args["value"] == 2


def test_event_version_defaults_to_2_and_bus_to_dsdash() -> None:
    environment = {key: VALID[key] for key in ("PROJECT_NAME", "ENVIRONMENT", "METRICS")}

    settings = read_extractor_settings(environment)

    assert (settings.event_version, settings.spoke_bus_name) == (2, "dsdash")


@pytest.mark.parametrize(
    ("overrides", "variable", "message"),
    [
        ({"METRICS": None}, "METRICS", "is not set"),
        ({"METRICS": "[{'name': 'x'}]"}, "METRICS", "is not JSON"),
        ({"METRICS": '{"name": "TestConstantMetric"}'}, "METRICS", "non-empty JSON list"),
        ({"METRICS": "[]"}, "METRICS", "non-empty JSON list"),
        ({"METRICS": '["TestConstantMetric"]'}, "METRICS", 'item #0: expected {"name"'),
        (
            {"METRICS": '[{"name": "TestConstantMetric", "arguments": {}}]'},
            "METRICS",
            "item #0: unexpected keys arguments",
        ),
        (
            {"METRICS": '[{"name": "TestConstantMetric"}, {"name": "TestConstantMetrc"}]'},
            "METRICS",
            "item #1: unknown metric 'TestConstantMetrc'",
        ),
        (
            {"METRICS": '[{"name": "TestConstantMetric", "args": {"value": "high"}}]'},
            "METRICS",
            "item #0: invalid arguments for metric TestConstantMetric: value: 'high'",
        ),
        (
            {"METRICS": '[{"name": "TestSsmBackedMetric"}]'},
            "METRICS",
            "'parameter_name' is a required property",
        ),
        (
            {"METRICS": '[{"name": "TestConstantMetric"}, {"name": "TestConstantMetric"}]'},
            "METRICS",
            "item #1: TestConstantMetric is selected twice",
        ),
        ({"PROJECT_NAME": None}, "PROJECT_NAME", "is not set"),
        ({"PROJECT_NAME": "Churn Model"}, "PROJECT_NAME", "'Churn Model' does not match"),
        ({"ENVIRONMENT": "dev/1"}, "ENVIRONMENT", "'dev/1' does not match"),
        ({"EVENT_VERSION": "3"}, "EVENT_VERSION", "'3' is not one of '1', '2'"),
    ],
)
def test_bad_environment_names_the_variable(
    overrides: dict[str, str | None], variable: str, message: str
) -> None:
    merged = {**VALID, **overrides}
    environment = {key: value for key, value in merged.items() if value is not None}

    with pytest.raises(SettingsError) as raised:
        read_extractor_settings(environment)

    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"environment variable {variable}: ")
    assert message in str(raised.value)


def test_two_selections_of_one_metric_with_different_arguments_are_allowed() -> None:
    environment = {
        **VALID,
        "METRICS": json.dumps(
            [
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/a"}},
                {"name": "TestSsmBackedMetric", "args": {"parameter_name": "/b"}},
            ]
        ),
    }

    settings = read_extractor_settings(environment)

    assert [metric.args["parameter_name"] for metric in settings.metrics] == ["/a", "/b"]


def test_identity_comes_from_the_function_arn_including_other_partitions() -> None:
    class Context:
        invoked_function_arn = "arn:aws-cn:lambda:cn-north-1:210987654321:function:f:live"

    identity = identity_from_lambda_context(Context())

    assert identity is not None
    assert (identity.account_id, identity.region) == ("210987654321", "cn-north-1")
    assert identity_from_lambda_context(None) is None


def test_an_unreadable_function_arn_is_an_error_not_a_guess() -> None:
    class Context:
        invoked_function_arn = "not-an-arn"

    with pytest.raises(IdentityError, match="not-an-arn"):
        identity_from_lambda_context(Context())


def test_the_handler_keeps_its_settings_until_the_environment_changes() -> None:
    """Read once per execution environment (building the metrics checks their arguments), but
    never stale: other values are read again, and a bad environment fails every time."""
    first = environment_settings(VALID)

    assert environment_settings(dict(VALID)) is first
    assert environment_settings({**VALID, "ENVIRONMENT": "prod"}).environment == "prod"
    for _ in range(2):
        with pytest.raises(SettingsError, match="environment variable METRICS"):
            environment_settings({**VALID, "METRICS": "[]"})
