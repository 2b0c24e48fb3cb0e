"""`dsdash alerts list|history` and `status --fail-on-stale` with failed spokes, on a moto hub.

The alert states are written by the real evaluator (as ingest does), judging datapoints of the
example config's alerts: `approval-backlog` (churn-prediction, prod, ModelPackagesPendingApproval
>= 5) and `no-endpoint-in-service` (every project, prod, NumberEndPointsInService < 1 for 3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from operator_cli_support import CHURN_PROD_FRESH, FRAUD_DEV_FRESH, NOW, datapoint

import contracts
from config.loader import load_config
from hub_stack.alerting import alert_rules_of
from hub_stack.ingest.runtime.alert_evaluation import AlertEvaluator
from hub_stack.runtime.alert_state import AlertStateStore
from hub_stack.spoke_registry.records import SpokeState


class RecordingPublisher:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        self.subjects.append(subject)
        return f"message-{len(self.subjects)}"


@pytest.fixture
def alerting_hub(hub):  # type: ignore[no-untyped-def]
    """The known hub, after four hourly extractions of the churn prod spoke: the backlog grew to
    6 (ALARM from 3 hours ago), then fell to 2 an hour ago (recovered); then grew to 7 now."""
    publisher = RecordingPublisher()
    evaluator = AlertEvaluator(
        alert_rules_of(load_config()),
        states=AlertStateStore(contracts.HUB_TABLE_NAME, hub.session.client("dynamodb")),
        publisher=publisher,
        retention_days=400,
    )
    for hours_ago, backlog, endpoints in (
        (4, "1", "2"),
        (3, "6", "0"),
        (1, "2", "0"),
        (0, "7", "0"),
    ):
        evaluator.evaluate(
            [
                datapoint(
                    "churn-prediction",
                    "prod",
                    "ModelPackagesPendingApproval",
                    CHURN_PROD_FRESH,
                    hours_ago,
                    backlog,
                ),
                datapoint(
                    "churn-prediction",
                    "prod",
                    "NumberEndPointsInService",
                    CHURN_PROD_FRESH,
                    hours_ago,
                    endpoints,
                ),
            ]
        )
    assert len(publisher.subjects) == 4
    return hub


def test_alerts_list_shows_each_alert_in_force_and_its_state_per_spoke(alerting_hub) -> None:
    result = alerting_hub.run("alerts", "list", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    alerts = {(a["project"], a["name"]): a for a in document["alerts"]}
    assert set(alerts) == {
        ("churn-prediction", "approval-backlog"),
        ("churn-prediction", "no-endpoint-in-service"),
        ("fraud-detection", "no-endpoint-in-service"),
    }
    [backlog] = alerts[("churn-prediction", "approval-backlog")]["states"]
    assert backlog["state"] == "alarm"
    assert backlog["account_id"] == CHURN_PROD_FRESH
    assert backlog["last_value"] == 7
    assert backlog["since"] == "2025-06-01T12:00:00.000Z"
    [endpoints] = alerts[("churn-prediction", "no-endpoint-in-service")]["states"]
    # Three zero readings in a row: 3h, 1h and now.
    assert (endpoints["state"], endpoints["breach_streak"]) == ("alarm", 3)
    assert alerts[("fraud-detection", "no-endpoint-in-service")]["states"] == []
    assert document["in_alarm"] == 2

    table = alerting_hub.run("alerts", "list")
    assert table.exit_code == 0, table.output
    assert "approval-backlog" in table.stdout and "ALARM" in table.stdout
    assert "no data yet" in table.stdout  # fraud-detection has not reported on it


def test_alerts_history_lists_what_fired_and_recovered_since_a_time(alerting_hub) -> None:
    result = alerting_hub.run("alerts", "history", "--since", "1d", "--json")

    assert result.exit_code == 0, result.output
    history = [(n["at"], n["alert"], n["state"], n["value"]) for n in json.loads(result.stdout)]
    assert history == [
        ("2025-06-01T09:00:00.000Z", "approval-backlog", "ALARM", 6),
        ("2025-06-01T11:00:00.000Z", "approval-backlog", "OK", 2),
        ("2025-06-01T12:00:00.000Z", "approval-backlog", "ALARM", 7),
        ("2025-06-01T12:00:00.000Z", "no-endpoint-in-service", "ALARM", 0),
    ]
    recent = json.loads(alerting_hub.run("alerts", "history", "--since", "30m", "--json").stdout)
    assert [n["at"] for n in recent] == ["2025-06-01T12:00:00.000Z"] * 2
    table = alerting_hub.run("alerts", "history", "--since", "2025-06-01T10:00:00Z")
    assert table.exit_code == 0, table.output
    assert "2 alert(s) fired, 1 recovered." in table.stdout


def test_alerts_history_refuses_a_bad_since_with_exit_2(hub) -> None:
    result = hub.run("alerts", "history", "--since", "last week")
    assert result.exit_code == 2
    assert "--since 'last week'" in result.stderr


def test_fail_on_stale_also_fails_on_a_failed_spoke(empty_hub) -> None:
    from operator_cli_support import record_seen

    empty_hub.store.registry.set_spoke_state(
        FRAUD_DEV_FRESH, SpokeState.ENROLLED, project_name="fraud-detection", environment="dev"
    )
    record_seen(empty_hub.store, FRAUD_DEV_FRESH, NOW.replace(hour=11))
    empty_hub.store.registry.set_spoke_state(
        CHURN_PROD_FRESH,
        SpokeState.FAILED,
        reason="EBPut failed",
        project_name="churn-prediction",
        environment="prod",
    )

    result = empty_hub.run("status", "--fail-on-stale")

    assert result.exit_code == 1
    assert f"1 failed spoke(s): {CHURN_PROD_FRESH} (churn-prediction/prod)" in result.stderr
    assert "stale spoke" not in result.stderr
