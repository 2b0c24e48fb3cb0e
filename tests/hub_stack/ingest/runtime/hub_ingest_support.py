"""Shared by the ingest-on-moto tests (test_hub_ingest_*_on_moto.py): running the ingest
function on the hub, reading back the history rows it delivered, and the mixed batch of valid
and hostile events. Imported by bare name (pytest puts this folder on sys.path), hence the
unique name."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hub_runtime_support import (
    BETA_PROD_ACCOUNT,
    NOW,
    OFFBOARDED_ACCOUNT,
    RETENTION_DAYS,
    STRANGER_ACCOUNT,
    Hub,
    delivered_rows,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)

from hub_stack.ingest.runtime import ingest


def run_ingest(hub: Hub, batch: dict[str, Any]) -> dict[str, Any]:
    return dict(
        ingest.ingest_batch(
            batch,
            store=hub.store,
            history=hub.history,
            retention_days=RETENTION_DAYS,
            clock=lambda: NOW,
        )
    )


def history_keys(hub: Hub) -> list[tuple[str, ...]]:
    """(project, environment, metric, dimensions, extraction time, account, region) of every
    history row delivered, sorted (duplicates kept: a replay delivers its rows again)."""
    return sorted(
        (
            row["project"],
            row["environment"],
            row["metric_name"],
            row["dimensions"],
            row["extraction_time"],
            row["account_id"],
            row["region"],
        )
        for row in delivered_rows(hub.session)
    )


def rows_of(hub: Hub, metric: str) -> list[dict[str, Any]]:
    return [row for row in delivered_rows(hub.session) if row["metric_name"] == metric]


def beta_v2_event() -> dict[str, Any]:
    event = v2_event(
        ProjectName="beta",
        Environment="prod",
        AccountId=BETA_PROD_ACCOUNT,
        ExtractionDate="2025-06-01T11:30:00Z",
        Metrics=[
            {
                "MetricName": "FailedTrainingJobs",
                "MetricValue": 0,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            },
            {
                "MetricName": "BillableTrainingSeconds",
                "MetricValue": 86400.5,
                "Unit": "Seconds",
                "Dimensions": {},
                "Metadata": {"WindowHours": 24},
            },
        ],
        Errors=[],
    )
    return with_envelope(
        event, id="b7f0a3c2-2d4e-4f6a-8b9c-0d1e2f3a4b5c", account=BETA_PROD_ACCOUNT
    )


def first_metric_changed(**changes: Any) -> dict[str, Any]:
    event = v2_event()
    event["detail"]["Metrics"][0].update(changes)
    return event


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"level": value}
    return value


V1_BODY = json.dumps(v1_event())


# message id -> (body, reason code the quarantine must record). Each is a way a broken or
# hostile spoke (or anyone with PutEvents on the hub bus) could try to get data in.
HOSTILE_EVENTS: dict[str, tuple[str | dict[str, Any], str]] = {
    "truncated-json": ('{"version": "0", "id": ', "InvalidJson"),
    "json-nested-beyond-recursion": ("[" * 50_000 + "]" * 50_000, "InvalidJson"),
    "json-array-body": ("[1, 2, 3]", "NotAMetricEvent"),
    "foreign-source": (with_envelope(v1_event(), source="aws.ec2"), "NotAMetricEvent"),
    "short-envelope-account": (with_envelope(v1_event(), account="12345"), "InvalidEnvelope"),
    "schema-version-3": (v2_event(SchemaVersion=3), "UnknownSchemaVersion"),
    "schema-version-as-string": (v2_event(SchemaVersion="2"), "UnknownSchemaVersion"),
    "v1-without-project": (
        {
            **v1_event(),
            "detail": {k: v for k, v in v1_event()["detail"].items() if k != "ProjectName"},
        },
        "SchemaViolation",
    ),
    "v2-unknown-unit": (first_metric_changed(Unit="Bananas"), "SchemaViolation"),
    "nan-token": (V1_BODY.replace('"MetricValue": 42', '"MetricValue": NaN'), "NonFiniteValue"),
    "infinity-in-metadata": (
        V1_BODY.replace(
            '"Metadata": {"Source": "ListTrainingJobs"}', '"Metadata": {"x": -Infinity}'
        ),
        "NonFiniteValue",
    ),
    # A numeric string ("42", the sample's SSM metric) is a number: the sibling
    # test_sample_spoke_events.py. Any other string is not.
    "value-as-text": (v1_event(MetricValue="forty-two"), "NonNumericValue"),
    "value-as-nan-string": (v1_event(MetricValue="NaN"), "NonFiniteValue"),
    "value-as-boolean": (first_metric_changed(MetricValue=True), "NonNumericValue"),
    "value-above-dynamodb-range": (
        V1_BODY.replace('"MetricValue": 42', '"MetricValue": 1E+126'),
        "ValueOutOfRange",
    ),
    "value-below-dynamodb-range": (
        V1_BODY.replace('"MetricValue": 42', '"MetricValue": 1E-131'),
        "ValueOutOfRange",
    ),
    "value-with-39-digits": (
        V1_BODY.replace(
            '"MetricValue": 42', '"MetricValue": 1.23456789012345678901234567890123456789'
        ),
        "ValueOutOfRange",
    ),
    "long-metadata-string": (v1_event(Metadata={"Note": "x" * 5000}), "StringTooLong"),
    "long-dimension-value": (
        first_metric_changed(Dimensions={"InstanceType": "m" * 300}),
        "StringTooLong",
    ),
    "event-bigger-than-quarantine-limit": (
        # Two-byte characters, so that truncation must not cut one in half.
        json.dumps(v1_event(Metadata={"Note": "é" * 200_000}), ensure_ascii=False),
        "StringTooLong",
    ),
    "eleven-dimensions": (
        first_metric_changed(Dimensions={f"D{i}": "v" for i in range(11)}),
        "TooManyDimensions",
    ),
    "deep-metadata": (v1_event(Metadata=nested(20)), "NestingTooDeep"),
    "dimensions-beyond-key-size": (
        first_metric_changed(Dimensions={f"D{i}{'n' * 60}": "v" * 250 for i in range(10)}),
        "KeyTooLong",
    ),
    "separator-in-dimension": (
        first_metric_changed(Dimensions={"InstanceType": "a,b=c"}),
        "SchemaViolation",
    ),
    "same-series-twice": (
        v2_event(Metrics=[v2_event()["detail"]["Metrics"][0]] * 2),
        "DuplicateSeries",
    ),
    "extracted-in-an-hour": (
        v1_event(ExtractionDate=(NOW + timedelta(hours=1)).isoformat()),
        "TimestampInFuture",
    ),
    "extracted-before-retention": (
        v1_event(ExtractionDate=(NOW - timedelta(days=RETENTION_DAYS + 1)).isoformat()),
        "TimestampTooOld",
    ),
    "v2-account-differs-from-sender": (v2_event(AccountId=BETA_PROD_ACCOUNT), "AccountMismatch"),
    "unknown-sender": (with_envelope(v1_event(), account=STRANGER_ACCOUNT), "SenderNotEnrolled"),
    "offboarded-sender": (
        with_envelope(v1_event(), account=OFFBOARDED_ACCOUNT),
        "SenderNotEnrolled",
    ),
    "beta-claims-alpha": (
        with_envelope(v1_event(), account=BETA_PROD_ACCOUNT),
        "SenderEnrolledElsewhere",
    ),
    "alpha-dev-claims-alpha-prod": (v1_event(Environment="prod"), "SenderEnrolledElsewhere"),
}


VALID_RECORDS = {
    "valid-v1": v1_event(),
    "valid-v2": v2_event(),
    "valid-v2-beta": beta_v2_event(),
}


def mixed_batch() -> dict[str, Any]:
    records = [sqs_record(body, message_id) for message_id, body in VALID_RECORDS.items()]
    records += [sqs_record(body, message_id) for message_id, (body, _) in HOSTILE_EVENTS.items()]
    return sqs_batch(records)
