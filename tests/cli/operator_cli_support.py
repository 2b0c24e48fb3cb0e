"""A moto hub filled with known data for the operator console tests.

Imported by bare name (pytest puts this folder on sys.path), hence the unique module name. All
data goes through `HubStore`, so the tests read the layout ingest really writes.

The hub's clock is NOW; `config/projects.yaml` refreshes every hour, so a spoke is stale after
two hours without data. The expected values below are written by hand from the data, never
computed by the code under test.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from typer.testing import CliRunner, Result

from cli.main import app
from cli.operator_console import ConsoleRuntime
from contracts import history_parquet, history_table
from hub_stack import table_design
from hub_stack.runtime import latest_item_format
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.quarantine import QuarantineRecord
from hub_stack.runtime.store import HubStore, SpokeErrorEntry
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.timestamps import format_timestamp, parse_timestamp

REGION = "eu-west-1"  # hub.region of config/projects.yaml
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

# fraud-detection/dev: one fresh spoke and one stale spoke (last seen 3 h ago, one failed metric).
FRAUD_DEV_FRESH = "111111111101"
FRAUD_DEV_STALE = "111111111102"
# fraud-detection/prod: enrolled but never reported: stale.
FRAUD_PROD_SILENT = "111111111103"
# churn-prediction/prod: fresh (90 minutes is within two refresh periods).
CHURN_PROD_FRESH = "111111111104"
# churn-prediction/dev: pending (not expected to report yet) and offboarded (long silent): neither
# is stale.
CHURN_DEV_PENDING = "111111111105"
CHURN_DEV_OFFBOARDED = "111111111106"

STALE_ACCOUNTS = {FRAUD_DEV_STALE, FRAUD_PROD_SILENT}


def create_hub_table(client: Any, table_name: str) -> None:
    """The table as hub_stack.table_design describes it (PK/SK, GSI ByMetricName, TTL)."""
    table_design.create_table(client, table_name)


def datapoint(
    project: str,
    environment: str,
    metric: str,
    account_id: str,
    hours_ago: float,
    value: str,
    *,
    unit: str = "Count",
    dimensions: Mapping[str, str] | None = None,
) -> DatapointRecord:
    extracted = NOW - timedelta(hours=hours_ago)
    return DatapointRecord(
        project_name=project,
        environment=environment,
        metric_name=metric,
        value=Decimal(value),
        unit=unit,
        dimensions=dict(dimensions or {}),
        metadata={},
        account_id=account_id,
        region=REGION,
        extraction_date=format_timestamp(extracted),
        schema_version=2,
        event_id=f"event-{account_id}-{metric}-{hours_ago}",
        expires_at=int((extracted + timedelta(days=400)).timestamp()),
    )


def store_datapoints(store: HubStore, datapoints: list[DatapointRecord]) -> None:
    """What ingest's path leaves behind: history as a Parquet file of the contract's layout in the
    hub's history bucket (what the delivery stream writes), then latest values if newer."""
    session = boto3.Session(region_name=REGION)
    account = session.client("sts").get_caller_identity()["Account"]
    bucket = history_table.history_bucket_name(account, REGION)
    s3 = session.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.parquet"
        history_parquet.write_parquet([d.history_row(NOW) for d in datapoints], path)
        s3.put_object(
            Bucket=bucket,
            Key=f"{history_table.partition_folder(NOW)}{uuid.uuid4()}.parquet",
            Body=path.read_bytes(),
        )
    for record in datapoints:
        store.put_latest(record)


# History of fraud-detection/dev TotalCompletedTrainingJobs, per account: hours ago -> value.
FRAUD_DEV_TOTAL_JOBS = {
    FRAUD_DEV_FRESH: {3: "10", 2: "12", 1: "15"},
    FRAUD_DEV_STALE: {3: "4", 2: "5"},
}
# A value that must survive every output format digit for digit.
CHURN_THRESHOLD = "0.8125"


def known_datapoints() -> list[DatapointRecord]:
    records = [
        datapoint("fraud-detection", "dev", "TotalCompletedTrainingJobs", account, hours, value)
        for account, values in FRAUD_DEV_TOTAL_JOBS.items()
        for hours, value in values.items()
    ]
    records += [
        datapoint(
            "fraud-detection",
            "dev",
            "CompletedTrainingJobsByInstanceType",
            FRAUD_DEV_FRESH,
            1,
            "7",
            dimensions={"InstanceType": "ml.m5.xlarge"},
        ),
        datapoint(
            "fraud-detection",
            "dev",
            "CompletedTrainingJobsByInstanceType",
            FRAUD_DEV_FRESH,
            1,
            "2",
            dimensions={"InstanceType": "ml.g5.2xlarge"},
        ),
        datapoint(
            "churn-prediction", "prod", "NotebookInstancesInService", CHURN_PROD_FRESH, 1.5, "3"
        ),
        datapoint(
            "churn-prediction",
            "prod",
            "SsmParameterValue",
            CHURN_PROD_FRESH,
            1.5,
            CHURN_THRESHOLD,
            unit="None",
            dimensions={"ParameterName": "/churn/model/quality-threshold"},
        ),
    ]
    return records


def upload_history(s3_client: Any, bucket: str, datapoints: list[DatapointRecord]) -> None:
    """The datapoints as the hub's history holds them: Parquet by the contract's writer, under
    the delivery day's partition (delivered a minute after extraction)."""
    rows = [
        history_table.history_row(
            project=record.project_name,
            environment=record.environment,
            account_id=record.account_id,
            region=record.region,
            metric_name=record.metric_name,
            dimensions=record.dimensions,
            metric_value=float(record.value),
            unit=record.unit,
            extraction_time=parse_timestamp(record.extraction_date),
            event_id=record.event_id,
            schema_version=record.schema_version,
            ingested_at=parse_timestamp(record.extraction_date) + timedelta(minutes=1),
        )
        for record in datapoints
    ]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "history.parquet"
        history_parquet.write_parquet(rows, path)
        key = history_table.partition_folder(NOW) + "known-history.parquet"
        s3_client.upload_file(str(path), bucket, key)


def register_spokes(store: HubStore) -> None:
    enrolled = {
        FRAUD_DEV_FRESH: ("fraud-detection", "dev"),
        FRAUD_DEV_STALE: ("fraud-detection", "dev"),
        FRAUD_PROD_SILENT: ("fraud-detection", "prod"),
        CHURN_PROD_FRESH: ("churn-prediction", "prod"),
    }
    for account, (project, environment) in enrolled.items():
        store.registry.set_spoke_state(
            account,
            SpokeState.ENROLLED,
            reason="account in a tagged OU",
            project_name=project,
            environment=environment,
        )
    store.registry.set_spoke_state(
        CHURN_DEV_PENDING,
        SpokeState.PENDING,
        reason="waiting for the stack instance",
        project_name="churn-prediction",
        environment="dev",
    )
    store.registry.set_spoke_state(
        CHURN_DEV_OFFBOARDED,
        SpokeState.ENROLLED,
        project_name="churn-prediction",
        environment="dev",
    )
    store.registry.set_spoke_state(
        CHURN_DEV_OFFBOARDED, SpokeState.OFFBOARDED, reason="account closed"
    )


def record_known_freshness(store: HubStore) -> None:
    """When each spoke's newest extraction arrived (after its datapoints: this sets it)."""
    record_seen(store, CHURN_DEV_OFFBOARDED, NOW - timedelta(days=10))
    record_seen(store, FRAUD_DEV_FRESH, NOW - timedelta(minutes=30))
    record_seen(
        store,
        FRAUD_DEV_STALE,
        NOW - timedelta(hours=3),
        errors=[
            SpokeErrorEntry(
                "FailedTrainingJobs",
                "AccessDeniedException",
                "not authorized to perform sagemaker:ListTrainingJobs",
            )
        ],
    )
    record_seen(store, CHURN_PROD_FRESH, NOW - timedelta(minutes=90))


def record_seen(
    store: HubStore,
    account: str,
    seen_at: datetime,
    errors: list[SpokeErrorEntry] | None = None,
) -> None:
    """Set a spoke's freshness where ingest keeps it, in its latest item (`latest_item_format`):
    its newest extraction and its arrival at `seen_at`, with these errors."""
    spoke = store.registry.get_spoke(account)
    assert spoke is not None and spoke.project_name and spoke.environment
    key = table_design.latest_key(spoke.project_name, spoke.environment, account, REGION)
    millis = latest_item_format.epoch_millis(format_timestamp(seen_at))
    boto3.Session(region_name=REGION).client("dynamodb").update_item(
        TableName=store.table_name,
        Key={name: {"S": value} for name, value in key.items()},
        UpdateExpression="SET #t = :t, #h = :t, #x = :x",
        ExpressionAttributeNames={
            "#t": latest_item_format.NEWEST,
            "#h": latest_item_format.SEEN,
            "#x": latest_item_format.ERRORS,
        },
        ExpressionAttributeValues={
            ":t": {"N": str(millis)},
            ":x": {
                "L": [
                    {"L": [{"S": e.metric_name}, {"S": e.error_code}, {"S": e.message}]}
                    for e in errors or []
                ]
            },
        },
    )


QUARANTINE_REASON = "account 444444444444 is not enrolled for project fraud-detection"


def quarantine_events(store: HubStore) -> None:
    """Two events refused in the last seven days, and one older (outside the default window)."""
    for number, received in enumerate(
        (NOW - timedelta(hours=1), NOW - timedelta(days=2), NOW - timedelta(days=10))
    ):
        store.quarantine.add(
            QuarantineRecord.build(
                received_at=received,
                event_id=f"quarantined-event-{number}",
                reason_code="NotEnrolled",
                reason=QUARANTINE_REASON,
                raw_event='{"detail": {}}',
                message_id=f"message-{number}",
                claimed_account_id="444444444444",
                claimed_project_name="fraud-detection",
                claimed_environment="dev",
                retention_days=30,
            )
        )


def fill_known_hub(store: HubStore) -> None:
    register_spokes(store)
    store_datapoints(store, known_datapoints())
    record_known_freshness(store)
    quarantine_events(store)


@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps; `on_sleep` simulates spokes."""

    now: datetime = NOW
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[FakeTime], None] | None = None

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep(self)


@dataclass
class Hub:
    session: boto3.Session
    store: HubStore
    time: FakeTime
    operations: list[str]

    def run(self, *arguments: str) -> Result:
        """`dsdash ARGUMENTS` against this hub, with the fake clock and sleep."""
        runtime = ConsoleRuntime(clock=self.time.clock, sleep=self.time.sleep)
        return CliRunner().invoke(app, list(arguments), obj=runtime)
