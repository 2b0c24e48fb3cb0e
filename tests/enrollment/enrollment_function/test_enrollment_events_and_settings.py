"""Sample lifecycle events parse to the right account, OU or region, and state; settings and the
role guard refuse what they must."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from enrollment_support import load_event

from enrollment.enrollment_function.runtime.cross_account import assume_enrollment_role
from enrollment.enrollment_function.runtime.enrollment_errors import (
    EnrollmentSettingsError,
    ForbiddenRoleError,
    UnsupportedLifecycleEvent,
)
from enrollment.enrollment_function.runtime.handler import handler
from enrollment.enrollment_function.runtime.lifecycle_events import (
    ManagedAccountCreated,
    StackInstanceStatusChange,
)
from enrollment.enrollment_function.runtime.lifecycle_triggers import parse_lifecycle_event
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from enrollment.placement.organizations_events import OrganizationsChange
from runtime_common.settings import read_settings

# Expected values, read off the sample files by hand.
EXPECTED: dict[str, dict[str, Any]] = {
    "cfn_StackInstanceStatusChange_create_succeeded.json": {
        "account_id": "444455556666",
        "region": "eu-west-1",
        "action": "CREATE",
        "detailed_status": "SUCCEEDED",
        "project": "fraud-detection",
    },
    "cfn_StackInstanceStatusChange_delete_succeeded.json": {
        "account_id": "444455556666",
        "region": "eu-west-1",
        "action": "DELETE",
        "detailed_status": "SUCCEEDED",
        "project": "fraud-detection",
    },
    "controltower_CreateManagedAccount.json": {
        "account_id": "888899990000",
        "organizational_unit_id": "ou-a1b2-frauddev",
        "state": "SUCCEEDED",
    },
    "org_CreateAccountResult.json": {
        "account_id": "777788889999",
        "create_account_state": "SUCCEEDED",
    },
    "org_MoveAccount.json": {
        "account_id": "444455556666",
        "organizational_unit_id": "ou-a1b2-fraudprd",
        "source_parent_id": "r-a1b2",
    },
    "org_CloseAccount.json": {"account_id": "555566667777", "event_name": "CloseAccount"},
}


@pytest.mark.parametrize("file_name", sorted(EXPECTED))
def test_sample_event_parses_to_account_ou_or_region_and_state(file_name: str) -> None:
    parsed = parse_lifecycle_event(load_event(file_name))
    assert isinstance(
        parsed, StackInstanceStatusChange | ManagedAccountCreated | OrganizationsChange
    )
    for attribute, expected in EXPECTED[file_name].items():
        assert getattr(parsed, attribute) == expected, attribute


def test_stack_instance_event_names_its_stackset() -> None:
    parsed = parse_lifecycle_event(
        load_event("cfn_StackInstanceStatusChange_create_succeeded.json")
    )
    assert isinstance(parsed, StackInstanceStatusChange)
    assert parsed.stack_set_name == "dsdash-spoke-fraud-detection"
    assert parsed.stack_set_region == "eu-west-1"
    assert parsed.succeeded


@pytest.mark.parametrize(
    ("file_name", "named"),
    [
        ("org_TagResource.json", "TagResource"),
        ("org_UntagResource.json", "UntagResource"),
        ("hub_scheduled_event.json", "Scheduled Event"),
        ("hub_metric_event_v2.json", "metric_extractor"),
    ],
)
def test_other_event_types_are_refused_by_name(file_name: str, named: str) -> None:
    with pytest.raises(UnsupportedLifecycleEvent, match=named):
        handler(load_event(file_name), None)


def test_foreign_stackset_events_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    event = load_event("cfn_StackInstanceStatusChange_create_succeeded.json")
    arn = "arn:aws:cloudformation:eu-west-1:999999999999:stackset/someone-else:0c9b"
    event["detail"]["stack-set-arn"] = arn
    for name, value in {
        "HUB_ACCOUNT_ID": "111111111111",
        "HUB_REGION": "eu-west-1",
        "HUB_NAME": "central",
        "SPOKE_REGIONS": "eu-west-1",
        "MANAGEMENT_ACCOUNT_ID": "999999999999",
        "ORGANIZATION_REGIONS": "eu-west-1",
        "PROJECTS": '{"fraud-detection": {"environments": ["dev"]}}',
    }.items():
        monkeypatch.setenv(name, value)

    report = handler(event, None, session=boto3.Session(region_name="eu-west-1"))

    assert report["action"] == "ignored"
    assert "someone-else" in report["notes"][0]


def _environment(**changes: str | None) -> dict[str, str]:
    environment = {
        "HUB_ACCOUNT_ID": "111111111111",
        "HUB_REGION": "eu-west-1",
        "HUB_NAME": "central",
        "SPOKE_REGIONS": "eu-west-1, us-east-1",
        "MANAGEMENT_ACCOUNT_ID": "999999999999",
        "ORGANIZATION_REGIONS": "eu-west-1",
        "PROJECTS": '{"fraud": {"environments": ["dev"]}}',
    }
    for name, value in changes.items():
        if value is None:
            environment.pop(name)
        else:
            environment[name] = value
    return environment


def test_settings_from_environment() -> None:
    settings = read_settings(
        EnrollmentSettings, _environment(MAX_ATTEMPTS="7"), error=EnrollmentSettingsError
    )
    assert settings.spoke_regions == ("eu-west-1", "us-east-1")
    assert settings.hub_table_name == "dsdash-hub-metrics"
    assert settings.max_attempts == 7
    assert settings.targeting.projects["fraud"].environments == ("dev",)
    assert [settings.backoff_seconds(n) for n in (1, 2, 3, 10)] == [2.0, 4.0, 8.0, 60.0]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"HUB_NAME": None}, "HUB_NAME"),
        ({"HUB_ACCOUNT_ID": "12345"}, "HUB_ACCOUNT_ID"),
        ({"SPOKE_REGIONS": "eu-west-1,mars"}, "SPOKE_REGIONS"),
        ({"PROJECTS": None}, "PROJECTS"),
        ({"PROJECTS": '{"fraud": {"environments": "dev"}}'}, "PROJECTS"),
        ({"CALL_AS": "ROOT"}, "CALL_AS"),
        ({"MAX_ATTEMPTS": "many"}, "MAX_ATTEMPTS"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS"),
    ],
)
def test_settings_errors_name_the_variable(changes: dict[str, str | None], named: str) -> None:
    with pytest.raises(EnrollmentSettingsError, match=named):
        read_settings(EnrollmentSettings, _environment(**changes), error=EnrollmentSettingsError)


@pytest.mark.parametrize(
    "role_name",
    ["OrganizationAccountAccessRole", "AWSControlTowerExecution", "dsdash-spoke-enrollment-"],
)
def test_admin_roles_are_refused_before_any_call(role_name: str) -> None:
    with pytest.raises(ForbiddenRoleError, match=role_name):
        assume_enrollment_role(
            boto3.Session(region_name="eu-west-1"),
            f"arn:aws:iam::222222222222:role/{role_name}",
            region="eu-west-1",
            session_suffix="222222222222",
        )
