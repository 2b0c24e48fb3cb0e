"""Alert evaluation on ingest: judge each stored datapoint against its project's alerts, and
notify through SNS when an alert starts or recovers (docs/architecture.md §7, "Alerts").

Per alert, spoke (account), region and series, one state item (`hub_stack.runtime.alert_state`):
- a datapoint whose extraction is not newer than the last one judged (a replay, or a part that
  arrives late) changes nothing and sends nothing;
- otherwise the breach streak grows (breaching) or resets (not breaching). The alert starts when
  the streak reaches the rule's `for`, and recovers on the first extraction that does not
  breach. Only those two changes send a notification; an unchanged state sends none;
- the state is written conditionally on the item being as read; on a lost race the item is read
  again and judged again (and a replay then stops there).

A state change is written with `Pending` set, then published, then `Pending` is cleared. If the
publish fails, the ingest record fails, SQS redelivers it, and the redelivery (same extraction,
`Pending` still set) publishes again; so does a newer extraction of the same series if it comes
first. A notification is never lost, and is sent twice only if the clear itself fails after a
successful publish.

Environment: ALERT_RULES (see `hub_stack.ingest.runtime.alert_rules`), ALERT_TOPIC_ARN,
DASHBOARD_URL.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol

from aws_lambda_powertools import Logger

from hub_stack import table_design
from hub_stack.ingest.runtime.alert_rules import ProjectAlertRule, rules_by_project
from hub_stack.runtime.alert_state import (
    AlertNotificationRecord,
    AlertState,
    AlertStateRecord,
    AlertStateStore,
    StateChangedMeanwhile,
    Transition,
)
from runtime_common.aws import client as aws_client

if TYPE_CHECKING:
    import boto3

    from hub_stack.runtime.datapoints import DatapointRecord

logger = Logger(service="dsdash-hub-ingest")

ALERT_TOPIC_VARIABLE: Final = "ALERT_TOPIC_ARN"
DASHBOARD_URL_VARIABLE: Final = "DASHBOARD_URL"
# SNS subjects: at most 100 printable ASCII characters, no line breaks.
# https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
SUBJECT_MAX_CHARS: Final = 100
# Judging one series loses a race this many times in a row only if something is wrong.
MAX_STATE_WRITE_ATTEMPTS: Final = 5


class AlertConfigurationError(Exception):
    """The function's alert settings are incomplete (rules without a topic)."""


class NotificationPublisher(Protocol):
    def publish(self, subject: str, message: Mapping[str, Any]) -> str: ...


class SnsNotificationPublisher:
    """Publishes to the hub's alert topic: JSON body, readable subject, and message attributes
    (severity, project, state) that subscription filter policies can select on."""

    def __init__(
        self, topic_arn: str, session: boto3.Session | None = None, *, sns_client: Any = None
    ) -> None:
        self.topic_arn = topic_arn
        self._client = sns_client if sns_client is not None else aws_client(session, "sns")

    def publish(self, subject: str, message: Mapping[str, Any]) -> str:
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=subject,
            Message=json.dumps(message, sort_keys=False),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": str(message[key])}
                for name, key in (
                    ("severity", "severity"),
                    ("project", "project"),
                    ("state", "state"),
                )
            },
        )
        return str(response["MessageId"])


@dataclass(frozen=True)
class SentNotification:
    subject: str
    message: Mapping[str, Any]
    message_id: str


class AlertEvaluator:
    """Judges datapoints against the alert rules; one per ingest invocation."""

    def __init__(
        self,
        rules: Sequence[ProjectAlertRule],
        *,
        states: AlertStateStore,
        publisher: NotificationPublisher | None,
        retention_days: int,
        dashboard_url: str | None = None,
    ) -> None:
        if rules and publisher is None:
            raise AlertConfigurationError(
                f"{len(rules)} alert rule(s) but no topic to publish to: set {ALERT_TOPIC_VARIABLE}"
            )
        self._rules = rules_by_project(rules)
        self._states = states
        self._publisher = publisher
        self._retention_days = retention_days
        self._dashboard_url = dashboard_url

    def evaluate(self, datapoints: Sequence[DatapointRecord]) -> list[SentNotification]:
        sent: list[SentNotification] = []
        for datapoint in datapoints:
            for rule in self._rules.get(datapoint.project_name, ()):
                if rule.watches(
                    project=datapoint.project_name,
                    environment=datapoint.environment,
                    metric=datapoint.metric_name,
                    dimensions=datapoint.dimensions,
                ):
                    sent.extend(self._judge(rule, datapoint))
        return sent

    def _judge(self, rule: ProjectAlertRule, datapoint: DatapointRecord) -> list[SentNotification]:
        sort_key = _state_sort_key(rule, datapoint)
        sent: list[SentNotification] = []
        for _ in range(MAX_STATE_WRITE_ATTEMPTS):
            previous = self._states.get(rule.project, sort_key)
            if previous is not None and previous.pending is not None:
                # A change whose publish failed earlier (this is its redelivery, or a newer
                # extraction came first): announce it before judging anything else.
                sent.append(self._notify(rule, previous))
                if previous.last_extraction >= datapoint.extraction_date:
                    return sent
                continue  # read again: the item no longer carries the pending change
            if previous is not None and previous.last_extraction >= datapoint.extraction_date:
                return sent  # replayed, or older than what was judged: nothing changes
            judged = self._next_state(rule, datapoint, previous)
            try:
                self._states.replace(judged, previous=previous)
            except StateChangedMeanwhile:
                continue
            if judged.pending is not None:
                sent.append(self._notify(rule, judged))
            return sent
        raise StateChangedMeanwhile(
            f"alert {rule.project}/{rule.name} {sort_key}: the state kept changing during"
            f" {MAX_STATE_WRITE_ATTEMPTS} attempts"
        )

    def _next_state(
        self,
        rule: ProjectAlertRule,
        datapoint: DatapointRecord,
        previous: AlertStateRecord | None,
    ) -> AlertStateRecord:
        date = datapoint.extraction_date
        breaching = rule.breached_by(Decimal(datapoint.value))
        was = previous.state if previous is not None else AlertState.OK
        if breaching:
            streak = previous.breach_streak + 1 if previous is not None else 1
            started = (
                previous.streak_started
                if previous is not None and previous.breach_streak and previous.streak_started
                else date
            )
        else:
            streak, started = 0, None
        state, pending = was, None
        since = previous.since if previous is not None else date
        if was is AlertState.OK and breaching and streak >= rule.consecutive:
            state, pending, since = AlertState.ALARM, Transition.ALARM, started or date
        elif was is AlertState.ALARM and not breaching:
            state, pending, since = AlertState.OK, Transition.OK, date
        return AlertStateRecord(
            project=rule.project,
            alert_name=rule.name,
            environment=datapoint.environment,
            account_id=datapoint.account_id,
            region=datapoint.region,
            metric=rule.metric,
            dimensions=datapoint.dimensions,
            state=state,
            breach_streak=streak,
            streak_started=started,
            since=since,
            last_extraction=date,
            last_value=Decimal(datapoint.value),
            pending=pending,
            expires_at=_expiry(date, self._retention_days),
        )

    def _notify(self, rule: ProjectAlertRule, state: AlertStateRecord) -> SentNotification:
        if state.pending is None or self._publisher is None:
            raise AlertConfigurationError(f"nothing to publish, or nowhere to: {state.sort_key}")
        message = notification_message(rule, state, self._dashboard_url)
        subject = notification_subject(rule, state)
        record = AlertNotificationRecord(
            at=state.last_extraction,
            transition=state.pending,
            project=rule.project,
            alert_name=rule.name,
            environment=state.environment,
            account_id=state.account_id,
            region=state.region,
            metric=rule.metric,
            dimensions=state.dimensions,
            value=state.last_value,
            comparison=rule.comparison,
            threshold=rule.threshold,
            severity=rule.severity,
            since=state.since,
            expires_at=_expiry(state.last_extraction, self._retention_days),
        )
        # Logged first: `dsdash alerts history` shows what fired even if SNS refuses it.
        self._states.log_notification(record)
        message_id = self._publisher.publish(subject, message)
        self._states.log_notification(dataclasses.replace(record, message_id=message_id))
        self._states.clear_pending(state)
        logger.info(
            "alert notification sent",
            extra={"subject": subject, "message_id": message_id, "alert": message},
        )
        return SentNotification(subject, message, message_id)


def notification_subject(rule: ProjectAlertRule, state: AlertStateRecord) -> str:
    """`[dsdash ALARM <severity>] <project>/<env> <alert>: <metric> <cmp> <threshold> (<account>)`
    or `[dsdash OK] <project>/<env> <alert> recovered (<account>)`, cut to SNS's 100 characters
    from the end (the JSON body has everything)."""
    where = f"{rule.project}/{state.environment} {rule.name}"
    if state.pending is Transition.ALARM:
        text = f"[dsdash ALARM {rule.severity}] {where}: {rule.describe()} ({state.account_id})"
    else:
        text = f"[dsdash OK] {where} recovered ({state.account_id})"
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    if len(printable) <= SUBJECT_MAX_CHARS:
        return printable
    return printable[: SUBJECT_MAX_CHARS - 3] + "..."


def notification_message(
    rule: ProjectAlertRule, state: AlertStateRecord, dashboard_url: str | None
) -> dict[str, Any]:
    """The JSON a program reads: what, where, how much, since when, and where to look."""
    return {
        "source": "dsdash",
        "state": (state.pending or Transition.ALARM).value,
        "alert": rule.name,
        "severity": rule.severity,
        "project": rule.project,
        "environment": state.environment,
        "account": state.account_id,
        "region": state.region,
        "metric": rule.metric,
        "dimensions": dict(state.dimensions),
        "value": _json_number(state.last_value),
        "comparison": rule.comparison,
        "threshold": _json_number(rule.threshold),
        "for": rule.consecutive,
        "since": state.since,
        "extraction_date": state.last_extraction,
        "dashboard": dashboard_url,
    }


def alert_evaluator(
    rules: Sequence[ProjectAlertRule],
    *,
    topic_arn: str | None,
    dashboard_url: str | None,
    table_name: str,
    dynamodb_client: Any,
    session: boto3.Session | None,
    retention_days: int,
) -> AlertEvaluator:
    """The evaluator of the ingest function's settings
    (`hub_stack.ingest.runtime.ingest_settings`)."""
    publisher = SnsNotificationPublisher(topic_arn, session) if topic_arn else None
    return AlertEvaluator(
        rules,
        states=AlertStateStore(table_name, dynamodb_client),
        publisher=publisher,
        retention_days=retention_days,
        dashboard_url=dashboard_url,
    )


def _state_sort_key(rule: ProjectAlertRule, datapoint: DatapointRecord) -> str:
    return table_design.alert_state_sort_key(
        rule.name,
        datapoint.environment,
        datapoint.account_id,
        datapoint.region,
        datapoint.dimensions,
    )


def _expiry(extraction_date: str, retention_days: int) -> int:
    moment = datetime.fromisoformat(extraction_date.replace("Z", "+00:00"))
    return int((moment + timedelta(days=retention_days)).timestamp())


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
