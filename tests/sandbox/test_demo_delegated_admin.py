"""Delegated mode end to end (`organization.stackset_admin: delegated`, docs/architecture.md §7).

The same story runs twice on the sandbox, once per mode, with the same seed: the organization is
built and enrolled, a new account is created and moved into a tagged OU (Organizations'
CreateAccountResult and MoveAccount, and Control Tower's CreateManagedAccount sample from
tests/events), an OU is untagged, an account is closed (CloseAccount). In delegated mode the
management account holds only forwarding rules, so every lifecycle event must travel management
account -> the delegated administrator's lifecycle bus -> its functions, and StackSet instance
events must arrive where the StackSets are administered. The end states must be equal.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import events_backends

import contracts
from config.loader import load_config
from enrollment.placement.stackset_names import stackset_name
from hub_stack.spoke_registry.records import SpokeState
from sandbox.demo import Demo, set_up_demo
from sandbox.world import SandboxWorld

pytestmark = pytest.mark.slow

SEED = 13
SPOKES = 3
EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
LIFECYCLE_SAMPLES = {
    "CreateAccountResult": "org_CreateAccountResult.json",
    "MoveAccount": "org_MoveAccount.json",
    "CloseAccount": "org_CloseAccount.json",
    "CreateManagedAccount": "controltower_CreateManagedAccount.json",
}


def _sample(file_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))
    return loaded


@dataclass
class Story:
    demo: Demo
    # (function ARN, event) of every asynchronous invocation: what EventBridge delivered.
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    end_state: dict[str, Any] = field(default_factory=dict)
    new_account: str = ""
    closed_account: str = ""


def _record_deliveries(world: SandboxWorld, story: Story) -> None:
    invoke_async = world.runtime.invoke_async

    def recording(function: Any, payload: Any) -> None:
        if isinstance(payload, dict):
            story.deliveries.append((function.function_arn, copy.deepcopy(payload)))
        invoke_async(function, payload)

    world.runtime.invoke_async = recording  # type: ignore[method-assign]


def _announce_managed_account(demo: Demo, account_id: str, ou_id: str) -> None:
    """Control Tower's CreateManagedAccount (AWS's sample), emitted where Control Tower emits it:
    the management account's default bus (moto has no Control Tower)."""
    event = _sample(LIFECYCLE_SAMPLES["CreateManagedAccount"])
    status = event["detail"]["serviceEventDetails"]["createManagedAccountStatus"]
    status["account"]["accountId"] = account_id
    status["organizationalUnit"]["organizationalUnitId"] = ou_id
    backend = events_backends[demo.layout.management_account_id]["us-east-1"]
    [entry] = backend.put_events(
        [
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": "default",
            }
        ]
    )
    assert "EventId" in entry
    demo.world.settle()


def _stack_instance_accounts(demo: Demo) -> set[str]:
    cloudformation = demo.org_session().client("cloudformation")
    accounts = set()
    for project in demo.config.projects:
        paginator = cloudformation.get_paginator("list_stack_instances")
        for page in paginator.paginate(
            StackSetName=stackset_name(project), CallAs=demo.config.organization.call_as
        ):
            accounts |= {summary["Account"] for summary in page["Summaries"]}
    return accounts


def _end_state(demo: Demo) -> dict[str, Any]:
    """What a user sees, by account name (account ids are moto's random choice)."""
    names = {spoke.account_id: spoke.name for spoke in demo.layout.spokes}
    truth = {result.account_id: result for result in demo.compare_with_truth()}
    hub_parameters = (
        demo.hub_session()
        .client("ssm")
        .get_parameters_by_path(Path=contracts.MONITORED_PROJECTS_PREFIX, Recursive=True)[
            "Parameters"
        ]
    )
    return {
        "spokes": {
            names[account_id]: (
                result.project,
                result.environment,
                result.state,
                result.matching == result.expected and not result.mismatches,
            )
            for account_id, result in truth.items()
        },
        "hub_parameters": sorted(
            parameter["Name"].replace(parameter["Value"], names.get(parameter["Value"], "?"))
            for parameter in hub_parameters
        ),
        "stack_instances": sorted(names[a] for a in _stack_instance_accounts(demo)),
    }


def _run_story(world: SandboxWorld, mode: str, work_dir: Path) -> Story:
    story = Story(demo=None)  # type: ignore[arg-type]
    _record_deliveries(world, story)
    demo = set_up_demo(
        world,
        load_config(),
        spokes=SPOKES,
        work_dir=work_dir,
        progress=lambda _: None,
        stackset_admin=mode,  # type: ignore[arg-type]
    )
    story.demo = demo
    now = datetime.now(UTC)
    for spoke in demo.layout.spokes:
        demo.seed(spoke.account_id, SEED, now)

    project, environment = sorted(demo.config.projects)[-1], "prod"
    story.new_account = demo.add_account(project, environment)
    _announce_managed_account(
        demo, story.new_account, demo.layout.environment_ous[(project, environment)]
    )
    demo.seed(story.new_account, SEED, now)
    demo.refresh()  # every spoke, the new one included, reports once

    first = demo.layout.spokes[0]
    organizations = demo.management_session().client("organizations")
    organizations.untag_resource(
        ResourceId=demo.layout.environment_ous[(first.project, first.environment)],
        TagKeys=[
            demo.config.organization.project_tag_key,
            demo.config.organization.environment_tag_key,
        ],
    )
    demo.world.settle()
    story.closed_account = next(
        spoke.account_id
        for spoke in demo.layout.spokes
        if demo.store().registry.get_spoke(spoke.account_id).state == SpokeState.ENROLLED  # type: ignore[union-attr]
        and spoke.account_id != story.new_account
    )
    organizations.close_account(AccountId=story.closed_account)
    demo.world.settle()
    story.end_state = _end_state(demo)
    return story


@pytest.fixture(scope="module")
def management_story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    with SandboxWorld(seed=SEED) as world:
        story = _run_story(world, "management", tmp_path_factory.mktemp("management"))
        return story.end_state


@pytest.fixture(scope="module")
def delegated(
    management_story: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    # After the management-mode world is closed: one sandbox world at a time.
    with SandboxWorld(seed=SEED) as world:
        yield _run_story(world, "delegated", tmp_path_factory.mktemp("delegated"))


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def test_the_story_did_something_worth_comparing(delegated: Story) -> None:
    states = [state for _, _, state, _ in delegated.end_state["spokes"].values()]
    assert states.count(SpokeState.ENROLLED) >= 2
    assert states.count(SpokeState.OFFBOARDED) >= 2
    assert all(ok for *_, state, ok in delegated.end_state["spokes"].values())


def test_end_state_equals_management_modes(
    delegated: Story, management_story: dict[str, Any]
) -> None:
    assert delegated.end_state == management_story


def test_the_org_side_runs_in_the_delegated_admin_and_nothing_runs_in_management(
    delegated: Story,
) -> None:
    demo = delegated.demo
    management = demo.layout.management_account_id
    admin = demo.layout.delegated_admin_account_id
    assert admin is not None
    assert demo.org_account == admin != management
    invoked_accounts = {_account_of(arn) for arn, _ in delegated.deliveries}
    assert management not in invoked_accounts
    for region in {"us-east-1", demo.home_region}:
        session = demo.management_session(region)
        assert session.client("lambda").list_functions()["Functions"] == []
        assert session.client("cloudformation").list_stack_sets()["Summaries"] == []
    functions = demo.org_session().client("lambda").list_functions()["Functions"]
    assert {
        contracts.ORG_RECONCILER_FUNCTION_NAME,
        contracts.ORG_ENROLLMENT_FUNCTION_NAME,
    } <= {function["FunctionName"] for function in functions}


def test_lifecycle_samples_flow_from_management_to_the_delegated_admins_enrollment(
    delegated: Story,
) -> None:
    demo = delegated.demo
    admin = demo.layout.delegated_admin_account_id
    enrollment = [
        event
        for arn, event in delegated.deliveries
        if arn.endswith(f":function:{contracts.ORG_ENROLLMENT_FUNCTION_NAME}")
    ]
    assert enrollment and {
        _account_of(arn)
        for arn, _ in delegated.deliveries
        if arn.endswith(f":function:{contracts.ORG_ENROLLMENT_FUNCTION_NAME}")
    } == {admin}
    received = {
        event.get("detail", {}).get("eventName"): event
        for event in enrollment
        if event.get("source") in ("aws.organizations", "aws.controltower")
    }
    for event_name, file_name in LIFECYCLE_SAMPLES.items():
        sample = _sample(file_name)
        event = received.get(event_name)
        assert event is not None, f"{event_name} never reached the enrollment function"
        assert (event["source"], event["detail-type"]) == (sample["source"], sample["detail-type"])
        # Forwarded, not re-emitted: the sender (the management account) is kept.
        assert event["account"] == demo.layout.management_account_id
        # ... and so is the region it was put in (us-east-1, where these events are emitted):
        # EventBridge keeps an event's envelope across a cross-region rule target.
        assert event["region"] == "us-east-1"
    about = {
        "CreateAccountResult": received["CreateAccountResult"]["detail"]["serviceEventDetails"][
            "createAccountStatus"
        ]["accountId"],
        "MoveAccount": received["MoveAccount"]["detail"]["requestParameters"]["accountId"],
        "CreateManagedAccount": received["CreateManagedAccount"]["detail"]["serviceEventDetails"][
            "createManagedAccountStatus"
        ]["account"]["accountId"],
        "CloseAccount": received["CloseAccount"]["detail"]["requestParameters"]["accountId"],
    }
    assert about == {
        "CreateAccountResult": delegated.new_account,
        "MoveAccount": delegated.new_account,
        "CreateManagedAccount": delegated.new_account,
        "CloseAccount": delegated.closed_account,
    }


def test_ou_tag_events_reach_the_delegated_admins_reconciler(delegated: Story) -> None:
    admin = delegated.demo.layout.delegated_admin_account_id
    reconciler_events = [
        event
        for arn, event in delegated.deliveries
        if arn.endswith(f":function:{contracts.ORG_RECONCILER_FUNCTION_NAME}")
        and _account_of(arn) == admin
    ]
    assert "UntagResource" in {
        event.get("detail", {}).get("eventName") for event in reconciler_events
    }


def test_stack_instance_events_arrive_where_the_stacksets_are_administered(
    delegated: Story,
) -> None:
    demo = delegated.demo
    admin = demo.layout.delegated_admin_account_id
    instance_events = [
        (arn, event)
        for arn, event in delegated.deliveries
        if event.get("detail-type") == "CloudFormation StackSet StackInstance Status Change"
    ]
    actions = {event["detail"]["action"] for _, event in instance_events}
    assert {"CREATE", "DELETE"} <= actions
    for arn, event in instance_events:
        assert _account_of(arn) == admin
        assert event["account"] == admin
        assert event["region"] == demo.home_region
        assert _account_of(event["detail"]["stack-set-arn"]) == admin


def test_the_lifecycle_bus_admits_only_the_management_account(delegated: Story) -> None:
    demo = delegated.demo
    intruder = demo.layout.spokes[-1].account_id
    events = demo.world.session(intruder, "us-east-1").client("events")
    admin = demo.layout.delegated_admin_account_id
    lifecycle_bus = (
        f"arn:aws:events:{demo.home_region}:{admin}:event-bus/{contracts.ORG_LIFECYCLE_BUS_NAME}"
    )
    events.put_rule(Name="intruder", EventPattern=json.dumps({"source": ["dsdash.intruder"]}))
    events.put_targets(Rule="intruder", Targets=[{"Id": "bus", "Arn": lifecycle_bus}])
    dropped_before = len(demo.world.delivery.log.dropped)

    events.put_events(
        Entries=[{"Source": "dsdash.intruder", "DetailType": "probe", "Detail": "{}"}]
    )
    demo.world.settle()

    [dropped] = demo.world.delivery.log.dropped[dropped_before:]
    assert dropped.target_arn == lifecycle_bus
    assert f"does not admit account {intruder}" in dropped.reason
