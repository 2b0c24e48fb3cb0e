"""What started an extraction, and whether a refresh from the hub refresh topic is for this spoke."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spoke_stackset.extractor.runtime.refresh_request import RefreshMessageError, refresh_request_of

ACCOUNT = "222222222222"


def notification(detail: dict[str, Any]) -> dict[str, Any]:
    """What SNS hands a subscribed Lambda (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""
    message = {"source": "metric_fetch", "detail-type": "metric_fetch", "detail": detail}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "TopicArn": "arn:aws:sns:eu-west-1:111111111111:dsdash-refresh",
                    "Message": json.dumps(message),
                },
            }
        ]
    }


def out_of_scope(event: Any) -> str | None:
    return refresh_request_of(event).out_of_scope(
        project="fraud", environment="prod", account_id=lambda: ACCOUNT
    )


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"ProjectName": "fraud"},
        {"ProjectName": "fraud", "Environment": "prod"},
        {"AccountId": ACCOUNT},
    ],
)
def test_a_topic_refresh_in_scope_extracts(scope: dict[str, str]) -> None:
    assert out_of_scope(notification({"RefreshId": "r-1", **scope})) is None
    assert refresh_request_of(notification({"RefreshId": "r-1"})).refresh_id == "r-1"


@pytest.mark.parametrize(
    ("scope", "named"),
    [
        ({"ProjectName": "churn"}, "ProjectName 'churn'"),
        ({"ProjectName": "fraud", "Environment": "dev"}, "Environment 'dev'"),
        ({"AccountId": "333333333333"}, "AccountId '333333333333'"),
    ],
)
def test_a_topic_refresh_for_another_spoke_is_skipped_with_the_reason(
    scope: dict[str, str], named: str
) -> None:
    why = out_of_scope(notification({"RefreshId": "r-2", **scope}))
    assert why is not None and named in why


def test_bus_events_and_schedules_are_never_filtered_here() -> None:
    # The spoke bus rule pattern already enforced the scope; a schedule is this spoke's own.
    assert out_of_scope({"detail-type": "metric_fetch", "detail": {"ProjectName": "churn"}}) is None
    assert out_of_scope({"source": "dsdash.spoke-schedule"}) is None
    assert out_of_scope(None) is None


def test_a_notification_that_is_not_a_refresh_event_is_refused() -> None:
    event = notification({})
    event["Records"][0]["Sns"]["Message"] = json.dumps({"source": "other"})
    with pytest.raises(RefreshMessageError, match="not a metric_fetch refresh event"):
        refresh_request_of(event)
