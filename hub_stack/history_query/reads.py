"""The query layer's entry points, whatever the engine (docs/architecture.md §7).

Callers (the dashboard, its publisher, `dsdash query`, `dsdash export`, the bench) read through
`aggregate` or `raw_rows` from any `HistoryEngine`; the SQL is built by
`hub_stack.history_query.queries` in the engine's dialect. Engines are opened by name in
`engine_selection` (the CLI and the sandbox), never here: this module is in the dashboard
publisher's Lambda bundle, which must not reach DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hub_stack.history_query.dialect import Dialect
from hub_stack.history_query.queries import (
    HistoryFilters,
    aggregate_columns,
    aggregate_sql,
    raw_sql,
)
from hub_stack.history_query.results import HistoryResult


class HistoryEngine(Protocol):
    dialect: Dialect

    def execute(self, sql: str, filters: HistoryFilters) -> HistoryResult: ...


@dataclass(frozen=True)
class AggregateRow:
    """One series (and spoke, when drilled down) in one time bucket."""

    project: str
    environment: str
    metric_name: str
    dimensions: str
    unit: str
    bucket_start: int
    spokes: int
    datapoints: int
    minimum: float
    maximum: float
    mean: float
    spoke_mean_total: float
    spoke_mean_average: float
    account_id: str | None = None
    region: str | None = None

    @property
    def bucket_time(self) -> datetime:
        return datetime.fromtimestamp(self.bucket_start, UTC)


def aggregate(
    engine: HistoryEngine,
    filters: HistoryFilters,
    *,
    bucket_seconds: int,
    per_spoke: bool = False,
) -> HistoryResult:
    sql = aggregate_sql(engine.dialect, filters, bucket_seconds=bucket_seconds, per_spoke=per_spoke)
    result = engine.execute(sql, filters)
    expected = aggregate_columns(per_spoke=per_spoke)
    if result.columns and result.columns != expected:
        raise AssertionError(f"the aggregate returned {result.columns}, expected {expected}")
    return HistoryResult(expected, result.rows)


def aggregate_rows(result: HistoryResult) -> list[AggregateRow]:
    return [AggregateRow(**record) for record in result.records()]


def raw_rows(engine: HistoryEngine, filters: HistoryFilters) -> HistoryResult:
    return engine.execute(raw_sql(engine.dialect, filters), filters)
