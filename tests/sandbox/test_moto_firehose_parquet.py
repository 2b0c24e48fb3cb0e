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
from hub_stack.ingest.runtime.history_delivery import HistoryDelivery
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


def _objects(session: boto3.Session) -> list[str]:
    return [o["Key"] for o in session.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]


def _parquet_rows(session: boto3.Session, key: str) -> object:
    body = session.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def test_rows_land_as_parquet_of_the_contract_schema_under_the_delivery_day(s3: object) -> None:
    session: boto3.Session = s3  # type: ignore[assignment]
    calls: list[int] = []
    firehose = session.client("firehose")
    firehose.meta.events.register(
        "before-parameter-build.firehose.PutRecordBatch",
        lambda params, **_: calls.append(len(params["Records"])),
    )
    delivery = HistoryDelivery(firehose, history_table.HISTORY_DELIVERY_STREAM_NAME)
    sent = [[_row("Jobs", 3), _row("Endpoints", 2)], [_row("Failed", 0)]]
    for index, rows in enumerate(sent):
        delivery.add(f"message-{index}", rows)

    assert delivery.flush() == []

    assert calls == [1]  # both events' rows packed into one record
    today = datetime.now(UTC)
    (parquet_key,) = [
        k for k in _objects(session) if k.endswith(history_table.HISTORY_FILE_EXTENSION)
    ]
    assert parquet_key.startswith(history_table.partition_folder(today))
    table = _parquet_rows(session, parquet_key)
    assert table.schema == history_parquet.arrow_schema()  # type: ignore[attr-defined]
    assert sorted(table.column("metric_name").to_pylist()) == ["Endpoints", "Failed", "Jobs"]  # type: ignore[attr-defined]
    assert table.column("dimensions").to_pylist().count('{"InstanceType":"ml.m5.xlarge"}') == 1  # type: ignore[attr-defined]


def test_concatenated_documents_convert_and_a_record_that_does_not_fails_whole(s3: object) -> None:
    """Firehose reads `{...}{...}` in one record as two rows; a record holding one document that
    does not convert goes whole to the error prefix, its good rows with it."""
    session: boto3.Session = s3  # type: ignore[assignment]

    def document(row: dict[str, object]) -> bytes:
        return json.dumps(row, separators=(",", ":")).encode()

    broken = dict(_row("Jobs", 1), metric_value="not a number")
    concatenated = document(_row("Jobs", 3)) + document(_row("Endpoints", 2))
    mixed = document(_row("Failed", 0)) + b"\n" + document(broken)
    session.client("firehose").put_record_batch(
        DeliveryStreamName=history_table.HISTORY_DELIVERY_STREAM_NAME,
        Records=[{"Data": concatenated}, {"Data": mixed}],
    )

    keys = _objects(session)
    (parquet_key,) = [k for k in keys if k.endswith(history_table.HISTORY_FILE_EXTENSION)]
    rows = _parquet_rows(session, parquet_key)
    assert sorted(rows.column("metric_name").to_pylist()) == ["Endpoints", "Jobs"]  # type: ignore[attr-defined]
    (error_key,) = [k for k in keys if k.startswith("errors/")]
    today = datetime.now(UTC)
    assert error_key.startswith(
        evaluate_prefix(
            history_table.DELIVERY_ERROR_PREFIX, today, error_type="format-conversion-failed"
        )
    )
    failed = session.client("s3").get_object(Bucket=BUCKET, Key=error_key)["Body"].read()
    assert failed == mixed
