"""The query layer on both engines: same answers, deduplicated replays, pruned S3 reads, and
Athena's client path (polling, paging, failures) on moto."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from athena_on_moto import register_athena_result, run_athena_text_on_duckdb
from history_files import DAYS, METRICS, SPOKES, START, WrittenHistory, write_history
from moto import mock_aws
from moto.moto_api import state_manager

from contracts.history_table import (
    ATHENA_WORKGROUP_NAME,
    history_bucket_name,
)
from hub_stack.history_query import dialect
from hub_stack.history_query.athena_engine import AthenaEngine, AthenaQueryError, PollSchedule
from hub_stack.history_query.duckdb_engine import (
    DuckDbEngine,
    LocalHistorySource,
    S3HistorySource,
)
from hub_stack.history_query.queries import HistoryFilters, aggregate_sql, raw_sql
from hub_stack.history_query.reads import aggregate, aggregate_rows, raw_rows
from hub_stack.history_query.s3_mirror import list_history_objects

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET = history_bucket_name(ACCOUNT, REGION)
WHOLE_RANGE = HistoryFilters(since=START, until=START + timedelta(days=DAYS))


@dataclass
class HistoryHub:
    session: boto3.Session
    written: WrittenHistory
    cache_dir: Path
    calls: list[str]


@pytest.fixture(scope="module")
def history_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryHub]:
    """The files in moto's history bucket, an Athena workgroup, and a call log of the session."""
    root = tmp_path_factory.mktemp("history")
    written = write_history(root)
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.create_bucket(Bucket="results", CreateBucketConfiguration={"LocationConstraint": REGION})
        # A stray object outside the history prefix and one past the range: never read.
        s3.put_object(Bucket=BUCKET, Key="other/readme.txt", Body=b"x")
        for path in written.files:
            s3.upload_file(str(path), BUCKET, str(path.relative_to(root)))
        session.client("athena").create_work_group(
            Name=ATHENA_WORKGROUP_NAME,
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://results/"}},
        )
        calls: list[str] = []
        session.events.register("before-call", lambda model, **_: calls.append(model.name))
        yield HistoryHub(session, written, tmp_path_factory.mktemp("cache"), calls)


def _athena_answer(hub: HistoryHub, sql: str, filters: HistoryFilters) -> Any:
    """Athena's answer on moto: the Athena text run by DuckDB, registered, then read back
    through the real Athena client path."""
    expected, types = run_athena_text_on_duckdb(sql, hub.written.files)
    register_athena_result(expected, types, account_id=ACCOUNT, region=REGION)
    return expected


@pytest.mark.parametrize("per_spoke", [False, True], ids=["by-series", "per-spoke"])
def test_both_engines_return_the_same_aggregates(history_hub: HistoryHub, per_spoke: bool) -> None:
    duckdb_s3 = DuckDbEngine(S3HistorySource(history_hub.session, BUCKET, history_hub.cache_dir))
    duckdb_local = DuckDbEngine(LocalHistorySource(history_hub.written.root))
    athena = AthenaEngine(history_hub.session, sleep=lambda _: None)
    six_hours = 6 * 3600

    from_s3 = aggregate(duckdb_s3, WHOLE_RANGE, bucket_seconds=six_hours, per_spoke=per_spoke)
    from_local = aggregate(duckdb_local, WHOLE_RANGE, bucket_seconds=six_hours, per_spoke=per_spoke)
    athena_sql = aggregate_sql(
        dialect.ATHENA, WHOLE_RANGE, bucket_seconds=six_hours, per_spoke=per_spoke
    )
    _athena_answer(history_hub, athena_sql, WHOLE_RANGE)
    from_athena = aggregate(athena, WHOLE_RANGE, bucket_seconds=six_hours, per_spoke=per_spoke)

    series = {(s[0], s[1], m[0]) for s in SPOKES for m in METRICS}
    spoke_series = len(SPOKES) * len(METRICS)
    buckets = DAYS * 4
    assert len(from_s3) == (spoke_series if per_spoke else len(series)) * buckets
    assert from_s3 == from_local == from_athena
    # Every datapoint counted once: the replayed rows add nothing.
    rows = aggregate_rows(from_s3)
    assert sum(row.datapoints for row in rows) == history_hub.written.rows
    assert all(row.datapoints == 6 * row.spokes for row in rows)


def test_raw_rows_are_deduplicated_and_equal_on_both_engines(history_hub: HistoryHub) -> None:
    engine = DuckDbEngine(LocalHistorySource(history_hub.written.root))
    rows = raw_rows(engine, WHOLE_RANGE)
    assert len(rows) == history_hub.written.rows  # the replay's rows are gone
    # The first delivery's copy is kept, not the replay's.
    assert not any(record["event_id"].startswith("replay-") for record in rows.records())

    _athena_answer(history_hub, raw_sql(dialect.ATHENA, WHOLE_RANGE), WHOLE_RANGE)
    assert raw_rows(AthenaEngine(history_hub.session), WHOLE_RANGE) == rows


def test_filters_and_dimension_values_with_quotes(history_hub: HistoryHub) -> None:
    engine = DuckDbEngine(LocalHistorySource(history_hub.written.root))
    filters = HistoryFilters(
        since=START,
        until=START + timedelta(days=1),
        project="fraud-detection",
        environment="prod",
        account_id="333333333333",
        metric_name="EndpointLatency",
        dimensions={"EndpointName": "fraud's-model"},
    )
    rows = aggregate_rows(aggregate(engine, filters, bucket_seconds=86400, per_spoke=True))
    assert [(row.account_id, row.region, row.datapoints) for row in rows] == [
        ("333333333333", "us-east-1", 24)
    ]
    athena_text = aggregate_sql(dialect.ATHENA, filters, bucket_seconds=86400, per_spoke=True)
    on_duckdb, _ = run_athena_text_on_duckdb(athena_text, history_hub.written.files)
    assert aggregate_rows(on_duckdb) == rows


def test_s3_reads_list_only_the_partitions_in_range_and_reuse_the_cache(
    history_hub: HistoryHub, tmp_path: Path
) -> None:
    source = S3HistorySource(history_hub.session, BUCKET, tmp_path)
    engine = DuckDbEngine(source)
    last_day = HistoryFilters(
        since=START + timedelta(days=DAYS - 1), until=START + timedelta(days=DAYS)
    )
    history_hub.calls.clear()
    aggregate(engine, last_day, bucket_seconds=3600)
    # Partitions from the day before `since` (clock skew): days 2 and 3 and the replay.
    assert source.statistics.downloaded == 3
    assert history_hub.calls.count("GetObject") == 3
    history_hub.calls.clear()
    aggregate(engine, last_day, bucket_seconds=3600)
    assert history_hub.calls == ["ListObjectsV2"]
    assert source.statistics.reused == 3


def test_the_listing_pages_through_the_range_and_stops_after_it(history_hub: HistoryHub) -> None:
    s3 = history_hub.session.client("s3")
    days = [START.date() + timedelta(days=day) for day in range(DAYS)]
    history_hub.calls.clear()
    every = list(list_history_objects(s3, BUCKET, days[0], days[-1], page_size=1))
    assert [item.key for item in every] == sorted(
        str(path.relative_to(history_hub.written.root)) for path in history_hub.written.files
    )
    assert history_hub.calls.count("ListObjectsV2") >= len(every)  # one key a page: all pages
    history_hub.calls.clear()
    first_day_only = list(list_history_objects(s3, BUCKET, days[0], days[0], page_size=1))
    assert [item.partition for item in first_day_only] == [f"{days[0]:%Y-%m-%d}"]
    # The key after the first day's object is past the range: the listing stops there.
    assert history_hub.calls.count("ListObjectsV2") == 2


def test_a_range_without_data_returns_no_rows(history_hub: HistoryHub) -> None:
    engine = DuckDbEngine(S3HistorySource(history_hub.session, BUCKET, history_hub.cache_dir))
    empty = HistoryFilters(since=START - timedelta(days=30), until=START - timedelta(days=20))
    assert len(aggregate(engine, empty, bucket_seconds=3600)) == 0
    assert len(raw_rows(engine, empty)) == 0


def test_athena_polls_with_backoff_until_the_query_succeeds(history_hub: HistoryHub) -> None:
    sleeps: list[float] = []
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 3})
    try:
        _athena_answer(history_hub, raw_sql(dialect.ATHENA, WHOLE_RANGE), WHOLE_RANGE)
        rows = raw_rows(AthenaEngine(history_hub.session, sleep=sleeps.append), WHOLE_RANGE)
    finally:
        state_manager.unset_transition("athena::execution")
    assert len(rows) == history_hub.written.rows
    assert sleeps and sleeps == sorted(sleeps)  # waited, each wait at least the one before


def test_athena_gives_up_after_its_poll_budget(history_hub: HistoryHub) -> None:
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 1000})
    try:
        engine = AthenaEngine(
            history_hub.session,
            poll=PollSchedule(first_seconds=1, longest_seconds=4, timeout_seconds=10),
            sleep=lambda _: None,
        )
        with pytest.raises(AthenaQueryError) as raised:
            raw_rows(engine, WHOLE_RANGE)
    finally:
        state_manager.unset_transition("athena::execution")
    assert raised.value.state == "TIMED OUT"
    assert raised.value.query_id in str(raised.value)


def test_a_failed_athena_query_names_its_id_and_reason(history_hub: HistoryHub) -> None:
    # moto gap: moto's queries always succeed and carry no StateChangeReason, so the answer of
    # GetQueryExecution is turned into Athena's failure shape after moto produced it.
    def fail(parsed: dict[str, Any], **_: Any) -> None:
        parsed["QueryExecution"]["Status"].update(
            State="FAILED",
            StateChangeReason="TABLE_NOT_FOUND: line 4:10: Table 'dsdash.metric_history' does not exist",
        )

    history_hub.session.events.register("after-call.athena.GetQueryExecution", fail)
    try:
        with pytest.raises(AthenaQueryError) as raised:
            raw_rows(AthenaEngine(history_hub.session), WHOLE_RANGE)
    finally:
        history_hub.session.events.unregister("after-call.athena.GetQueryExecution", fail)
    message = str(raised.value)
    assert message.startswith(f"Athena query {raised.value.query_id} FAILED: TABLE_NOT_FOUND")
    assert "\n" not in message
