"""Ingest: DynamoDB and Firehose calls per event, registry reads per batch, units, invocations.

The real ingest (`hub_stack.ingest.runtime.ingest.ingest_batch`) runs on a hub built on moto
(`bench.ingest_hub`: the table as `hub_stack.table_design` lays it out, a spoke registry larger
than the batch's senders, the stack's history delivery stream with the sandbox's Parquet
conversion), fed SQS records of events the spoke's own event builder made.

Every figure is counted from what the code did: botocore hooks count the calls (and the registry
items BatchGetItem returned), the Firehose records are the ones sent, history rows are read back
from the Parquet objects, and write/read units come from the items actually in the table
(`bench.dynamodb_units`). The item sizes come from a Scan, which only the benchmark does.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from moto import mock_aws

from bench import dynamodb_units
from bench.ingest_hub import (
    METRICS_PER_EVENT,
    NOW,
    REGISTRY_PER_SENDER,
    SPOKE_REGIONS,
    batch_of,
    build_hub,
    create_history_stream,
    datapoint_keys,
    empty_history,
    history_rows,
    plain_session,
    scan_items,
    sqs_record,
)
from bench.support import AwsCallCounter, BenchmarkResult, ceil_div, ratio, stopwatch
from hub_stack import table_design
from hub_stack.ingest.runtime import ingest
from hub_stack.runtime.store import HubStore
from sandbox.moto_firehose_parquet import firehose_parquet_conversion

# The hub stack's SQS batch size (hub_stack/stack.py INGEST_BATCH_SIZE; not imported, because
# importing the stack loads the CDK, which takes seconds).
FULL_BATCH_RECORDS = 100

QUICK_BATCH_RECORDS = 20

# The batch sizes the SQS event source mapping produces (hub_stack/stack.py INGEST_BATCH_SIZE is
# the largest): one record when the queue trickles, 10 per receive, 100 when it is full.
SQS_BATCH_SIZES = (1, 10, 100)

FULL_INVOCATION_EVENTS = 300

QUICK_INVOCATION_EVENTS = 40


def _measure_batch(result: BenchmarkResult, records: int) -> int:
    """One batch of `records` records from records/2 senders, then its replay. Returns the
    largest number of DynamoDB write calls any event of it cost."""
    senders = records // len(SPOKE_REGIONS)
    hub = build_hub("bench-hub-ingest", senders)
    extraction = NOW - timedelta(hours=1)
    batch = batch_of(senders, extraction)
    datapoints = len(batch) * METRICS_PER_EVENT

    hub.ledger.reset()
    with stopwatch() as watch:
        first = hub.run(batch)
    first_writes = len(hub.ledger.writes)
    items = scan_items(hub.plain, hub.table)
    first_units = hub.ledger.write_units(items)
    rows = history_rows(plain_session())
    firehose_calls, firehose_records = hub.ledger.firehose_calls, len(hub.ledger.firehose_records)
    billed = hub.ledger.firehose_billed_units()
    registry_read, registry_calls = hub.ledger.registry_items_read, hub.ledger.registry_calls
    latest_items = [item for key, item in items.items() if key[0].startswith("LATEST#")]
    latest_sizes = [dynamodb_units.item_size(item) for item in latest_items]

    hub.ledger.reset()
    replay = hub.run(batch)
    replay_writes = len(hub.ledger.writes)
    replay_units = hub.ledger.write_units(scan_items(hub.plain, hub.table))
    replay_rows = history_rows(plain_session())
    quarantined = hub.store.quarantine.count()

    section = result.section(
        f"One SQS batch: {len(batch)} records from {senders} spokes (two regions each), v2 events "
        f"of {METRICS_PER_EVENT} metrics ({datapoints:,} datapoints); registry of "
        f"{senders * REGISTRY_PER_SENDER} spokes"
    )
    section.add("records failed (batchItemFailures)", len(first["batchItemFailures"]))
    section.add(
        "registry items read (BatchGetItem)",
        registry_read,
        f"{senders} distinct senders, {registry_calls} call(s); the registry holds "
        f"{senders * REGISTRY_PER_SENDER}",
    )
    section.add(
        "DynamoDB write calls per event",
        ratio(first_writes, len(batch)),
        f"{first_writes} calls: one conditional UpdateItem of the spoke's latest item, which "
        "holds its freshness too; no history item",
    )
    section.add(
        "write units per event (from item sizes)",
        ratio(first_units, len(batch)),
        f"latest item {min(latest_sizes):,}-{max(latest_sizes):,} bytes",
    )
    section.add(
        "Firehose PutRecordBatch calls / records",
        f"{firehose_calls} / {firehose_records}",
        f"the batch's rows packed into as few records as fit; {billed} billed 5 KB increments "
        f"({ratio(billed, datapoints):.3f} per datapoint)",
    )
    section.add("history rows in the Parquet files", len(rows), f"{datapoints:,} datapoints sent")
    section.add("wall time (s, informational)", watch.seconds)

    again = result.section("Replay of the same batch (SQS or EventBridge redelivery)")
    again.add("records failed / quarantined", f"{len(replay['batchItemFailures'])} / {quarantined}")
    again.add(
        "DynamoDB write calls per event",
        ratio(replay_writes, len(batch)),
        "the latest item's condition refuses the replay; freshness is already as new",
    )
    again.add("write units per event", ratio(replay_units, len(batch)))
    again.add(
        "new datapoint keys in history",
        len(datapoint_keys(replay_rows)) - len(datapoint_keys(rows)),
        f"{len(replay_rows) - len(rows)} rows delivered again, the same keys: queries keep one",
    )

    result.figures.update(
        {
            "batch_records": len(batch),
            "batch_datapoints": datapoints,
            "batch_distinct_senders": senders,
            "registry_size": senders * REGISTRY_PER_SENDER,
            "registry_items_read_per_batch": registry_read,
            "registry_batch_get_calls": registry_calls,
            "batch_failures": len(first["batchItemFailures"]),
            "batch_dynamodb_write_calls": first_writes,
            "batch_write_units": first_units,
            "write_units_per_event": ratio(first_units, len(batch)),
            "latest_item_bytes_max": max(latest_sizes),
            "latest_items_after_batch": len(latest_items),
            "firehose_put_record_batch_calls": firehose_calls,
            "firehose_records": firehose_records,
            "firehose_billed_5kb_units": billed,
            "history_rows_after_batch": len(rows),
            "replay_failures": len(replay["batchItemFailures"]),
            "replay_quarantined": quarantined,
            "replay_dynamodb_write_calls": replay_writes,
            "replay_write_units": replay_units,
            "replay_new_datapoint_keys": len(datapoint_keys(replay_rows))
            - len(datapoint_keys(rows)),
            "replay_rows_delivered": len(replay_rows) - len(rows),
        }
    )
    return max(ceil_div(first_writes, len(batch)), ceil_div(replay_writes, len(batch)))


def _measure_single_events(result: BenchmarkResult) -> int:
    """The write calls of one event in each case ingest meets; returns the largest."""
    hub = build_hub("bench-hub-cases", 1)
    newer, older = NOW - timedelta(hours=1), NOW - timedelta(hours=2)
    cases = {
        "new extraction": [sqs_record(0, newer)],
        "identical replay": [sqs_record(0, newer)],
        "late extraction (older than stored)": [sqs_record(0, older)],
        "replay of the late extraction": [sqs_record(0, older)],
        "conflicting replay (quarantined)": [sqs_record(0, newer, value_offset=1)],
    }
    section = result.section("DynamoDB write calls of one event, case by case")
    calls: dict[str, int] = {}
    for label, records in cases.items():
        hub.ledger.reset()
        response = hub.run(records)
        calls[label] = len(hub.ledger.writes)
        operations = ", ".join(operation for operation, _ in hub.ledger.writes)
        failed = len(response["batchItemFailures"])
        section.add(label, calls[label], operations + (f"; {failed} failed" if failed else ""))
    codes = [record.reason_code for record in hub.store.quarantine.recent()]
    section.add("quarantined", ", ".join(codes) or "none")
    result.figures["write_calls_by_case"] = calls
    result.figures["conflicting_replay_quarantined"] = codes == ["ConflictingReplay"]
    return max(calls.values())


def _measure_invocations(result: BenchmarkResult, events: int) -> None:
    """Lambda invocations per 1,000 datapoints when the event source mapping hands over batches
    of 1, 10 or 100 records: the same events ingested batch by batch, invocations counted."""
    section = result.section(
        f"Lambda invocations per 1,000 datapoints ({events} events of {METRICS_PER_EVENT} metrics)"
    )
    per_thousand: dict[str, float | None] = {}
    hub = build_hub("bench-hub-invocations", events, registry_per_sender=1)
    for run_index, size in enumerate(SQS_BATCH_SIZES):
        extraction = NOW - timedelta(hours=1, minutes=run_index)
        records = [sqs_record(index, extraction) for index in range(events)]
        invocations = 0
        before = len(history_rows(plain_session()))
        for start in range(0, len(records), size):
            hub.run(records[start : start + size])
            invocations += 1
        delivered = len(history_rows(plain_session())) - before
        per_thousand[str(size)] = ratio(invocations * 1000, delivered)
        section.add(
            f"batches of {size} record(s)",
            per_thousand[str(size)],
            f"{invocations} invocations for {delivered:,} datapoints",
        )
        empty_history()
    result.figures["lambda_invocations_per_1000_datapoints"] = per_thousand


def _measure_latest_read(result: BenchmarkResult, senders: int) -> None:
    """`latest_values_all` (dashboard, `dsdash query --latest`, alerts) after one batch."""
    hub = build_hub("bench-hub-latest", senders)
    hub.run(batch_of(senders, NOW - timedelta(hours=1)))
    counter = AwsCallCounter(hub.session)
    store = HubStore(hub.table, hub.session, sleep=lambda _: None, clock=lambda: NOW)
    latest = store.latest_values_all()
    items = scan_items(hub.plain, hub.table)
    latest_sizes = [
        dynamodb_units.item_size(item)
        for key, item in items.items()
        if key[0].startswith("LATEST#")
    ]
    registry_sizes = [
        dynamodb_units.item_size(item)
        for key, item in items.items()
        if key[0] == table_design.SPOKE_REGISTRY_PARTITION
    ]
    queries = counter.count("Query")
    units = dynamodb_units.query_read_units(
        latest_sizes, consistent=False
    ) + dynamodb_units.query_read_units(registry_sizes, consistent=True)
    values = sum(len(records) for records in latest.values())
    section = result.section(f"latest_values_all after the batch ({len(latest)} projects)")
    section.add(
        "Query calls / latest items read / values",
        f"{queries} / {len(latest_sizes)} / {values:,}",
        f"{table_design.LATEST_SHARDS} shards per project plus the registry; one item per spoke "
        "and region holds all its series",
    )
    section.add("read units (from item sizes)", units)
    result.figures.update(
        {
            "latest_read_query_calls": queries,
            "latest_read_items": len(latest_sizes),
            "latest_read_values": values,
            "latest_read_units": units,
            "latest_projects": len(latest),
        }
    )
    empty_history()


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(
        "ingest", "Ingest: DynamoDB and Firehose calls per event, registry reads, invocations"
    )
    # One INFO line per stored event would drown the report.
    ingest.logger.setLevel(logging.WARNING)
    records = QUICK_BATCH_RECORDS if quick else FULL_BATCH_RECORDS
    with mock_aws(), firehose_parquet_conversion():
        create_history_stream(plain_session())
        worst_batch = _measure_batch(result, records)
        empty_history()
        worst_case = _measure_single_events(result)
        empty_history()
        _measure_invocations(result, QUICK_INVOCATION_EVENTS if quick else FULL_INVOCATION_EVENTS)
        _measure_latest_read(result, records // len(SPOKE_REGIONS))
    result.figures["dynamodb_write_calls_per_event"] = max(worst_batch, worst_case)
    result.notes.append(
        "dynamodb_write_calls_per_event is the largest count of one event over the batch, its "
        "replay and the cases above; alert state writes (only when an alert changes state) "
        "are not counted"
    )
    result.notes.append(
        "moto returns a fixed ConsumedCapacity: units are computed from the item sizes by "
        "DynamoDB's rules (bench/dynamodb_units.py)"
    )
    return result
