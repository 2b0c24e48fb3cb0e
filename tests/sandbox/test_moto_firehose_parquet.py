"""The sandbox's Firehose record-format conversion: history rows land as Parquet of the contract's
schema under the evaluated partition prefix; rows that do not convert go to the error prefix."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from contracts import history_parquet, history_table
from hub_stack.runtime.history_delivery import HistoryDelivery
from sandbox.moto_firehose_parquet import evaluate_prefix, firehose_parquet_conversion

REGION = "eu-west-1"
BUCKET = "dsdash-history-123456789012-eu-west-1"


def _row(metric: str, value: float) -> dict[str, object]:
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    return history_table.history_row(
        project="alpha",
        environment="dev",
        account_id="111111111111",
        region=REGION,
        metric_name=metric,
        dimensions={"InstanceType": "ml.m5.xlarge"} if metric == "Jobs" else {},
        metric_value=value,
        unit="Count",
        extraction_time=moment,
        event_id="event-1",
        schema_version=2,
        ingested_at=moment,
    )


@pytest.fixture
def s3() -> Iterator[object]:
    with mock_aws(), firehose_parquet_conversion():
        session = boto3.Session(region_name=REGION)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        session.client("firehose").create_delivery_stream(
            DeliveryStreamName=history_table.HISTORY_DELIVERY_STREAM_NAME,
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{BUCKET}",
                "Prefix": history_table.DELIVERY_PREFIX,
                "ErrorOutputPrefix": history_table.DELIVERY_ERROR_PREFIX,
                "FileExtension": history_table.HISTORY_FILE_EXTENSION,
                "DataFormatConversionConfiguration": {
                    "Enabled": True,
                    "SchemaConfiguration": {
                        "DatabaseName": history_table.GLUE_DATABASE_NAME,
                        "TableName": history_table.GLUE_TABLE_NAME,
                        "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                    },
                    "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
                },
            },
        )
        yield session


def test_rows_land_as_parquet_of_the_contract_schema_under_the_delivery_day(s3: object) -> None:
    session: boto3.Session = s3  # type: ignore[assignment]
    delivery = HistoryDelivery(
        session.client("firehose"), history_table.HISTORY_DELIVERY_STREAM_NAME
    )
    sent = [[_row("Jobs", 3), _row("Endpoints", 2)], [_row("Failed", 0)]]
    for index, rows in enumerate(sent):
        delivery.add(f"message-{index}", rows)
    broken = dict(_row("Jobs", 1), metric_value="not a number")
    delivery.add("broken", [broken])

    assert delivery.flush() == []

    client = session.client("s3")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    today = datetime.now(UTC)
    (parquet_key,) = [k for k in keys if k.endswith(history_table.HISTORY_FILE_EXTENSION)]
    assert parquet_key.startswith(history_table.partition_folder(today))
    table = pq.read_table(
        io.BytesIO(client.get_object(Bucket=BUCKET, Key=parquet_key)["Body"].read())
    )
    assert table.schema == history_parquet.arrow_schema()
    assert sorted(table.column("metric_name").to_pylist()) == ["Endpoints", "Failed", "Jobs"]
    assert table.column("dimensions").to_pylist().count('{"InstanceType":"ml.m5.xlarge"}') == 1
    (error_key,) = [k for k in keys if k.startswith("errors/")]
    assert error_key.startswith(
        evaluate_prefix(
            history_table.DELIVERY_ERROR_PREFIX, today, error_type="format-conversion-failed"
        )
    )
    failed = client.get_object(Bucket=BUCKET, Key=error_key)["Body"].read().decode()
    assert json.loads(failed)["metric_value"] == "not a number"
