"""What an engine returns: named columns and typed rows, the same Python types from both engines.

Strings stay `str`, whole numbers `int`, doubles `float`, timestamps UTC-aware `datetime`, so a
test can compare DuckDB's answer with Athena's directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_stack.history_query.queries import HistoryFilters


class NoHistoryDataError(LookupError):
    """The range holds no history; the message says which range, for the CLI to print."""

    def __init__(self, filters: HistoryFilters) -> None:
        super().__init__(
            f"no data in this range ({filters.describe()}); widen --since/--until or check the "
            "filters"
        )
        self.filters = filters


@dataclass(frozen=True)
class HistoryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} does not have the columns {self.columns}")

    def records(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))

    def __len__(self) -> int:
        return len(self.rows)


def normalized_value(value: Any) -> Any:
    """One Python type per SQL type whatever the engine's driver returned."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # Trino's `timestamp` has no zone; the column holds UTC.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, bool) or value is None or isinstance(value, str | int | float):
        return value
    # DuckDB returns DECIMAL for some arithmetic on integers.
    return float(value)


def normalized_rows(rows: Sequence[Sequence[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(normalized_value(value) for value in row) for row in rows)
