"""Enrollment's retries and least privilege against a simulated organization on moto: a new
account's transient AccessDenied, exhausted retries, the scheduled sweep, the roles it assumes.

Every account is reached through STS AssumeRole; the connection functions are real moto Lambda
functions whose handlers the sandbox's in-process runtime runs.
"""

from __future__ import annotations

import copy
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError
from enrollment_checks import (
    enroll,
    forwards_to_hub,
)
from enrollment_support import (
    HUB_NAME,
    REGION,
    SimulatedOrganization,
    load_event,
)

from contracts import (
    HUB_ENROLLMENT_ROLE_NAME,
    spoke_enrollment_role_name,
)
from enrollment.enrollment_function.runtime.enroll_offboard import offboard_account
from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentStepFailed
from enrollment.enrollment_function.runtime.handler import handler


def test_transient_access_denied_on_a_new_account_is_retried_then_succeeds(
    org: SimulatedOrganization,
) -> None:
    spoke = next(iter(org.spokes))
    spoke_role = spoke_enrollment_role_name(REGION)
    refused: list[str] = []

    def deny_first_spoke_assume(params: dict[str, Any], **_: Any) -> None:
        if params["RoleArn"].endswith(f"/{spoke_role}") and not refused:
            refused.append(params["RoleArn"])
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "role not yet assumable"}},
                "AssumeRole",
            )

    org.management.events.register("provide-client-params.sts.AssumeRole", deny_first_spoke_assume)

    report = enroll(org, spoke)

    assert refused, "the hook did refuse the first attempt"
    assert report["state"] == "enrolled"
    attempts = {step["step"]: step["attempts"] for step in report["steps"]}
    assert attempts[f"assume spoke enrollment role in {REGION}"] == 2
    assert org.sleeps == [1.0]
    assert forwards_to_hub(org, spoke)


def test_exhausted_retries_record_the_failed_step_and_a_rerun_repairs(
    org: SimulatedOrganization,
) -> None:
    spoke = next(iter(org.spokes))
    original = botocore.client.BaseClient._make_api_call

    # The spoke's SSM client comes from a session built inside enrollment from assumed-role
    # credentials, so the denial is injected below every client, for /monitors/ writes only.
    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        name = str(api_params.get("Name", ""))
        if operation_name == "PutParameter" and name.startswith("/monitors/"):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not yet"}},
                operation_name,
            )
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        with pytest.raises(EnrollmentStepFailed) as failure:
            enroll(org, spoke)

    assert failure.value.step == f"write /monitors/{HUB_NAME} in {REGION}"
    assert failure.value.error_code == "AccessDeniedException"
    assert org.sleeps == [1.0, 2.0], "exponential backoff between the three attempts"
    item = org.registry()[spoke]
    assert item["State"] == "failed"
    assert f"write /monitors/{HUB_NAME} in {REGION}" in item["Reason"]
    assert "AccessDeniedException" in item["Reason"]

    repaired = enroll(org, spoke)
    assert repaired["state"] == "enrolled"
    assert org.registry()[spoke]["State"] == "enrolled"
    assert forwards_to_hub(org, spoke)


def test_only_the_narrow_enrollment_roles_are_ever_assumed(org: SimulatedOrganization) -> None:
    assumed: list[str] = []
    org.management.events.register(
        "provide-client-params.sts.AssumeRole",
        lambda params, **_: assumed.append(params["RoleArn"]),
    )
    leaving = next(iter(org.spokes))
    for account in org.spokes:
        enroll(org, account)
    offboard_account(leaving, org.settings(), org.management)
    org.move_account(leaving, org.root_id)
    move = copy.deepcopy(load_event("org_MoveAccount.json"))
    move["detail"]["requestParameters"].update(
        accountId=next(a for a in org.spokes if a != leaving), destinationParentId=org.root_id
    )
    handler(move, None, session=org.management, sleep=org.sleeps.append)

    allowed = {HUB_ENROLLMENT_ROLE_NAME, spoke_enrollment_role_name(REGION)}
    assert assumed, "enrollment did assume roles"
    assert {arn.rsplit("/", 1)[1] for arn in assumed} <= allowed
    assert {arn.split(":")[4] for arn in assumed if arn.endswith(HUB_ENROLLMENT_ROLE_NAME)} == {
        org.hub_account_id
    }


def test_the_scheduled_sweep_repairs_a_failed_enrollment_without_any_new_event(
    org: SimulatedOrganization,
) -> None:
    spoke = next(iter(org.spokes))
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "PutParameter" and str(api_params.get("Name", "")).startswith(
            "/monitors/"
        ):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not yet"}},
                operation_name,
            )
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        with pytest.raises(EnrollmentStepFailed):
            enroll(org, spoke)
    assert org.registry()[spoke]["State"] == "failed"

    result = handler({"dsdash": "sweep"}, None, session=org.management, sleep=org.sleeps.append)

    # The failed spoke, and the two whose instance event this test never delivered (a lost
    # event: a stack instance without a registry item), are enrolled by the sweep.
    swept = {r["account_id"]: r["state"] for r in result["swept"]}
    assert swept == dict.fromkeys(org.spokes, "enrolled")
    assert org.registry()[spoke]["State"] == "enrolled"
    assert forwards_to_hub(org, spoke)
    # Nothing left to finish: a second sweep does nothing.
    again = handler({"dsdash": "sweep"}, None, session=org.management, sleep=org.sleeps.append)
    assert again == {"swept": []}
