"""Enrollment against a simulated organization (management, hub, 3 spokes) on moto.

Every account is reached through STS AssumeRole; the connection functions are real moto Lambda
functions whose handlers the sandbox's in-process runtime runs.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError
from enrollment_support import (
    ENVIRONMENT_TAG,
    HUB_NAME,
    PROJECT,
    PROJECT_TAG,
    REGION,
    SPOKE_TEMPLATE,
    SimulatedOrganization,
    load_event,
)

from contracts import (
    HUB_BUS_NAME,
    HUB_ENROLLMENT_ROLE_NAME,
    HUB_TABLE_NAME,
    ORG_RECONCILER_FUNCTION_NAME,
    SPOKE_BUS_NAME,
    spoke_enrollment_role_name,
)
from enrollment.connection.runtime.bus_policy import describe_bus, organization_statement
from enrollment.enrollment_function.runtime.enroll_offboard import offboard_account
from enrollment.enrollment_function.runtime.enrollment_errors import EnrollmentStepFailed
from enrollment.enrollment_function.runtime.handler import handler
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting
from org_stack.reconciler.runtime.handler import handler as reconciler_handler
from runtime_common.settings import environment_of


def enroll(org: SimulatedOrganization, account_id: str) -> dict[str, Any]:
    return handler(
        org.stack_instance_event(account_id), None, session=org.management, sleep=org.sleeps.append
    )


def hub_bus_arn(org: SimulatedOrganization) -> str:
    return f"arn:aws:events:{REGION}:{org.hub_account_id}:event-bus/{HUB_BUS_NAME}"


def spoke_bus_arn(account_id: str) -> str:
    return f"arn:aws:events:{REGION}:{account_id}:event-bus/{SPOKE_BUS_NAME}"


def admits(org: SimulatedOrganization, account_id: str) -> bool:
    """Whether the hub bus policy lets `account_id` PutEvents, in either policy mode."""
    for statement in org.bus(org.hub, HUB_BUS_NAME)["Statements"]:
        condition = statement.get("Condition", {}).get("StringEquals", {})
        if statement["Principal"] == "*" and condition == {
            "aws:PrincipalOrgID": org.organization_id
        }:
            return True
        if statement["Principal"] == {"AWS": f"arn:aws:iam::{account_id}:root"}:
            return True
    return False


def forwards_to_hub(org: SimulatedOrganization, account_id: str) -> bool:
    rules = org.bus(org.session(account_id), SPOKE_BUS_NAME)["Rules"]
    return any(
        target["Arn"] == hub_bus_arn(org) and target.get("RoleArn")
        for rule in rules.values()
        for target in rule["Targets"]
    )


def fanned_out_to(org: SimulatedOrganization) -> set[str]:
    return {target["Arn"] for target in org.hub_targets()}


def test_stack_instance_event_connects_the_spoke_both_ways(
    any_mode_org: SimulatedOrganization,
) -> None:
    org = any_mode_org
    spoke, other, _ = org.spokes

    report = enroll(org, spoke)

    assert report["state"] == "enrolled"
    spoke_parameters = org.parameters(org.session(spoke), "/monitors")
    assert spoke_parameters[f"/monitors/{HUB_NAME}"]["Value"] == org.hub_account_id
    assert spoke_parameters[f"/monitors/{HUB_NAME}"]["Type"] == "String"
    hub_parameters = org.parameters(org.hub, "/monitored_projects")
    assert hub_parameters == {
        f"/monitored_projects/{PROJECT}/dev/{spoke}": {
            "Value": spoke,
            "Type": "String",
            "Version": 1,
        }
    }
    assert admits(org, spoke)
    statements = org.bus(org.hub, HUB_BUS_NAME)["Statements"]
    if org.bus_policy_mode == "per-account":
        assert [s["Sid"] for s in statements] == [f"dsdash-account-{spoke}"]
        assert not admits(org, other), "per-account mode admits only enrolled spokes"
    else:
        assert [s["Sid"] for s in statements] == ["dsdash-organization"]
    assert forwards_to_hub(org, spoke)
    assert fanned_out_to(org) == {spoke_bus_arn(spoke)}
    assert all(target.get("RoleArn") for target in org.hub_targets())
    registry = org.registry()
    assert {account: item["State"] for account, item in registry.items()} == {spoke: "enrolled"}
    assert (registry[spoke]["ProjectName"], registry[spoke]["Environment"]) == (PROJECT, "dev")
    # The other spokes are untouched.
    assert org.parameters(org.session(other), "/monitors") == {}
    assert not forwards_to_hub(org, other)


def test_environment_comes_from_the_instance_override(org: SimulatedOrganization) -> None:
    prod_spoke = next(a for a, env in org.spokes.items() if env == "prod")
    enroll(org, prod_spoke)
    assert f"/monitored_projects/{PROJECT}/prod/{prod_spoke}" in org.parameters(
        org.hub, "/monitored_projects"
    )
    assert org.registry()[prod_spoke]["Environment"] == "prod"


def test_replaying_the_event_changes_nothing(any_mode_org: SimulatedOrganization) -> None:
    org = any_mode_org
    first, second, _ = org.spokes
    enroll(org, first)
    enroll(org, second)
    before = org.full_state()

    replay = enroll(org, first)

    assert org.full_state() == before
    assert not any(report["changed"] for report in replay["connection_reports"].values())
    assert replay["parameters_written"] == []
    assert "record pending" not in [step["step"] for step in replay["steps"]], (
        "a replay must not make an enrolled spoke pending (ingest would reject its events)"
    )


def test_offboarding_removes_exactly_that_spokes_wiring_and_keeps_history(
    any_mode_org: SimulatedOrganization,
) -> None:
    org = any_mode_org
    leaving, staying, other = org.spokes
    for account in org.spokes:
        enroll(org, account)
    history_item = {
        "PK": f"SERIES#{PROJECT}#dev#TrainingJobsInProgress#-",
        "SK": f"2024-05-01T00:00:00.000Z#{leaving}",
        "MetricValue": Decimal(3),
        "AccountId": leaving,
    }
    org.hub.resource("dynamodb").Table(HUB_TABLE_NAME).put_item(Item=history_item)

    report = offboard_account(leaving, org.settings(), org.management, "left the project")

    assert report.state == "offboarded"
    hub_parameters = org.parameters(org.hub, "/monitored_projects")
    assert not any(name.endswith(leaving) for name in hub_parameters)
    assert {value["Value"] for value in hub_parameters.values()} == {staying, other}
    assert org.parameters(org.session(leaving), "/monitors") == {}
    assert org.parameters(org.session(staying), "/monitors") != {}
    assert not forwards_to_hub(org, leaving)
    assert forwards_to_hub(org, staying) and forwards_to_hub(org, other)
    assert fanned_out_to(org) == {spoke_bus_arn(staying), spoke_bus_arn(other)}
    if org.bus_policy_mode == "per-account":
        sids = {s["Sid"] for s in org.bus(org.hub, HUB_BUS_NAME)["Statements"]}
        assert sids == {f"dsdash-account-{staying}", f"dsdash-account-{other}"}
    states = {account: item["State"] for account, item in org.registry().items()}
    assert states == {leaving: "offboarded", staying: "enrolled", other: "enrolled"}
    assert org.registry()[leaving]["Reason"] == "left the project"
    kept = (
        org.hub.resource("dynamodb")
        .Table(HUB_TABLE_NAME)
        .get_item(Key={"PK": history_item["PK"], "SK": history_item["SK"]})
    )
    assert kept["Item"] == history_item, "metric history stays after offboarding"


def test_delete_event_cleans_the_hub_even_when_the_spoke_is_gone_and_stale_replays_converge(
    org: SimulatedOrganization,
) -> None:
    leaving, staying, _ = org.spokes
    enroll(org, leaving)
    enroll(org, staying)
    create_event = org.stack_instance_event(leaving)
    org.delete_stack_instance(leaving)
    org.remove_spoke_stack(leaving)

    report = handler(
        org.stack_instance_event(leaving, "DELETE"),
        None,
        session=org.management,
        sleep=org.sleeps.append,
    )

    assert report["state"] == "offboarded"
    assert any("spoke side in eu-west-1 skipped" in note for note in report["notes"])
    assert not any(
        name.endswith(leaving) for name in org.parameters(org.hub, "/monitored_projects")
    )
    assert fanned_out_to(org) == {spoke_bus_arn(staying)}
    assert org.registry()[leaving]["State"] == "offboarded"
    assert "unreachable" in org.registry()[leaving]["Reason"]
    after_delete = org.full_state()

    # The CREATE event arrives again (late or replayed) after the instance was deleted.
    stale = handler(create_event, None, session=org.management, sleep=org.sleeps.append)

    assert stale["action"] == "ignored"
    assert org.full_state() == after_delete


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


@pytest.mark.parametrize(
    "event_file", ["org_CreateAccountResult.json", "controltower_CreateManagedAccount.json"]
)
def test_new_account_in_a_tagged_ou_is_pending_and_a_reconcile_creates_its_instance(
    org: SimulatedOrganization, event_file: str
) -> None:
    new_account = org.create_account("newcomer", org.ou_ids["prod"])
    event = copy.deepcopy(load_event(event_file))
    details = event["detail"]["serviceEventDetails"]
    if "createAccountStatus" in details:
        details["createAccountStatus"]["accountId"] = new_account
    else:
        details["createManagedAccountStatus"]["account"]["accountId"] = new_account
        details["createManagedAccountStatus"]["organizationalUnit"]["organizationalUnitId"] = (
            org.ou_ids["prod"]
        )

    report = handler(event, None, session=org.management, sleep=org.sleeps.append)

    if event_file == "controltower_CreateManagedAccount.json":
        # The reconciler has no rule for Control Tower's event: enrollment records the account
        # and starts a reconcile of it.
        assert report["state"] == "pending"
        item = org.registry()[new_account]
        assert (item["State"], item["ProjectName"], item["Environment"]) == (
            "pending",
            PROJECT,
            "prod",
        )
        assert org.runtime.pending == 1, "the reconcile is started asynchronously"
        org.runtime.drain()
        [run] = org.runtime.history
        assert run.function_arn.endswith(f":function:{ORG_RECONCILER_FUNCTION_NAME}")
        assert run.succeeded, run.error
    else:
        # CreateAccountResult also reaches the reconciler through its own rule: enrollment only
        # checks that the account is no spoke yet (two calls) and leaves it to the reconciler,
        # which reconciles this one account.
        assert report["action"] == "ignored"
        assert new_account not in org.registry()
        assert org.runtime.pending == 0
        reconciled = reconciler_handler(event, None, session=org.management, sleep=lambda _: None)
        assert [change["account_ids"] for change in reconciled["created"]] == [[new_account]]
    instances = org.cloudformation.list_stack_instances(StackSetName=stackset_name(PROJECT))
    assert new_account in {summary["Account"] for summary in instances["Summaries"]}

    # Its StackInstance event then enrolls it.
    org.deploy_spoke_stack(new_account)
    org.spokes[new_account] = "prod"
    assert enroll(org, new_account)["state"] == "enrolled"
    # A late replay of the creation event does not make the enrolled spoke pending again.
    handler(event, None, session=org.management, sleep=org.sleeps.append)
    assert org.registry()[new_account]["State"] == "enrolled"


def test_new_account_outside_tagged_ous_is_not_registered(org: SimulatedOrganization) -> None:
    loner = org.create_account("loner", org.root_id)
    event = copy.deepcopy(load_event("org_CreateAccountResult.json"))
    event["detail"]["serviceEventDetails"]["createAccountStatus"]["accountId"] = loner

    report = handler(event, None, session=org.management, sleep=org.sleeps.append)

    assert report["action"] == "ignored"
    assert loner not in org.registry()
    # The reconciler's own rule receives CreateAccountResult; enrollment starts no second one.
    assert org.runtime.pending == 0


def test_move_out_of_every_tagged_ou_offboards_and_close_account_offboards(
    org: SimulatedOrganization,
) -> None:
    moved, closed, staying = org.spokes
    for account in org.spokes:
        enroll(org, account)

    org.move_account(moved, org.root_id)
    move = copy.deepcopy(load_event("org_MoveAccount.json"))
    move["detail"]["requestParameters"].update(
        accountId=moved, sourceParentId=org.ou_ids["dev"], destinationParentId=org.root_id
    )
    assert handler(move, None, session=org.management, sleep=org.sleeps.append)["state"] == (
        "offboarded"
    )

    close = copy.deepcopy(load_event("org_CloseAccount.json"))
    close["detail"]["requestParameters"]["accountId"] = closed
    assert handler(close, None, session=org.management, sleep=org.sleeps.append)["state"] == (
        "offboarded"
    )
    after = org.full_state()
    assert {a: i["State"] for a, i in after["registry"].items()} == {
        moved: "offboarded",
        closed: "offboarded",
        staying: "enrolled",
    }
    assert fanned_out_to(org) == {spoke_bus_arn(staying)}

    # Replaying both, in the other order, changes nothing.
    handler(close, None, session=org.management, sleep=org.sleeps.append)
    handler(move, None, session=org.management, sleep=org.sleeps.append)
    assert org.full_state() == after


def test_a_spoke_moved_to_another_project_has_its_previous_instance_reconciled_away(
    org: SimulatedOrganization, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = next(iter(org.spokes))
    enroll(org, moved)
    org.cloudformation.create_stack_set(
        StackSetName=stackset_name("churn"),
        TemplateBody=SPOKE_TEMPLATE,
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Parameters=[{"ParameterKey": "Environment", "ParameterValue": "unassigned"}],
    )
    organizations = org.management.client("organizations", region_name="us-east-1")
    churn_dev = organizations.create_organizational_unit(ParentId=org.root_id, Name="churn-dev")[
        "OrganizationalUnit"
    ]["Id"]
    organizations.tag_resource(
        ResourceId=churn_dev,
        Tags=[{"Key": PROJECT_TAG, "Value": "churn"}, {"Key": ENVIRONMENT_TAG, "Value": "dev"}],
    )
    targeting = replace(
        org.targeting(),
        projects=MappingProxyType(
            {
                PROJECT: ProjectTargeting(PROJECT, ("dev", "prod")),
                "churn": ProjectTargeting("churn", ("dev",)),
            }
        ),
    )
    for name, value in environment_of(targeting).items():
        monkeypatch.setenv(name, value)
    org.management.client("lambda").update_function_configuration(
        FunctionName=ORG_RECONCILER_FUNCTION_NAME,
        Environment={"Variables": environment_of(targeting)},
    )
    org.move_account(moved, churn_dev)
    move = copy.deepcopy(load_event("org_MoveAccount.json"))
    move["detail"]["requestParameters"].update(
        accountId=moved, sourceParentId=org.ou_ids["dev"], destinationParentId=churn_dev
    )

    report = handler(move, None, session=org.management, sleep=org.sleeps.append)

    assert (report["state"], report["project"]) == ("pending", "churn")
    # The registry names the previous project; the reconcile it requests reads that StackSet.
    assert org.runtime.pending == 1
    org.runtime.drain()
    assert all(run.succeeded for run in org.runtime.history), org.runtime.history
    left = org.cloudformation.list_stack_instances(StackSetName=stackset_name(PROJECT))
    assert moved not in {summary["Account"] for summary in left["Summaries"]}
    placed = org.cloudformation.list_stack_instances(StackSetName=stackset_name("churn"))
    assert moved in {summary["Account"] for summary in placed["Summaries"]}


def test_an_operator_request_enrolls_and_offboards_through_the_same_steps(
    org: SimulatedOrganization,
) -> None:
    # `dsdash enroll` invokes the function with this payload: the function's own role does the
    # work, so the narrow roles never need to trust an operator.
    spoke = next(iter(org.spokes))
    report = handler(
        {"dsdash": "enroll", "account_id": spoke, "project": PROJECT, "environment": "dev"},
        None,
        session=org.management,
        sleep=org.sleeps.append,
    )

    assert report["state"] == "enrolled"
    assert report["trigger"]["Kind"] == "OperatorRequest"
    assert admits(org, spoke)
    assert forwards_to_hub(org, spoke)
    assert fanned_out_to(org) == {spoke_bus_arn(spoke)}
    assert org.registry()[spoke]["State"] == "enrolled"

    report = handler(
        {"dsdash": "offboard", "account_id": spoke, "reason": "project ended"},
        None,
        session=org.management,
        sleep=org.sleeps.append,
    )

    assert report["state"] == "offboarded"
    assert org.registry()[spoke]["State"] == "offboarded"
    assert "project ended" in org.registry()[spoke]["Reason"]
    assert fanned_out_to(org) == set()


@pytest.mark.parametrize(
    "payload",
    [
        {"dsdash": "delete-everything", "account_id": "123456789012"},
        {"dsdash": "enroll", "account_id": "123456789012", "project": PROJECT},
        {"dsdash": "offboard"},
    ],
)
def test_a_malformed_operator_request_is_refused(
    org: SimulatedOrganization, payload: dict[str, Any]
) -> None:
    from enrollment.enrollment_function.runtime.enrollment_errors import MalformedLifecycleEvent

    with pytest.raises(MalformedLifecycleEvent):
        handler(payload, None, session=org.management, sleep=org.sleeps.append)
    assert org.registry() == {}


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
