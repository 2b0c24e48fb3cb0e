"""The deployed hub's engine: Athena over the Glue table (docs/architecture.md §7).

StartQueryExecution in the dsdash workgroup (whose configuration holds the encrypted results
location), GetQueryExecution polled with the backoff of `PollSchedule` (`runtime_common.backoff`),
then GetQueryResults through its paginator, each value converted from Athena's text by the
column's declared type. A query that does not succeed raises `AthenaQueryError`, whose one-line
message names the query id, its state and Athena's state-change reason.

moto gap: moto's Athena runs no SQL. It answers GetQueryResults with results registered in
advance through `/moto-api/static/athena/query-results`, never pages them, and reports no
StateChangeReason. Tests register the rows DuckDB computes from the same files; the SQL text
itself is checked by running it on DuckDB (`dialect.duckdb_trino_shim`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from contracts.history_table import ATHENA_WORKGROUP_NAME, GLUE_DATABASE_NAME
from hub_stack.history_query.dialect import ATHENA, Dialect
from hub_stack.history_query.queries import HistoryFilters
from hub_stack.history_query.results import HistoryResult
from runtime_common.aws import client as aws_client
from runtime_common.backoff import backoff_seconds

TERMINAL_STATES: Final = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


class AthenaQueryError(RuntimeError):
    """An Athena query that failed, was cancelled or did not finish in time."""

    def __init__(self, query_id: str, state: str, reason: str) -> None:
        super().__init__(f"Athena query {query_id} {state}: {reason}")
        self.query_id = query_id
        self.state = state
        self.reason = reason


@dataclass(frozen=True)
class PollSchedule:
    """How long to wait between GetQueryExecution calls: doubling from `first_seconds` up to
    `longest_seconds`, giving up after `timeout_seconds` of waiting in all. Short queries over a
    day of history finish in a second or two; a 90-day dashboard in well under a minute."""

    first_seconds: float = 0.25
    longest_seconds: float = 5.0
    timeout_seconds: float = 300.0

    def delays(self) -> Iterator[float]:
        waited = 0.0
        for poll in itertools.count(1):
            delay = backoff_seconds(
                poll, base_seconds=self.first_seconds, cap_seconds=self.longest_seconds
            )
            if waited + delay > self.timeout_seconds:
                return
            yield delay
            waited += delay


def _converter(athena_type: str) -> Callable[[str], Any]:
    kind = athena_type.lower().split("(")[0]
    if kind in ("tinyint", "smallint", "integer", "int", "bigint"):
        return int
    if kind in ("double", "float", "real", "decimal"):
        return float
    if kind == "boolean":
        return lambda text: text == "true"
    if kind.startswith("timestamp"):
        return _timestamp
    return str


def _timestamp(text: str) -> datetime:
    # Athena prints `2026-01-01 00:00:00.000` (UTC wall time), sometimes with ` UTC`.
    return datetime.fromisoformat(text.removesuffix(" UTC")).replace(tzinfo=UTC)


class AthenaEngine:
    dialect: Dialect = ATHENA

    def __init__(
        self,
        session: Any,
        *,
        workgroup: str = ATHENA_WORKGROUP_NAME,
        database: str = GLUE_DATABASE_NAME,
        poll: PollSchedule = PollSchedule(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # Whole-call throttling (Athena's TooManyRequestsException on GetQueryExecution) is
        # botocore's: the client's adaptive retry mode. The poll below only waits for the query.
        self.client = aws_client(session, "athena")
        self.workgroup = workgroup
        self.database = database
        self.poll = poll
        self.sleep = sleep

    def execute(self, sql: str, filters: HistoryFilters) -> HistoryResult:
        del filters  # Athena prunes partitions from the SQL's `dt` conditions itself
        query_id = self.client.start_query_execution(
            QueryString=sql,
            WorkGroup=self.workgroup,
            QueryExecutionContext={"Database": self.database},
        )["QueryExecutionId"]
        self.wait(query_id)
        return self.results(query_id)

    def wait(self, query_id: str) -> None:
        status = self._status(query_id)
        delays = self.poll.delays()
        while status["State"] not in TERMINAL_STATES:
            delay = next(delays, None)
            if delay is None:
                raise AthenaQueryError(
                    query_id,
                    "TIMED OUT",
                    f"still {status['State']} after {self.poll.timeout_seconds:g} s; see it in "
                    f"the Athena console (workgroup {self.workgroup})",
                )
            self.sleep(delay)
            status = self._status(query_id)
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason") or "Athena gave no reason"
            raise AthenaQueryError(query_id, status["State"], reason)

    def _status(self, query_id: str) -> Mapping[str, Any]:
        execution = self.client.get_query_execution(QueryExecutionId=query_id)
        status: Mapping[str, Any] = execution["QueryExecution"]["Status"]
        return status

    def results(self, query_id: str) -> HistoryResult:
        columns: tuple[str, ...] = ()
        converters: Sequence[Callable[[str], Any]] = ()
        rows: list[tuple[Any, ...]] = []
        first_page = True
        for page in self.client.get_paginator("get_query_results").paginate(
            QueryExecutionId=query_id
        ):
            result_set = page["ResultSet"]
            page_rows = result_set.get("Rows", [])
            if first_page:
                info = result_set["ResultSetMetadata"]["ColumnInfo"]
                columns = tuple(column["Name"] for column in info)
                converters = tuple(_converter(column["Type"]) for column in info)
                # A SELECT's first row repeats the column labels.
                if page_rows and _texts(page_rows[0]) == list(columns):
                    page_rows = page_rows[1:]
                first_page = False
            for row in page_rows:
                rows.append(
                    tuple(
                        None if text is None else convert(text)
                        for convert, text in zip(converters, _texts(row), strict=True)
                    )
                )
        return HistoryResult(columns, tuple(rows))


def _texts(row: Mapping[str, Any]) -> list[str | None]:
    return [datum.get("VarCharValue") for datum in row["Data"]]
