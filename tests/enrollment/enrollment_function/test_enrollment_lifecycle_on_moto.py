"""Account lifecycle events and operator requests against a simulated organization on moto: new
accounts, moves between OUs and projects, closed accounts, `dsdash enroll|offboard` requests.

Every account is reached through STS AssumeRole; the connection functions are real moto Lambda
functions whose handlers the sandbox's in-process runtime runs.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from enrollment_checks import (
    admits,
    enroll,
    fanned_out_to,
    forwards_to_hub,
    spoke_bus_arn,
)
from enrollment_support import (
    ENVIRONMENT_TAG,
    PROJECT,
    PROJECT_TAG,
    SPOKE_TEMPLATE,
    SimulatedOrganization,
    load_event,
)

from contracts import (
    ORG_RECONCILER_FUNCTION_NAME,
)
from enrollment.enrollment_function.runtime.handler import handler
from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting
from org_stack.reconciler.runtime.handler import handler as reconciler_handler
from runtime_common.settings import environment_of


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
