"""The platform-health function on moto: it counts stale and failed spokes from the registry as
`dsdash status` does, and puts them in CloudWatch where the hub's alarms watch them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hub_runtime_support import NOW, TABLE_NAME, Hub

from hub_stack.platform_health.runtime import platform_health
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.health_metrics import NAMESPACE
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.timestamps import format_timestamp

FRESH, STALE, SILENT, FAILED, PENDING, OFFBOARDED = (f"10000000000{i}" for i in range(6))


def _datapoint(account: str, extracted: datetime) -> DatapointRecord:
    return DatapointRecord(
        project_name="alpha",
        environment="dev",
        metric_name="TotalCompletedTrainingJobs",
        value=Decimal(1),
        unit="Count",
        dimensions={},
        metadata={},
        account_id=account,
        region="eu-west-1",
        extraction_date=format_timestamp(extracted),
        schema_version=2,
        event_id=f"event-{account}",
        expires_at=int((extracted + timedelta(days=90)).timestamp()),
    )


def _fill_registry(hub: Hub) -> None:
    store = hub.store
    for account in (FRESH, STALE, SILENT):
        store.registry.set_spoke_state(
            account, SpokeState.ENROLLED, project_name="alpha", environment="dev"
        )
    for account, hours_ago in ((FRESH, 1), (STALE, 3)):
        # An extraction arriving as ingest records it: its freshness is in the latest item.
        seen = NOW - timedelta(hours=hours_ago)
        store.record_latest([_datapoint(account, seen)], seen_at=seen)
    store.registry.set_spoke_state(FAILED, SpokeState.FAILED, reason="EBPut failed")
    store.registry.set_spoke_state(
        PENDING, SpokeState.PENDING, project_name="alpha", environment="dev"
    )
    store.registry.set_spoke_state(OFFBOARDED, SpokeState.OFFBOARDED, reason="account closed")


def _published(hub: Hub, name: str) -> float:
    datapoints = hub.session.client("cloudwatch").get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        StartTime=NOW - timedelta(minutes=5),
        EndTime=NOW + timedelta(minutes=5),
        Period=600,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert len(datapoints) == 1, datapoints
    return float(datapoints[0]["Maximum"])


def test_stale_and_failed_spokes_are_published_for_the_alarms(hub: Hub) -> None:
    _fill_registry(hub)

    health = platform_health.publish_spoke_health(
        hub.store,
        hub.session.client("cloudwatch"),
        stale_after=timedelta(hours=2),
        clock=lambda: NOW,
    )

    # Stale: enrolled and silent for more than two hours, or never heard from. Pending and
    # offboarded spokes are not expected to report.
    assert health.stale == (STALE, SILENT)
    assert health.failed == (FAILED,)
    assert _published(hub, "SpokesStale") == 2
    assert _published(hub, "SpokesFailed") == 1
    assert _published(hub, "SpokesEnrolled") == 3


def test_the_handler_reads_its_settings_and_refuses_a_bad_one(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_registry(hub)
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("STALE_AFTER_SECONDS", "7200")
    answer = platform_health.handler({}, None, session=hub.session)
    assert answer["failed"] == [FAILED]
    # The real clock: every enrolled spoke of 2025 is stale now.
    assert answer["stale"] == [FRESH, STALE, SILENT]

    monkeypatch.setenv("STALE_AFTER_SECONDS", "two hours")
    with pytest.raises(platform_health.HealthConfigurationError, match="STALE_AFTER_SECONDS"):
        platform_health.handler({}, None, session=hub.session)
