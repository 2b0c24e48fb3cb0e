"""`dsdash enroll|offboard` ask the management account's enrollment function to act.

The function here is a stand-in run by the sandbox's Lambda runtime (see
operator_enrollment_handlers.py), so these tests check the request the console sends, where it
sends it, and what it makes of the report and of errors. The real function's handling of these
requests, on a simulated organization, is tested in tests/enrollment.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import operator_enrollment_handlers
import pytest

import contracts
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke

ACCOUNT = "123456789012"
ORG_REGION = "eu-west-1"  # organization.regions[0] in config/projects.yaml


def _deploy_enrollment_function(handler: str) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("stand_in.py", "# the runtime runs the installed source\n")
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName=contracts.ENROLLMENT_FUNCTION_ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    boto3.client("lambda", region_name=ORG_REGION).create_function(
        FunctionName=contracts.ORG_ENROLLMENT_FUNCTION_NAME,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": archive.getvalue()},
    )


@pytest.fixture
def enrollment_function(empty_hub) -> Iterator[type[operator_enrollment_handlers]]:  # type: ignore[no-untyped-def]
    operator_enrollment_handlers.REQUESTS.clear()
    runtime = LambdaRuntime(allowed_handler_prefixes=("operator_enrollment_handlers.",))
    with patched_lambda_invoke(runtime):
        yield operator_enrollment_handlers


def test_enroll_asks_the_enrollment_function_and_prints_its_report(empty_hub, enrollment_function):
    _deploy_enrollment_function("operator_enrollment_handlers.report")

    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 0, result.output
    assert enrollment_function.REQUESTS == [
        {
            "dsdash": "enroll",
            "account_id": ACCOUNT,
            "project": "fraud-detection",
            "environment": "dev",
            "regions": [],
        }
    ]
    assert (
        f"enroll account {ACCOUNT} as fraud-detection/dev in eu-west-1: enrolled" in result.stdout
    )
    assert "EBRule hub (3 attempts)" in result.stdout


def test_enroll_report_as_json(empty_hub, enrollment_function):
    _deploy_enrollment_function("operator_enrollment_handlers.report")

    result = empty_hub.run(
        "enroll",
        "--account",
        ACCOUNT,
        "--project",
        "fraud-detection",
        "--environment",
        "dev",
        "--spoke-region",
        "eu-west-1",
        "--json",
    )

    report = json.loads(result.stdout)
    assert report["state"] == "enrolled"
    assert report["parameters_written"] == [
        f"111111111111:/monitored_projects/fraud-detection/dev/{ACCOUNT}"
    ]
    assert enrollment_function.REQUESTS[0]["regions"] == ["eu-west-1"]


def test_offboard_passes_reason_and_regions(empty_hub, enrollment_function):
    _deploy_enrollment_function("operator_enrollment_handlers.report")

    result = empty_hub.run(
        "offboard", "--account", ACCOUNT, "--reason", "project ended", "--spoke-region", "eu-west-1"
    )

    assert result.exit_code == 0, result.output
    assert enrollment_function.REQUESTS == [
        {
            "dsdash": "offboard",
            "account_id": ACCOUNT,
            "reason": "project ended",
            "regions": ["eu-west-1"],
        }
    ]
    assert "offboarded (project ended)" in result.stdout


def test_a_failed_step_is_one_line_and_exit_1(empty_hub, enrollment_function):
    _deploy_enrollment_function("operator_enrollment_handlers.failing_step")

    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "EnrollmentStepFailed" in result.stderr
    assert "'EBPut hub' failed with AccessDeniedException" in result.stderr


def test_an_invalid_request_is_a_usage_error(empty_hub, enrollment_function):
    _deploy_enrollment_function("operator_enrollment_handlers.refusing")

    # Names the config knows (unknown ones are refused before the function is asked), refused
    # by the function all the same.
    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 2
    assert "names a project and an environment" in result.stderr


def test_a_missing_enrollment_function_says_which_credentials_and_region_to_use(
    empty_hub, enrollment_function
):
    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert contracts.ORG_ENROLLMENT_FUNCTION_NAME in result.stderr
    assert "management account" in result.stderr
    assert enrollment_function.REQUESTS == []


def _throttle_first_invokes(monkeypatch: pytest.MonkeyPatch, times: int) -> list[str]:
    """The enrollment function runs one enrollment at a time: Lambda throttles the rest."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    throttled: list[str] = []

    def make_api_call(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        if operation_name == "Invoke" and len(throttled) < times:
            throttled.append(api_params["FunctionName"])
            raise self.exceptions.TooManyRequestsException(
                {"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}},
                operation_name,
            )
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    return throttled


def test_a_busy_enrollment_function_is_waited_for(empty_hub, enrollment_function, monkeypatch):
    _deploy_enrollment_function("operator_enrollment_handlers.report")
    throttled = _throttle_first_invokes(monkeypatch, times=2)

    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 0, result.output
    assert throttled == [contracts.ORG_ENROLLMENT_FUNCTION_NAME] * 2
    assert empty_hub.time.sleeps == [5.0, 10.0]
    assert len(enrollment_function.REQUESTS) == 1


def test_an_enrollment_function_that_stays_busy_is_one_line_and_exit_1(
    empty_hub, enrollment_function, monkeypatch
):
    _deploy_enrollment_function("operator_enrollment_handlers.report")
    _throttle_first_invokes(monkeypatch, times=100)

    result = empty_hub.run(
        "enroll", "--account", ACCOUNT, "--project", "fraud-detection", "--environment", "dev"
    )

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "busy" in result.stderr and "try again later" in result.stderr
    assert enrollment_function.REQUESTS == []
