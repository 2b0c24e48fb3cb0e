"""Cost inputs: what one extraction makes AWS do, dsdash against the sample's design, measured.

`python -m bench --only cost` measures, on moto, per extraction of one spoke with M metrics:
- **dsdash**: the spoke's PutEvents calls, events and bytes (the extractor's own event builder and
  `runtime_common.events.put_events`); the hub ingest handler's calls for SQS batches of 1 and 10
  records, with DynamoDB write and read units computed from the items actually written and read
  (`cli.capacity.dynamodb_units`), Firehose records and 5 KB-rounded bytes, S3 objects; the
  table bytes one spoke keeps and the bytes each extraction adds; the Parquet bytes per datapoint
  written by the contract's writer; the listing calls of the catalog's metrics on a small spoke.
- **the sample's design** (the original sample, named as such): one v1 event per metric, sent one
  per PutEvents call; one hub Lambda invocation per event writing the event's detail as one
  DynamoDB item (PutItem, measured on moto); one unpaginated listing per metric.

A full run also measures each Lambda function's CPU time, peak RSS and template memory
(`bench.lambda_footprint`, the file's `lambda` section; a quick run prices with the committed
ones), and prints the memory the model would choose (`bench.lambda_sizing_report`).

Every call is counted with botocore `before-call`/`after-call` hooks on every session
(`bench.call_counting`), so after the ingest path changes, the counts follow what it does. The
figures are written to `cli/capacity/measured_counts.json`, which `dsdash plan` reads; a test
re-measures quickly and fails when the committed file is stale.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import boto3
from moto import mock_aws

from bench.call_counting import count_all_calls
from bench.cost_accounting import (
    READ_OPERATIONS,
    WRITE_OPERATIONS,
    RequestTally,
    dynamodb_units,
    firehose_figures,
)
from bench.cost_spokes import HUB_ACCOUNT, REGION, envelope, spoke, sqs_record
from bench.lambda_sizing_report import sizing_section
from bench.publishing import extraction_datapoints
from bench.sample_design_functions import create_sample_table
from bench.support import BenchmarkResult
from cli.capacity.measured import MEASURED_COUNTS_PATH
from contracts import SPOKE_BUS_NAME
from contracts.history_parquet import write_parquet
from contracts.history_table import (
    HISTORY_DELIVERY_STREAM_NAME,
    HISTORY_PREFIX,
    history_bucket_name,
    history_row,
)
from hub_stack import table_design
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState
from runtime_common.aws import client
from runtime_common.events import entry_size, put_events
from spoke_stackset.extractor.runtime.event_builder import (
    build_v1_entries,
    build_v2_entries,
)

TABLE: Final = "bench-cost-hub"
SAMPLE_TABLE: Final = "bench-cost-sample"
FULL_METRIC_COUNTS: Final = (1, 15, 50)
QUICK_METRIC_COUNTS: Final = (15,)
BATCH_SIZES: Final = (1, 10)
EVENTBRIDGE_CHUNK_BYTES: Final = 64 * 1024
PARQUET_SAMPLE_SPOKES: Final = 100
PARQUET_MOMENT: Final = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@contextmanager
def _hub_environment() -> Iterator[None]:
    """The ingest handler's environment, as the hub stack sets it."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "TABLE_NAME": TABLE,
            "RETENTION_DAYS": "400",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    logging.getLogger("dsdash-hub-ingest").setLevel(logging.WARNING)
    boto3.DEFAULT_SESSION = None  # the handler's clients must come from a hooked session
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = None


def _ingest(
    records: Sequence[dict[str, Any]], plain: Any, stored: dict[tuple[str, str], int]
) -> dict[str, Any]:
    from hub_stack.ingest.runtime import ingest

    with _hub_environment(), count_all_calls(tally=RequestTally()) as counted:
        response = ingest.handler({"Records": list(records)}, None)
    tally = counted if isinstance(counted, RequestTally) else RequestTally()
    failures = len(response.get("batchItemFailures", []))
    if failures:
        raise RuntimeError(f"ingest refused {failures} of {len(records)} cost-bench records")
    return {
        "aws_calls": tally.total(),
        "dynamodb_write_calls": sum(tally.count("dynamodb", name) for name in WRITE_OPERATIONS),
        "dynamodb_read_calls": sum(tally.count("dynamodb", name) for name in READ_OPERATIONS),
        **{
            f"dynamodb_{name}": value
            for name, value in dynamodb_units(tally, plain, stored).items()
        },
        **{f"firehose_{name}": value for name, value in firehose_figures(tally).items()},
        "firehose_calls": tally.count("firehose"),
        "s3_put_calls": tally.count("s3", "PutObject"),
        "calls": dict(sorted(Counter(tally.calls).items())),
    }


def _measure_dsdash(metrics: int, session: boto3.Session, plain: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    datapoints = extraction_datapoints(metrics)
    entries = build_v2_entries(envelope(0, now), datapoints, [], SPOKE_BUS_NAME).entries
    with count_all_calls(session) as spoke_calls:
        put_events(client(session, "events"), entries)
    sizes = [entry_size(entry) for entry in entries]
    figures: dict[str, Any] = {
        "spoke_put_events_calls": spoke_calls.total(),
        "events": len(entries),
        "event_bytes": sum(sizes),
        "event_billing_units": sum(-(-size // EVENTBRIDGE_CHUNK_BYTES) for size in sizes),
    }
    stored: dict[tuple[str, str], int] = {}
    first = 0
    for batch in BATCH_SIZES:
        # New spokes for each pass: the first extraction of a spoke, its item created.
        moment = now
        records = []
        for index in range(first, first + batch):
            for entry in build_v2_entries(
                envelope(index, moment), datapoints, [], SPOKE_BUS_NAME
            ).entries:
                records.append(sqs_record(entry, index, moment))
        figures[f"ingest_batch_{batch}"] = _ingest(records, plain, stored)
        first += batch
    # The next extraction of the first spoke: what one more extraction adds to the table.
    before = sum(stored.values())
    keys_before = set(stored)
    later = now + timedelta(minutes=1)
    records = [
        sqs_record(entry, 0, later)
        for entry in build_v2_entries(envelope(0, later), datapoints, [], SPOKE_BUS_NAME).entries
    ]
    figures["ingest_next_extraction"] = _ingest(records, plain, stored)
    # What accumulates: items the next extraction created (history items, if the table keeps
    # history). An item it rewrote (a latest item, the registry) stays one item: its size is in
    # `table_bytes_per_spoke`, not multiplied by the extractions retained.
    figures["table_bytes_added_per_extraction"] = sum(
        size for key, size in stored.items() if key not in keys_before
    )
    figures["table_bytes_per_spoke"] = before / first
    figures["parquet_bytes_per_datapoint"] = _parquet_bytes_per_datapoint(datapoints)
    return figures


def _parquet_bytes_per_datapoint(datapoints: Sequence[Mapping[str, Any]]) -> float:
    """Bytes per row of one delivery object holding an extraction of many spokes (a fixed
    moment, so the compressed size does not depend on when the benchmark runs)."""
    now = PARQUET_MOMENT
    rows = [
        history_row(
            project=spoke(index)[1],
            environment=spoke(index)[2],
            account_id=spoke(index)[0],
            region=REGION,
            metric_name=str(point["MetricName"]),
            dimensions=point.get("Dimensions") or {},
            metric_value=float(point["MetricValue"]),
            unit=str(point["Unit"]),
            extraction_time=now,
            event_id=str(uuid.UUID(int=index)),
            schema_version=2,
            ingested_at=now,
        )
        for index in range(PARQUET_SAMPLE_SPOKES)
        for point in datapoints
    ]
    with tempfile.TemporaryDirectory(prefix="dsdash-cost-") as directory:
        path = Path(directory) / "sample.parquet"
        written = write_parquet(rows, path)
        return path.stat().st_size / written


def _measure_sample(metrics: int, session: boto3.Session, plain: Any) -> dict[str, Any]:
    """The sample's design: a v1 event per metric, one per PutEvents call, each stored by one
    hub invocation as one item keyed (MetricName, ExtractionDate)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    entries = build_v1_entries(envelope(0, now), extraction_datapoints(metrics), SPOKE_BUS_NAME)
    with count_all_calls(session) as spoke_calls:
        events = client(session, "events")
        for entry in entries.entries:
            put_events(events, [entry])
    with count_all_calls(session, tally=RequestTally()) as hub_calls:
        table = session.resource("dynamodb").Table(SAMPLE_TABLE)
        for entry in entries.entries:
            detail = json.loads(entry["Detail"], parse_float=Decimal, parse_int=Decimal)
            table.put_item(Item=detail)
    tally = hub_calls if isinstance(hub_calls, RequestTally) else RequestTally()
    stored: dict[tuple[str, str], int] = {}
    units = dynamodb_units(tally, plain, stored)
    sizes = [entry_size(entry) for entry in entries.entries]
    return {
        "spoke_put_events_calls": spoke_calls.total(),
        "spoke_listing_calls": metrics,  # the sample's design: one unpaginated listing each
        "events": len(entries.entries),
        "event_bytes": sum(sizes),
        "event_billing_units": sum(-(-size // EVENTBRIDGE_CHUNK_BYTES) for size in sizes),
        "hub_invocations": len(entries.entries),
        "hub_aws_calls": tally.total(),
        "dynamodb_write_calls": tally.count("dynamodb", "PutItem"),
        "dynamodb_write_units": units["write_units"],
        "table_bytes_added_per_extraction": sum(stored.values()),
        "items_added_per_extraction": len(stored),
    }


def _catalog_listing_calls() -> dict[str, int]:
    """Listing calls of the catalog's SageMaker metrics on a small spoke (every listing fits one
    page), through the spoke's shared-listing extraction."""
    from bench.extraction import REGION as SPOKE_REGION
    from bench.extraction import SpokeSize, sagemaker_metrics, seed_spoke
    from metrics.collect import Extraction
    from sandbox.moto_sagemaker_search import paginated_search

    now = datetime.now(UTC)
    with paginated_search():
        session = boto3.Session(region_name=SPOKE_REGION)
        seed_spoke(
            session,
            SpokeSize(
                training_jobs=20, endpoints=3, notebooks=2, model_packages=2, pipeline_executions=3
            ),
            now,
        )
        metrics = sagemaker_metrics()
        counted_session = boto3.Session(region_name=SPOKE_REGION)
        with count_all_calls(counted_session) as calls:
            extraction = Extraction(counted_session, now=now)
            for metric in metrics:
                list(metric.compute(extraction))
    return {"catalog_metrics": len(metrics), "listing_calls": calls.total()}


def _create_history_stream(session: boto3.Session) -> None:
    """The hub's delivery stream and history bucket, for an ingest path that writes history
    through Firehose (moto accepts the records; the counts are of the calls ingest makes)."""
    bucket = history_bucket_name(HUB_ACCOUNT, REGION)
    session.client("s3").create_bucket(Bucket=bucket)
    session.client("firehose").create_delivery_stream(
        DeliveryStreamName=HISTORY_DELIVERY_STREAM_NAME,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{HUB_ACCOUNT}:role/dsdash-history-delivery",
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": HISTORY_PREFIX,
        },
    )


def measure(metric_counts: Sequence[int]) -> dict[str, Any]:
    """Every count the cost model needs, per number of metrics per extraction."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        plain = session.client("dynamodb")
        session.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
        _create_history_stream(session)
        listing = _catalog_listing_calls()
        measured: dict[str, Any] = {}
        for metrics in metric_counts:
            for table in (TABLE, SAMPLE_TABLE):
                if table in plain.list_tables()["TableNames"]:
                    plain.delete_table(TableName=table)
            table_design.create_table(plain, TABLE)
            create_sample_table(plain, SAMPLE_TABLE)
            store = HubStore(TABLE, session)
            for index in range(sum(BATCH_SIZES)):
                account, project, environment = spoke(index)
                store.registry.set_spoke_state(
                    account, SpokeState.ENROLLED, project_name=project, environment=environment
                )
            dsdash = _measure_dsdash(metrics, session, plain)
            dsdash["spoke_listing_calls"] = listing["listing_calls"]
            measured[str(metrics)] = {
                "dsdash": dsdash,
                "sample": _measure_sample(metrics, session, plain),
            }
    return {
        "generated_by": "python -m bench --only cost",
        "catalog": listing,
        "batch_sizes": list(BATCH_SIZES),
        "by_metrics": measured,
    }


def comparable(document: Mapping[str, Any]) -> Any:
    """The counts a staleness check compares: calls, events, units and bytes per extraction
    (everything under `by_metrics` but the per-call breakdown). Not the `lambda` section: CPU
    time and peak RSS differ from run to run and machine to machine (they are measured, printed
    and priced, never compared), and its memory is the template's, which a template test checks."""
    by_metrics = document["by_metrics"]
    return {
        metrics: {
            design: {
                name: value for name, value in figures.items() if not isinstance(value, Mapping)
            }
            | {
                name: {k: v for k, v in value.items() if k != "calls"}
                for name, value in figures.items()
                if isinstance(value, Mapping)
            }
            for design, figures in designs.items()
        }
        for metrics, designs in by_metrics.items()
    }


def run(*, quick: bool = False) -> BenchmarkResult:
    from cli.capacity.cost_model import CostModel, monthly_costs
    from cli.capacity.measured import load_measured

    counts = QUICK_METRIC_COUNTS if quick else FULL_METRIC_COUNTS
    document = measure(counts)
    if quick:
        # The footprint takes a CDK synth and a moto server with two measured processes (a few
        # minutes on a shared machine): a quick run prices with the committed figures.
        document["lambda"] = load_measured().get("lambda", {})
    else:
        from bench.lambda_footprint import measure_footprints

        document["lambda"] = measure_footprints()
        MEASURED_COUNTS_PATH.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    model = CostModel.load(measured=document)
    result = BenchmarkResult("cost", "Cost: dsdash against the sample's design, measured counts")
    costs = monthly_costs(model, spokes=1_000, metrics=15, period_seconds=3600)
    section = result.section("Monthly cost, 1,000 spokes x 15 metrics, hourly (us-east-1 list)")
    for line in costs.lines:
        section.add(line.name, f"${line.dsdash:,.2f} vs ${line.sample:,.2f}", line.basis)
    section.add("total", f"${costs.dsdash_total:,.2f} vs ${costs.sample_total:,.2f}")
    section.add("ratio dsdash / sample", costs.ratio)
    sizing_section(result, model, costs.records_per_invocation)
    figures = document["by_metrics"]["15"]
    result.figures.update(
        {
            "ratio_vs_sample": costs.ratio,
            "dsdash_monthly_usd": costs.dsdash_total,
            "sample_monthly_usd": costs.sample_total,
            "dynamodb_write_calls_per_event_measured": figures["dsdash"]["ingest_batch_1"][
                "dynamodb_write_calls"
            ],
            "measured_file_written": not quick,
            "lambda_measured_this_run": not quick,
        }
    )
    return result
