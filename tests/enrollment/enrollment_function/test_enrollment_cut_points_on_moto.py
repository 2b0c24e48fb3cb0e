"""Organization mode, cut after any enrollment step on a simulated organization on moto: a rerun
repairs it.

Every account is reached through STS AssumeRole; the connection functions are real moto Lambda
functions whose handlers the sandbox's in-process runtime runs.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError
from enrollment_checks import (
    admits,
    enroll,
    fanned_out_to,
    forwards_to_hub,
    spoke_bus_arn,
)
from enrollment_support import (
    PROJECT,
    SimulatedOrganization,
)

from contracts import (
    HUB_BUS_NAME,
)
from enrollment.connection.runtime.bus_policy import describe_bus, organization_statement
from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentStepFailed

# Where an organization-mode enrollment can be cut (docs/architecture.md §7): the operation that
# fails on every attempt, so the step records `failed` and raises.
ORGANIZATION_MODE_CUTS: dict[str, Any] = {
    "write hub parameter": lambda operation, params: (
        operation == "PutParameter"
        and str(params.get("Name", "")).startswith("/monitored_projects/")
    ),
    "delete stale hub parameters": lambda operation, params: operation == "DeleteParameters",
    "EBRule spoke": lambda operation, params: operation == "PutTargets",
    "record enrolled": lambda operation, params: (
        operation == "UpdateItem"
        and {"S": "enrolled"} in params.get("ExpressionAttributeValues", {}).values()
    ),
}


@pytest.mark.parametrize("cut", sorted(ORGANIZATION_MODE_CUTS))
def test_organization_mode_a_cut_after_any_step_is_repaired_by_a_rerun(
    org: SimulatedOrganization, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    # As the org stack sets it: the hub keeps nothing per spoke, its EBPut/EBRule are skipped.
    monkeypatch.setenv("HUB_BUS_POLICY", "organization")
    # ...because the hub stack itself writes the one organization statement.
    hub_events = org.hub.client("events")
    statement = organization_statement(describe_bus(hub_events, HUB_BUS_NAME), org.organization_id)
    hub_events.put_permission(
        EventBusName=HUB_BUS_NAME,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    spoke = next(iter(org.spokes))
    fails = ORGANIZATION_MODE_CUTS[cut]
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if fails(operation_name, api_params):
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "cut"}}, operation_name
            )
        return original(self, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
        with pytest.raises(EnrollmentStepFailed):
            enroll(org, spoke)
    assert org.registry()[spoke]["State"] == "failed"

    repaired = enroll(org, spoke)

    assert repaired["state"] == "enrolled"
    assert "EBPut hub" not in repaired["connection_reports"]
    assert org.registry()[spoke]["State"] == "enrolled"
    assert forwards_to_hub(org, spoke) and admits(org, spoke)
    hub_parameters = org.parameters(org.hub, "/monitored_projects/")
    assert f"/monitored_projects/{PROJECT}/{org.spokes[spoke]}/{spoke}" in hub_parameters
    assert spoke_bus_arn(spoke) not in fanned_out_to(org), "refreshes come from the hub topic"
    # Converged: a replay changes nothing.
    replay = enroll(org, spoke)
    assert not any(report["changed"] for report in replay["connection_reports"].values())
    assert replay["parameters_written"] == []
