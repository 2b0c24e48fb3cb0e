"""`dsdash enroll|offboard` run the enrollment Lambda's own functions with the operator's session.

The enrollment steps themselves are tested in tests/enrollment on a simulated organization; these
tests check what the console hands them (settings from the config, the operator's session) and
what it makes of their report and errors.
"""

from __future__ import annotations

import json

import pytest

import contracts
from dashboard.hub_connection import HubSession
from enrollment.runtime import enrollment
from enrollment.runtime.enrollment import EnrollmentReport
from enrollment.runtime.enrollment_errors import EnrollmentStepFailed, InvalidEnrollmentRequest

ACCOUNT = "123456789012"


@pytest.fixture
def enrollment_calls(monkeypatch):
    calls: list[tuple[str, tuple, dict]] = []

    def fake_enroll(*arguments, **keywords):
        calls.append(("enroll", arguments, keywords))
        account, project, environment, regions = arguments[:4]
        return EnrollmentReport(
            account_id=account,
            action="enroll",
            project=project,
            environment=environment,
            regions=tuple(regions),
            state="enrolled",
            reason="enrolled",
            steps=[{"step": "EBPut hub", "attempts": 1}, {"step": "EBRule hub", "attempts": 3}],
            parameters_written=[
                f"111111111111:/monitored_projects/{project}/{environment}/{account}"
            ],
        )

    def fake_offboard(*arguments, **keywords):
        calls.append(("offboard", arguments, keywords))
        return EnrollmentReport(
            account_id=arguments[0],
            action="offboard",
            regions=("eu-west-1",),
            state="offboarded",
            reason=arguments[3],
        )

    monkeypatch.setattr(enrollment, "enroll_account", fake_enroll)
    monkeypatch.setattr(enrollment, "offboard_account", fake_offboard)
    return calls


def test_enroll_uses_the_config_and_the_operators_session(empty_hub, enrollment_calls):
    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 0, result.output
    ((action, arguments, _),) = enrollment_calls
    account, project, environment, regions, settings, session, sleep = arguments
    assert (action, account, project, environment) == ("enroll", ACCOUNT, "fraud-detection", "dev")
    # From config/projects.yaml.
    assert regions == ("eu-west-1",)
    assert (settings.hub_account_id, settings.hub_region, settings.hub_name) == (
        "111111111111",
        "eu-west-1",
        "CentralHub",
    )
    assert settings.hub_table_name == contracts.HUB_TABLE_NAME
    assert set(settings.targeting.projects) == {"fraud-detection", "churn-prediction"}
    assert isinstance(session, HubSession)
    assert sleep == empty_hub.time.sleep
    assert (
        f"enroll account {ACCOUNT} as fraud-detection/dev in eu-west-1: enrolled" in result.stdout
    )
    assert "EBRule hub (3 attempts)" in result.stdout


def test_enroll_report_as_json(empty_hub, enrollment_calls):
    result = empty_hub.run(
        "enroll",
        "--account",
        ACCOUNT,
        "--project",
        "fraud-detection",
        "--environment",
        "dev",
        "--json",
    )

    report = json.loads(result.stdout)
    assert report["state"] == "enrolled"
    assert report["parameters_written"] == [
        f"111111111111:/monitored_projects/fraud-detection/dev/{ACCOUNT}"
    ]


def test_offboard_passes_reason_and_regions(empty_hub, enrollment_calls):
    result = empty_hub.run(
        "offboard", "--account", ACCOUNT, "--reason", "project ended", "--spoke-region", "eu-west-1"
    )

    assert result.exit_code == 0, result.output
    ((action, arguments, keywords),) = enrollment_calls
    assert action == "offboard"
    assert arguments[0] == ACCOUNT and arguments[3] == "project ended"
    assert keywords["regions"] == ["eu-west-1"]
    assert "offboarded (project ended)" in result.stdout


def test_a_failed_step_is_one_line_and_exit_1(empty_hub, monkeypatch):
    def failing(*_arguments, **_keywords):
        raise EnrollmentStepFailed(ACCOUNT, "EBPut hub", "AccessDeniedException", "denied")

    monkeypatch.setattr(enrollment, "enroll_account", failing)

    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "'EBPut hub' failed with AccessDeniedException" in result.stderr


def test_an_invalid_request_is_a_usage_error(empty_hub, monkeypatch):
    def refusing(*_arguments, **_keywords):
        raise InvalidEnrollmentRequest("not a configured project and environment")

    monkeypatch.setattr(enrollment, "enroll_account", refusing)

    result = empty_hub.run("enroll", "--account", ACCOUNT, "--project", "x", "--environment", "y")

    assert result.exit_code == 2
    assert "not a configured project" in result.stderr
