"""The sandbox organization, end to end: one story told in order.

A 4-spoke organization in 2 projects (with a nested OU) is built once for this module, with the
real templates deployed and the real handlers running (`sandbox.demo`). The tests then act on it
the way an org admin and an operator would, in file order: check the first refresh against the
seeded truth, then a hostile spoke, a revoked grant, a new account, an untagged OU and a closed
account. Each test states the state it starts from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import history_file_readers
import pytest

import contracts
from config.loader import load_config
from dashboard.dashboard_data import build_dashboard_data
from hub_stack.history_query.duckdb_engine import DuckDbEngine, LocalHistorySource
from hub_stack.spoke_registry.records import SpokeState
from sandbox.alert_story import (
    approve_backlog,
    attach_subscriber,
    backlog_alert_target,
    receive_notifications,
    seed_backlog,
)
from sandbox.demo import Demo, set_up_demo
from sandbox.world import SandboxWorld

pytestmark = pytest.mark.slow

SEED = 11


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    work_dir = tmp_path_factory.mktemp("demo")
    with SandboxWorld(seed=SEED) as world:
        story = set_up_demo(
            world, load_config(), spokes=4, work_dir=Path(work_dir), progress=lambda _: None
        )
        now = datetime.now(UTC)
        for spoke in story.layout.spokes:
            story.seed(spoke.account_id, SEED, now)
        story.refresh()
        yield story


def _latest_by_account(demo: Demo) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], str]]:
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], str]] = {}
    for records in demo.store().latest_values_all().values():
        for record in records:
            key = (record.metric_name, tuple(sorted(record.dimensions.items())))
            values.setdefault(record.account_id, {})[key] = record.extraction_date
    return values


def _state(demo: Demo, account_id: str) -> str | None:
    record = demo.store().registry.get_spoke(account_id)
    return record.state if record else None


def test_the_organization_has_two_projects_and_a_nested_ou(demo: Demo) -> None:
    assert {spoke.project for spoke in demo.layout.spokes} == set(demo.config.projects)
    assert any(spoke.parent_ou_id == demo.layout.nested_ou_id for spoke in demo.layout.spokes)


def test_every_spoke_is_enrolled_and_reports_exactly_the_seeded_truth(demo: Demo) -> None:
    results = demo.compare_with_truth()
    assert len(results) == 4
    for result in results:
        assert result.state == SpokeState.ENROLLED, result
        assert result.expected > 0
        assert result.mismatches == [], result.mismatches
        assert result.matching == result.expected


def test_the_nested_ou_account_took_its_project_and_environment_from_the_tagged_ancestor(
    demo: Demo,
) -> None:
    [nested] = [s for s in demo.layout.spokes if s.parent_ou_id == demo.layout.nested_ou_id]
    record = demo.store().registry.get_spoke(nested.account_id)
    assert record is not None
    assert (record.project_name, record.environment) == demo.layout.nested_ou_assignment


def test_dashboard_data_lists_every_spoke_as_fresh(demo: Demo, tmp_path: Path) -> None:
    # The spokes come from the registry; history (read from an empty directory) is not the point.
    no_history = DuckDbEngine(LocalHistorySource(tmp_path))
    data = build_dashboard_data(demo.store(), demo.config, history_engine=no_history)
    listed = {spoke.account_id: spoke for spoke in data.spokes}
    assert set(listed) == {spoke.account_id for spoke in demo.layout.spokes}
    assert not [spoke.account_id for spoke in data.spokes if spoke.stale]


def _send_extraction_from(demo: Demo, account_id: str, detail: dict[str, Any]) -> None:
    """A metric event on the spoke's own bus, as its extractor sends it; then let it flow."""
    events = demo.world.session(account_id, demo.home_region).client("events")
    response = events.put_events(
        Entries=[
            {
                "Source": contracts.METRIC_EVENT_SOURCE,
                "DetailType": contracts.METRIC_EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail, default=_json_number),
                "EventBusName": contracts.SPOKE_BUS_NAME,
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    demo.world.settle()


def _json_number(value: object) -> int | float:
    # The hub stores numbers (values, metadata) as DynamoDB decimals.
    assert isinstance(value, Decimal), value
    return int(value) if value == value.to_integral_value() else float(value)


def _latest_extraction_of(demo: Demo, account_id: str, project: str) -> dict[str, Any]:
    """The spoke's last extraction, rebuilt from what the hub stored: a faithful replay."""
    records = [r for r in demo.store().latest_values(project) if r.account_id == account_id]
    newest = max(r.extraction_date for r in records)
    kept = [r for r in records if r.extraction_date == newest]
    return {
        "SchemaVersion": 2,
        "ProjectName": project,
        "Environment": kept[0].environment,
        "AccountId": account_id,
        "Region": kept[0].region,
        "ExtractionDate": newest,
        "Metrics": [
            {
                "MetricName": r.metric_name,
                "MetricValue": float(r.value),
                "Unit": r.unit,
                "Dimensions": dict(r.dimensions),
                "Metadata": dict(r.metadata),
            }
            for r in kept
        ],
    }


def test_an_alert_reaches_the_subscriber_once_when_it_starts_and_once_when_it_recovers(
    demo: Demo,
) -> None:
    # From extraction to the subscriber queue: spoke SageMaker -> extractor -> spoke bus -> hub
    # bus -> ingest queue -> ingest (alert state) -> encrypted topic -> SQS subscriber.
    target = backlog_alert_target(demo)
    assert target is not None, "the example config has approval-backlog for churn-prediction/prod"
    spoke, rule = target
    out_of_scope = next(
        s
        for s in demo.layout.spokes
        if s.project == spoke.project and not rule.applies_to(s.environment)
    )
    other_project = next(s for s in demo.layout.spokes if s.project != spoke.project)
    queue = attach_subscriber(demo)
    assert seed_backlog(demo, spoke.account_id, rule) > 0
    seed_backlog(demo, out_of_scope.account_id, rule)  # same backlog, an environment not watched

    demo.refresh()
    [started] = receive_notifications(demo, queue)
    assert (started.state, started.message["account"], started.message["alert"]) == (
        "ALARM",
        spoke.account_id,
        rule.name,
    )
    assert started.message["value"] >= rule.threshold
    assert started.subject.startswith(f"[dsdash ALARM {rule.severity}] {spoke.project}/prod")

    # Unchanged: another extraction still breaching sends nothing.
    demo.refresh({"AccountId": spoke.account_id})
    assert receive_notifications(demo, queue) == []
    # A replay of that extraction (EventBridge delivers at least once) sends nothing.
    _send_extraction_from(
        demo, spoke.account_id, _latest_extraction_of(demo, spoke.account_id, spoke.project)
    )
    assert receive_notifications(demo, queue) == []
    # A spoke of another project claiming this project's name with a breaching backlog is
    # quarantined before any alert sees it.
    forged = _latest_extraction_of(demo, spoke.account_id, spoke.project)
    forged.update(AccountId=other_project.account_id, ExtractionDate=datetime.now(UTC).isoformat())
    _send_extraction_from(demo, other_project.account_id, forged)
    assert receive_notifications(demo, queue) == []

    assert approve_backlog(demo, spoke.account_id) > 0
    demo.refresh({"AccountId": spoke.account_id})
    [recovered] = receive_notifications(demo, queue)
    assert (recovered.state, recovered.message["account"]) == ("OK", spoke.account_id)
    # The plan followed the activity: the hub still holds exactly the seeded truth.
    [result] = [r for r in demo.compare_with_truth() if r.account_id == spoke.account_id]
    assert result.mismatches == []


def test_the_deployed_hub_alarms_on_its_health_through_the_alert_topic(demo: Demo) -> None:
    topic_arn = demo.stacks["hub"].outputs["AlertTopicArn"]
    alarms = {
        alarm["AlarmName"]: alarm
        for alarm in demo.hub_session().client("cloudwatch").describe_alarms()["MetricAlarms"]
    }
    assert set(alarms) >= {
        "dsdash-hub-dead-letter-queue",
        "dsdash-hub-ingest-errors",
        "dsdash-hub-quarantined-events",
        "dsdash-hub-spokes-failed",
        "dsdash-hub-spokes-stale",
    }
    assert all(
        alarm["AlarmActions"] == [topic_arn]
        for name, alarm in alarms.items()
        if name.startswith("dsdash-hub-")
    )
    assert alarms["dsdash-hub-quarantined-events"]["Threshold"] == (
        demo.config.notifications.quarantined_events_per_hour
    )


def test_a_spoke_claiming_another_projects_name_is_quarantined_not_stored(demo: Demo) -> None:
    spoke = demo.layout.spokes[0]
    other_project = next(name for name in demo.config.projects if name != spoke.project)
    environment = demo.config.projects[other_project].environments[0]
    before = demo.store().latest_values(other_project)
    quarantined_before = demo.store().quarantine.count()

    events = demo.world.session(spoke.account_id, demo.home_region).client("events")
    detail = {
        "SchemaVersion": 2,
        "ProjectName": other_project,
        "Environment": environment,
        "AccountId": spoke.account_id,
        "Region": demo.home_region,
        "ExtractionDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "Metrics": [
            {
                "MetricName": "TotalCompletedTrainingJobs",
                "MetricValue": 999999,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            }
        ],
    }
    response = events.put_events(
        Entries=[
            {
                "Source": contracts.METRIC_EVENT_SOURCE,
                "DetailType": contracts.METRIC_EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "EventBusName": contracts.SPOKE_BUS_NAME,
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    demo.world.settle()

    assert demo.store().latest_values(other_project) == before
    [newest, *_] = demo.store().quarantine.recent(limit=1)
    assert demo.store().quarantine.count() == quarantined_before + 1
    assert newest.reason_code == "SenderEnrolledElsewhere"
    assert spoke.account_id in newest.raw_event


def test_without_the_hub_grant_a_refresh_stores_nothing_and_reconnecting_restores_it(
    demo: Demo,
) -> None:
    hub_events = demo.hub_session().client("events")
    hub_events.remove_permission(
        EventBusName=contracts.HUB_BUS_NAME, StatementId=contracts.ORGANIZATION_STATEMENT_ID
    )
    before = _latest_by_account(demo)
    dropped_before = len(demo.world.delivery.log.dropped)

    demo.refresh()

    assert _latest_by_account(demo) == before, "no spoke's value may reach the hub"
    new_drops = demo.world.delivery.log.dropped[dropped_before:]
    assert {drop.target_arn.split(":")[4] for drop in new_drops} == {demo.hub_account}
    assert len(new_drops) == len(demo.layout.spokes)

    response = (
        demo.hub_session()
        .client("lambda")
        .invoke(
            FunctionName=contracts.HUB_CONNECTION_FUNCTION_NAME,
            Payload=json.dumps({"action": "EBPut"}).encode(),
        )
    )
    assert "FunctionError" not in response
    demo.refresh()

    after = _latest_by_account(demo)
    for spoke in demo.layout.spokes:
        assert all(
            after[spoke.account_id][key] > stamp for key, stamp in before[spoke.account_id].items()
        ), f"{spoke.account_id} reports again once EBPut re-granted the organization"


def test_an_account_moved_into_a_tagged_ou_enrolls_itself_and_reports(demo: Demo) -> None:
    project, environment = sorted(demo.config.projects)[-1], "prod"
    account_id = demo.add_account(project, environment)

    assert _state(demo, account_id) == SpokeState.ENROLLED
    demo.seed(account_id, SEED, datetime.now(UTC))
    demo.refresh()
    [result] = [r for r in demo.compare_with_truth() if r.account_id == account_id]
    assert (result.project, result.environment) == (project, environment)
    assert result.mismatches == []


def test_untagging_an_ou_offboards_its_accounts_and_refuses_their_later_events(
    demo: Demo,
) -> None:
    spoke = demo.layout.spokes[0]
    ou_id = demo.layout.environment_ous[(spoke.project, spoke.environment)]
    affected = [s.account_id for s in demo.layout.spokes if s.parent_ou_id == ou_id]
    others = [s.account_id for s in demo.layout.spokes if s.account_id not in affected]
    organizations = demo.management_session().client("organizations")

    organizations.untag_resource(
        ResourceId=ou_id,
        TagKeys=[
            demo.config.organization.project_tag_key,
            demo.config.organization.environment_tag_key,
        ],
    )
    demo.world.settle()

    for account_id in affected:
        assert _state(demo, account_id) == SpokeState.OFFBOARDED
    for account_id in others:
        assert _state(demo, account_id) == SpokeState.ENROLLED
    hub_parameters = (
        demo.hub_session()
        .client("ssm")
        .get_parameters_by_path(Path=contracts.MONITORED_PROJECTS_PREFIX, Recursive=True)[
            "Parameters"
        ]
    )
    assert not [p for p in hub_parameters if p["Value"] in affected]

    # A late event from an offboarded account (it is still an org member, so the hub bus lets
    # it in) is refused by ingest.
    late = affected[0]
    session = demo.world.session(late, demo.home_region)
    events = session.client("events")
    quarantined_before = demo.store().quarantine.count()
    detail = {
        "MetricName": "TotalCompletedTrainingJobs",
        "MetricValue": 1,
        "ExtractionDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "Metadata": {},
        "Environment": spoke.environment,
        "ProjectName": spoke.project,
    }
    # Its spoke stack is gone; a rule on its default bus stands in for a leftover forwarder.
    events.put_rule(
        Name="late-metrics", EventPattern=json.dumps({"source": [contracts.METRIC_EVENT_SOURCE]})
    )
    events.put_targets(
        Rule="late-metrics",
        Targets=[
            {
                "Id": "hub",
                "Arn": contracts.hub_bus_arn("aws", demo.config.hub.region, demo.hub_account),
            }
        ],
    )
    events.put_events(
        Entries=[
            {
                "Source": contracts.METRIC_EVENT_SOURCE,
                "DetailType": contracts.METRIC_EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail),
            }
        ]
    )
    demo.world.settle()
    [newest, *_] = demo.store().quarantine.recent(limit=1)
    assert demo.store().quarantine.count() == quarantined_before + 1
    assert newest.reason_code == "SenderNotEnrolled"


def test_closing_an_account_offboards_it(demo: Demo) -> None:
    enrolled = [
        s.account_id
        for s in demo.layout.spokes
        if _state(demo, s.account_id) == SpokeState.ENROLLED
    ]
    closing = enrolled[0]

    demo.management_session().client("organizations").close_account(AccountId=closing)
    demo.world.settle()

    assert _state(demo, closing) == SpokeState.OFFBOARDED
    for account_id in enrolled[1:]:
        assert _state(demo, account_id) == SpokeState.ENROLLED
    # Its history stays.
    history = history_file_readers.datapoints_by_metric(demo.store(), "TotalCompletedTrainingJobs")
    assert any(record.account_id == closing for record in history)
