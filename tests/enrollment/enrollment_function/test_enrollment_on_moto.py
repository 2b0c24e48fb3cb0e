"""Enrollment and offboarding of a spoke against a simulated organization (management, hub, 3
spokes) on moto: the stack instance event connects it both ways, replays change nothing,
offboarding removes exactly its wiring.

Every account is reached through STS AssumeRole; the connection functions are real moto Lambda
functions whose handlers the sandbox's in-process runtime runs.
"""

from __future__ import annotations

from decimal import Decimal

from enrollment_checks import (
    admits,
    enroll,
    fanned_out_to,
    forwards_to_hub,
    spoke_bus_arn,
)
from enrollment_support import (
    HUB_NAME,
    PROJECT,
    SimulatedOrganization,
)

from contracts import (
    HUB_BUS_NAME,
    HUB_TABLE_NAME,
)
from enrollment.enrollment_function.runtime.enroll_offboard import offboard_account
from enrollment.enrollment_function.runtime.handler import handler


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
