from __future__ import annotations

from types import MappingProxyType
from typing import Any

from reconciler_support import HOME_REGION, Org

from enrollment.placement.stackset_names import stackset_name
from enrollment.placement.targeting import ProjectTargeting
from org_stack.reconciler.runtime.full_reconcile import reconcile
from org_stack.reconciler.runtime.stackset_operations import ReconcileReport
from sandbox import moto_stacksets


def run(org: Org, sleep: Any = None, **settings: Any) -> ReconcileReport:
    return reconcile(
        org.settings(**settings),
        organizations_client=org.organizations,
        cloudformation_client=org.cloudformation,
        sleep=sleep or (lambda seconds: None),
    )


def test_tagging_an_ou_deploys_to_its_whole_subtree_with_its_environment(org: Org) -> None:
    workloads = org.ou("Workloads")
    direct = org.account(workloads)
    child = org.ou("Team", workloads)
    in_child = org.account(child)
    grandchild = org.ou("Squad", child)
    in_grandchild = org.account(grandchild)
    outside = org.account(org.ou("Other"))
    org.tag(workloads, project="fraud", environment="prod")

    report = run(org)

    assert org.environments("fraud") == {direct: "prod", in_child: "prod", in_grandchild: "prod"}
    assert outside not in org.environments("fraud")
    assert org.environments("churn") == {}
    assert report.conflicts == []
    assert [c.organizational_unit_ids for c in report.created] == [(workloads,)]


def test_management_account_is_never_a_target(org: Org) -> None:
    org.tag(org.root_id, project="fraud", environment="dev")
    member = org.account(org.root_id)

    report = run(org)

    assert org.environments("fraud") == {member: "dev"}
    assert org.management_account_id in report.skipped_accounts


def test_retagging_a_child_ou_moves_only_its_accounts(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    stays = org.account(workloads)
    sandbox = org.ou("Sandbox", workloads)
    moves = org.account(sandbox)
    run(org)
    assert org.environments("fraud") == {stays: "prod", moves: "prod"}

    org.tag(sandbox, environment="dev")
    org.recorder.clear()
    report = run(org)

    assert org.environments("fraud") == {stays: "prod", moves: "dev"}
    # An environment change rewrites the override in place; nothing is torn down.
    assert [name for name, _ in org.recorder.writes()] == ["UpdateStackInstances"]
    assert report.updated[0].account_ids == (moves,)


def test_parent_and_retagged_child_tagged_together_get_one_environment_each(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    prod_accounts = {org.account(workloads), org.account(workloads)}
    sandbox = org.ou("Sandbox", workloads, environment="dev")
    dev_account = org.account(sandbox)

    run(org)

    assert org.environments("fraud") == {
        **{a: "prod" for a in prod_accounts},
        dev_account: "dev",
    }
    creates = [params for name, params in org.recorder.writes() if name == "CreateStackInstances"]
    parent_call = next(
        p for p in creates if p["DeploymentTargets"]["OrganizationalUnitIds"] == [workloads]
    )
    # The parent's target must not also reach the child's account.
    targets = parent_call["DeploymentTargets"]
    assert targets["AccountFilterType"] in {"DIFFERENCE", "INTERSECTION"}
    if targets["AccountFilterType"] == "DIFFERENCE":
        assert dev_account in targets["Accounts"]
    else:
        assert dev_account not in targets["Accounts"]
    assert parent_call["ParameterOverrides"] == [
        {"ParameterKey": "Environment", "ParameterValue": "prod"}
    ]
    assert parent_call["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"


def test_untagging_removes_the_instances_and_the_ou_target(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    org.account(workloads)
    org.account(org.ou("Team", workloads))
    run(org)
    assert len(org.environments("fraud")) == 2

    org.untag(workloads, "dsdash:project", "dsdash:environment")
    org.recorder.clear()
    report = run(org)

    assert org.environments("fraud") == {}
    ((name, params),) = org.recorder.writes()
    assert name == "DeleteStackInstances"
    assert params["RetainStacks"] is False
    # Filter NONE on the OU itself, so auto-deployment stops targeting it too.
    assert params["DeploymentTargets"] == {
        "OrganizationalUnitIds": [workloads],
        "AccountFilterType": "NONE",
    }
    assert report.deleted[0].project == "fraud"


def test_moving_an_account_between_projects_moves_its_instance(org: Org) -> None:
    fraud_ou = org.ou("Fraud", project="fraud", environment="dev")
    churn_ou = org.ou("Churn", project="churn", environment="prod")
    account = org.account(fraud_ou)
    keeper = org.account(fraud_ou)
    run(org)

    org.organizations.move_account(
        AccountId=account, SourceParentId=fraud_ou, DestinationParentId=churn_ou
    )
    run(org)

    assert org.environments("fraud") == {keeper: "dev"}
    assert org.environments("churn") == {account: "prod"}


def test_four_level_tree_resolves_by_the_nearest_tagged_ancestor(org: Org) -> None:
    level1 = org.ou("L1", project="fraud", environment="prod")
    level2 = org.ou("L2", level1, environment="dev")
    level3 = org.ou("L3", level2)
    level4 = org.ou("L4", level3, environment="int")
    accounts = {level: org.account(ou) for level, ou in enumerate([level1, level2, level3, level4])}

    run(org)

    assert org.environments("fraud") == {
        accounts[0]: "prod",
        accounts[1]: "dev",
        accounts[2]: "dev",  # untagged: inherits from L2
        accounts[3]: "int",
    }


def test_five_level_tree_resolves_each_key_separately(org: Org) -> None:
    level1 = org.ou("L1", project="fraud", environment="prod")
    level2 = org.ou("L2", level1)
    level3 = org.ou("L3", level2, environment="dev")
    level4 = org.ou("L4", level3, project="churn")  # keeps the inherited environment, dev
    level5 = org.ou("L5", level4, environment="prod")
    a2, a3, a4, a5 = (org.account(ou) for ou in (level2, level3, level4, level5))

    report = run(org)

    assert org.environments("fraud") == {a2: "prod", a3: "dev"}
    assert org.environments("churn") == {a4: "dev", a5: "prod"}
    assert report.conflicts == []


def test_each_kind_of_conflict_is_reported_and_never_guessed(org: Org) -> None:
    no_project = org.ou("NoProject", environment="dev")
    no_project_account = org.account(no_project)
    no_environment = org.ou("NoEnvironment", project="fraud")
    no_environment_account = org.account(no_environment)
    unknown_project = org.ou("Unknown", project="nope", environment="dev")
    unknown_project_account = org.account(unknown_project)
    unknown_environment = org.ou("QA", project="churn", environment="int")  # churn: dev, prod
    unknown_environment_account = org.account(unknown_environment)
    tagged = org.ou("Fraud", project="fraud", environment="prod")
    double = org.account(tagged)
    fine = org.account(tagged)
    projects = MappingProxyType(
        {
            "fraud": ProjectTargeting("fraud", ("dev", "int", "prod")),
            "churn": ProjectTargeting(
                "churn", ("dev", "prod"), MappingProxyType({"prod": (double,)})
            ),
        }
    )

    report = run(org, projects=projects)

    by_kind = {c.kind: c for c in report.conflicts}
    assert by_kind["environment_without_project"].account_ids == (no_project_account,)
    assert by_kind["environment_without_project"].organizational_unit_id == no_project
    assert by_kind["project_without_environment"].account_ids == (no_environment_account,)
    assert by_kind["unknown_project"].account_ids == (unknown_project_account,)
    assert by_kind["unknown_project"].project == "nope"
    assert by_kind["unknown_environment"].account_ids == (unknown_environment_account,)
    assert by_kind["multiple_assignments"].account_ids == (double,)
    assert "fraud/prod" in by_kind["multiple_assignments"].reason
    assert "churn/prod" in by_kind["multiple_assignments"].reason
    assert org.environments("fraud") == {fine: "prod"}
    assert org.environments("churn") == {}
    assert report.to_dict()["conflicts"][0]["kind"] in by_kind


def test_a_conflict_freezes_running_instances_instead_of_deleting_them(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    account = org.account(workloads)
    run(org)

    org.tag(workloads, environment="qa")  # not one of fraud's environments
    org.recorder.clear()
    report = run(org)

    assert [c.kind for c in report.conflicts] == ["unknown_environment"]
    assert org.recorder.writes() == []
    assert org.environments("fraud") == {account: "prod"}


def test_config_listed_account_is_deployed_through_its_parent_ou(org: Org) -> None:
    untagged = org.ou("Shared")
    listed = org.account(untagged)
    neighbour = org.account(untagged)
    projects = MappingProxyType(
        {"churn": ProjectTargeting("churn", ("dev", "prod"), MappingProxyType({"prod": (listed,)}))}
    )

    run(org, projects=projects)

    assert org.environments("churn") == {listed: "prod"}
    assert neighbour not in org.environments("churn")


def test_suspended_accounts_are_skipped_and_left_alone(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    active = org.account(workloads)
    closing = org.account(workloads)
    run(org)
    org.organizations.close_account(AccountId=closing)
    newcomer = org.account(workloads)
    org.recorder.clear()

    report = run(org)

    assert "SUSPENDED" in report.skipped_accounts[closing]
    # Deleting from a suspended account would fail; its instance is left for AWS to retire.
    assert org.environments("fraud") == {active: "prod", closing: "prod", newcomer: "prod"}
    assert org.recorder.writes()
    for _, params in org.recorder.writes():
        targets = params["DeploymentTargets"]
        if targets["AccountFilterType"] == "DIFFERENCE":
            assert closing in targets["Accounts"]
        else:
            assert targets["AccountFilterType"] == "INTERSECTION"
            assert closing not in targets["Accounts"]


def test_second_run_without_changes_makes_no_write_calls(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="prod")
    org.account(workloads)
    sandbox = org.ou("Sandbox", workloads, environment="dev")
    org.account(sandbox)
    org.account(org.ou("Deep", org.ou("Mid", sandbox)))
    org.account(org.ou("Churn", project="churn", environment="dev"))
    first = run(org, regions=(HOME_REGION, "us-east-1"))
    assert first.operations_started

    org.recorder.clear()
    second = run(org, regions=(HOME_REGION, "us-east-1"))

    assert org.recorder.writes() == []
    assert org.recorder.calls, "the second run must still read the StackSets"
    assert (second.created, second.updated, second.deleted) == ([], [], [])
    assert second.operations_started == []


def test_two_regions_each_get_the_environment(org: Org) -> None:
    workloads = org.ou("Workloads", project="fraud", environment="int")
    account = org.account(workloads)

    run(org, regions=(HOME_REGION, "us-east-1"))

    assert org.environments("fraud", HOME_REGION) == {account: "int"}
    assert org.environments("fraud", "us-east-1") == {account: "int"}


def test_more_than_fifty_ous_are_split_into_calls_of_fifty(org: Org) -> None:
    parent = org.ou("Many")
    accounts = {
        org.account(org.ou(f"Team{i}", parent, project="fraud", environment="dev"))
        for i in range(55)
    }

    run(org)

    creates = [p for n, p in org.recorder.writes() if n == "CreateStackInstances"]
    assert sorted(len(p["DeploymentTargets"]["OrganizationalUnitIds"]) for p in creates) == [5, 50]
    assert set(org.environments("fraud")) == accounts


def test_waits_for_a_running_operation_before_reconciling(org: Org) -> None:
    org.account(org.ou("Workloads", project="fraud", environment="dev"))
    running = moto_stacksets.start_running_operation(
        org.management_account_id, HOME_REGION, stackset_name("fraud")
    )
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            moto_stacksets.finish_operation(
                org.management_account_id, HOME_REGION, stackset_name("fraud"), running
            )

    report = run(org, sleep=sleep)

    assert sleeps == [10.0, 10.0]
    assert report.retry_later == []
    assert len(org.environments("fraud")) == 1


def test_operation_in_progress_on_a_write_is_waited_on_then_retried(org: Org) -> None:
    org.account(org.ou("Workloads", project="fraud", environment="dev"))
    started: list[str] = []

    def concurrent_actor(model: Any, **_: Any) -> None:
        # Another deploy starts an operation between our read and our write.
        if model.name == "CreateStackInstances" and not started:
            started.append(
                moto_stacksets.start_running_operation(
                    org.management_account_id, HOME_REGION, stackset_name("fraud")
                )
            )

    org.cloudformation.meta.events.register("before-call.cloudformation", concurrent_actor)

    def sleep(seconds: float) -> None:
        moto_stacksets.finish_operation(
            org.management_account_id, HOME_REGION, stackset_name("fraud"), started[0]
        )

    report = run(org, sleep=sleep)

    create_calls = [n for n, _ in org.recorder.writes() if n == "CreateStackInstances"]
    assert create_calls == ["CreateStackInstances", "CreateStackInstances"]
    assert report.failures == []
    assert len(org.environments("fraud")) == 1


def test_operation_still_running_after_the_wait_budget_means_retry_later(org: Org) -> None:
    org.account(org.ou("Workloads", project="fraud", environment="dev"))
    moto_stacksets.start_running_operation(
        org.management_account_id, HOME_REGION, stackset_name("fraud")
    )
    slept: list[float] = []

    report = run(org, sleep=slept.append, max_wait_seconds=25.0)

    assert sum(slept) == 25.0
    assert [r["project"] for r in report.retry_later] == ["fraud"]
    assert org.recorder.writes() == []
    assert org.environments("fraud") == {}


def test_a_project_ou_holding_only_environment_ous_is_the_normal_layout(org: Org) -> None:
    project_ou = org.ou("Fraud", project="fraud")
    dev = org.ou("Dev", parent=project_ou, environment="dev")
    account = org.account(dev)

    report = run(org)

    assert report.conflicts == []
    assert org.environments("fraud") == {account: "dev"}


def test_an_account_directly_in_a_project_ou_without_environment_is_a_conflict(org: Org) -> None:
    project_ou = org.ou("Fraud", project="fraud")
    org.ou("Dev", parent=project_ou, environment="dev")
    stray = org.account(project_ou)

    report = run(org)

    [conflict] = report.conflicts
    assert conflict.kind == "project_without_environment"
    assert conflict.account_ids == (stray,)
