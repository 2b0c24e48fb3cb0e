"""moto gaps of the hub's history storage (docs/architecture.md §6), filled at moto's own seams.

`firehose_parquet_conversion()` installs the two patches below (the sandbox world does, for its
lifetime); importing the module registers the CloudFormation gap handlers.

moto 5.2.5 gaps filled here:
- moto gap: moto's CloudFormation has no model for `AWS::Glue::Database`, `AWS::Glue::Table`,
  `AWS::Athena::WorkGroup`, `AWS::KinesisFirehose::DeliveryStream` or `AWS::Logs::LogStream`
  (it would fail the stack). Gap handlers (`sandbox.moto_gap_registry`) create each through
  moto's backend from the template's resolved properties, and delete it with the stack.
- moto gap: moto's Firehose accepts a delivery stream's `DataFormatConversionConfiguration` but
  converts nothing: it writes the records' bytes as they came, under the prefix taken literally
  (`history/dt=!{timestamp:yyyy-MM-dd}/` stays unevaluated) plus its own `YYYY/MM/DD/HH/`
  folders. For a stream whose conversion names the dsdash history table
  (`contracts.history_table`), `firehose_parquet_conversion()` replaces that delivery: the JSON
  rows of the records become one Parquet object written by `contracts.history_parquet.write_parquet`
  (the same schema the Glue table declares) under the prefix with its `!{timestamp:...}` evaluated
  at delivery time, as Firehose does; records that do not convert go under the error prefix
  (`format-conversion-failed`), whole, as Firehose writes them. Other streams keep moto's
  behaviour.
- moto gap: moto evaluates a bucket policy's statements without their conditions, so the
  `enforce_ssl` statement every dsdash bucket carries (Deny s3:* when `aws:SecureTransport` is
  false) denies every GetObject. Every request the sandbox makes is HTTPS (boto3's endpoints), so
  that condition never holds: the patched check leaves exactly those statements out, and
  evaluates the rest of the policy as moto does.
- Not emulated: Firehose's buffering (up to 128 MiB or 15 minutes per object). Here each
  PutRecordBatch becomes one object at once, so the sandbox has more, smaller objects than AWS;
  the rows, their columns and their partition are the same.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from moto.athena.models import athena_backends
from moto.firehose.models import FirehoseBackend, firehose_backends
from moto.glue.exceptions import EntityNotFoundException
from moto.glue.models import glue_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random
from moto.s3.models import FakeBucket, s3_backends

from contracts import history_parquet, history_table
from sandbox.moto_gap_registry import GapResource, gap_handler
from sandbox.moto_patching import MotoPatches

logger = logging.getLogger(__name__)

# Firehose's `!{timestamp:<Java date format>}` namespace, and the Java letters the dsdash prefixes
# use, in strftime terms.
_TIMESTAMP = re.compile(r"!\{timestamp:([^}]*)\}")
_ERROR_TYPE = re.compile(r"!\{firehose:error-output-type\}")
_JAVA_TO_STRFTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"))


# --- CloudFormation gap handlers -------------------------------------------------------------


@gap_handler
class GlueDatabase(GapResource):
    resource_type = "AWS::Glue::Database"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        database_input = dict(properties["DatabaseInput"])
        name = str(database_input["Name"])
        glue_backends[account_id][region].create_database(name, database_input)
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(EntityNotFoundException):
            glue_backends[account_id][region_name].delete_database(self.physical_resource_id)


@gap_handler
class GlueTable(GapResource):
    resource_type = "AWS::Glue::Table"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        table_input = dict(properties["TableInput"])
        database = str(properties["DatabaseName"])
        glue_backends[account_id][region].create_table(
            database, str(table_input["Name"]), table_input
        )
        return cls(f"{database}|{table_input['Name']}", properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        database, table = self.physical_resource_id.split("|", 1)
        with contextlib.suppress(EntityNotFoundException):
            glue_backends[account_id][region_name].delete_table(database, table)


@gap_handler
class AthenaWorkGroup(GapResource):
    resource_type = "AWS::Athena::WorkGroup"
    name_property = "Name"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("Name") or generated_name)
        athena_backends[account_id][region].create_work_group(
            name,
            dict(properties.get("WorkGroupConfiguration") or {}),
            str(properties.get("Description", "")),
            list(properties.get("Tags") or []),
        )
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        athena_backends[account_id][region_name].delete_work_group(self.physical_resource_id)


@gap_handler
class LogStream(GapResource):
    resource_type = "AWS::Logs::LogStream"
    name_property = "LogStreamName"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("LogStreamName") or generated_name)
        logs_backends[account_id][region].create_log_stream(str(properties["LogGroupName"]), name)
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(Exception):  # the group may have gone first, with its streams
            logs_backends[account_id][region_name].delete_log_stream(
                str(self.properties["LogGroupName"]), self.physical_resource_id
            )


@gap_handler
class DeliveryStream(GapResource):
    resource_type = "AWS::KinesisFirehose::DeliveryStream"
    name_property = "DeliveryStreamName"
    attributes = {"Arn": "arn"}

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("DeliveryStreamName") or generated_name)
        firehose_backends[account_id][region].create_delivery_stream(
            region=region,
            delivery_stream_name=name,
            delivery_stream_type=str(properties.get("DeliveryStreamType") or "DirectPut"),
            kinesis_stream_source_configuration={},
            delivery_stream_encryption_configuration_input=dict(
                properties.get("DeliveryStreamEncryptionConfigurationInput") or {}
            ),
            s3_destination_configuration={},
            extended_s3_destination_configuration=dict(
                properties["ExtendedS3DestinationConfiguration"]
            ),
            redshift_destination_configuration={},
            elasticsearch_destination_configuration={},
            splunk_destination_configuration={},
            http_endpoint_destination_configuration={},
            snowflake_destination_configuration={},
            iceberg_destination_configuration={},
            tags=list(properties.get("Tags") or []),
        )
        return cls(name, properties, account_id, region)

    @property
    def arn(self) -> str:
        return f"arn:aws:firehose:{self.region}:{self.account_id}:deliverystream/{self.physical_resource_id}"

    def delete(self, account_id: str, region_name: str) -> None:
        with contextlib.suppress(Exception):  # already gone: nothing to delete
            firehose_backends[account_id][region_name].delete_delivery_stream(
                self.physical_resource_id
            )


# --- record format conversion -----------------------------------------------------------------


def evaluate_prefix(prefix: str, delivered_at: datetime, *, error_type: str = "") -> str:
    """A Firehose S3 prefix with its `!{timestamp:...}` (and error type) evaluated."""

    def timestamp(match: re.Match[str]) -> str:
        pattern = match.group(1)
        for java, python in _JAVA_TO_STRFTIME:
            pattern = pattern.replace(java, python)
        return delivered_at.astimezone(UTC).strftime(pattern)

    return _ERROR_TYPE.sub(error_type, _TIMESTAMP.sub(timestamp, prefix))


def converts_to_history(destination: Mapping[str, Any]) -> bool:
    """Whether this destination converts to Parquet with dsdash's history table."""
    conversion = destination.get("DataFormatConversionConfiguration") or {}
    schema = conversion.get("SchemaConfiguration") or {}
    enabled = str(conversion.get("Enabled", "false")).lower() == "true"
    return enabled and (schema.get("DatabaseName"), schema.get("TableName")) == (
        history_table.GLUE_DATABASE_NAME,
        history_table.GLUE_TABLE_NAME,
    )


_DOCUMENTS: Final = json.JSONDecoder()


def _rows_of(data: bytes) -> list[Any]:
    """The JSON documents of one record, each a row. Firehose's conversion reads a record as
    JSON documents concatenated (`{"a":1}{"a":2}`, whitespace or newlines between them allowed:
    https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html), so ingest
    packs a batch's rows into one record; a record with anything else (a broken document, text
    between documents) fails whole (ValueError), as the conversion fails the record."""
    text = data.decode("utf-8")
    rows: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return rows
        row, position = _DOCUMENTS.raw_decode(text, position)
        rows.append(row)


def _put_s3_records(
    self: FirehoseBackend,
    delivery_stream_name: str,
    version_id: str,
    s3_destination: dict[str, Any],
    records: list[dict[str, bytes]],
) -> list[dict[str, str]]:
    if not converts_to_history(s3_destination):
        return list(
            PATCHES.original(FirehoseBackend, "put_s3_records")(
                self, delivery_stream_name, version_id, s3_destination, records
            )
        )
    delivered_at = datetime.now(UTC)
    bucket = str(s3_destination["BucketARN"]).split(":")[-1]
    backend = s3_backends[self.account_id][self.partition]
    stamp = f"{delivered_at:%Y-%m-%d-%H-%M-%S}-{mock_random.uuid4()}"
    rows, failed = _convertible(records)
    if rows:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "part.parquet"
            history_parquet.write_parquet(rows, path)
            key = (
                f"{evaluate_prefix(str(s3_destination.get('Prefix', '')), delivered_at)}"
                f"{delivery_stream_name}-{version_id}-{stamp}"
                f"{s3_destination.get('FileExtension', '')}"
            )
            backend.put_object(bucket, key, path.read_bytes())
    if failed:
        error_prefix = evaluate_prefix(
            str(s3_destination.get("ErrorOutputPrefix", "errors/")),
            delivered_at,
            error_type="format-conversion-failed",
        )
        backend.put_object(
            bucket, f"{error_prefix}{delivery_stream_name}-{stamp}", b"".join(failed)
        )
        logger.warning(
            "%d record(s) of %s did not convert to the history table's schema",
            len(failed),
            delivery_stream_name,
        )
    return [{"RecordId": str(mock_random.uuid4())} for _ in records]


def _convertible(records: list[dict[str, bytes]]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The rows that convert, and the records that do not (whole, as Firehose reports them).
    All records are tried at once; only when that fails is each tried alone."""
    parsed: list[tuple[bytes, list[dict[str, Any]] | None]] = []
    for record in records:
        try:
            parsed.append((record["Data"], _rows_of(record["Data"])))
        except ValueError:
            parsed.append((record["Data"], None))
    candidates = [rows for _, rows in parsed if rows is not None]
    if len(candidates) == len(parsed) and _converts([r for rows in candidates for r in rows]):
        return [row for rows in candidates for row in rows], []
    good: list[dict[str, Any]] = []
    failed: list[bytes] = []
    for data, rows in parsed:
        if rows is not None and _converts(rows):
            good.extend(rows)
        else:
            failed.append(data)
    return good, failed


def _converts(rows: list[dict[str, Any]]) -> bool:
    """What Firehose's conversion refuses: a row that is not an object of the table's columns,
    or a value of another type (the Arrow schema of the contract decides)."""
    import pyarrow as pa

    if not all(
        isinstance(row, dict) and set(row) == set(history_table.COLUMN_NAMES) for row in rows
    ):
        return False
    schema = history_parquet.arrow_schema()
    try:
        pa.Table.from_pylist(
            [
                {
                    **row,
                    "extraction_time": history_table.parse_row_timestamp(row["extraction_time"]),
                    "ingested_at": history_table.parse_row_timestamp(row["ingested_at"]),
                }
                for row in rows
            ],
            schema=schema,
        )
    except (ValueError, TypeError, pa.ArrowException):
        return False
    return True


_INSECURE_TRANSPORT_ONLY: Final = {"Bool": {"aws:SecureTransport": "false"}}


def _bucket_permission(self: FakeBucket, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if s.get("Condition") != _INSECURE_TRANSPORT_ONLY]
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(
        action, resource
    )


PATCHES = MotoPatches(
    [
        (FirehoseBackend, "put_s3_records", _put_s3_records),
        (FakeBucket, "get_permission", _bucket_permission),
    ]
)


def firehose_parquet_conversion() -> AbstractContextManager[None]:
    """Convert history rows to Parquet on delivery for the block (unless already installed)."""
    return PATCHES.applied()
