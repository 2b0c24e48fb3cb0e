"""A datapoint: one stored value of one series, as ingest builds it from an event and as the
latest values and the history table give it back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from contracts import history_table
from runtime_common.timestamps import parse_timestamp


@dataclass(frozen=True)
class DatapointRecord:
    """One stored value of one series, as written to history and (if newest) to latest."""

    project_name: str
    environment: str
    metric_name: str
    value: Decimal
    unit: str
    dimensions: Mapping[str, str]
    metadata: Mapping[str, Any]
    account_id: str
    region: str
    extraction_date: str  # canonical: runtime_common.timestamps.format_timestamp
    schema_version: int
    event_id: str
    expires_at: int  # epoch seconds (the table's TTL attribute)

    def history_row(self, ingested_at: datetime) -> dict[str, Any]:
        """This datapoint as a row of the history table (what the delivery stream receives)."""
        return history_table.history_row(
            project=self.project_name,
            environment=self.environment,
            account_id=self.account_id,
            region=self.region,
            metric_name=self.metric_name,
            dimensions=self.dimensions,
            metric_value=float(self.value),
            unit=self.unit,
            extraction_time=parse_timestamp(self.extraction_date),
            event_id=self.event_id,
            schema_version=self.schema_version,
            ingested_at=ingested_at,
        )
