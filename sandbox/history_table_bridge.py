"""Gap until the data plane's write side lands: the hub's history as Parquet files.

The dashboard reads history through the query layer (`hub_stack.history_query`: DuckDB over the
Parquet layout of the history bucket, docs/architecture.md §7). On this branch the hub's ingest
still writes each datapoint as a DynamoDB history item; the write side of issue 10 (ingest ->
Firehose -> Parquet, with its own sandbox gap fill for Firehose's conversion) replaces that.
Until it is merged, the demo copies the items ingest wrote into the same layout, through the
contract's own row builder and writer (`contracts.history_table.history_row`, `write_parquet`),
one file per delivery day. Every value comes from what ingest stored; only `ingested_at`, which
the items do not keep, is taken as the extraction time (delivery within the same day).

Reads are one Query per series the latest values name (paginated), never a Scan.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from contracts.history_table import history_row, partition_folder, write_parquet
from hub_stack.runtime.store import HubStore, parse_timestamp


def write_history_files(store: HubStore, root: Path, *, since: datetime) -> int:
    """Every history item since `since` as `root/history/dt=<day>/hub-items.parquet`; returns
    the number of rows written."""
    seen_dimensions: set[tuple[str, str, str, tuple[tuple[str, str], ...]]] = set()
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for records in store.latest_values_all().values():
        for latest in records:
            key = (
                latest.project_name,
                latest.environment,
                latest.metric_name,
                tuple(sorted(latest.dimensions.items())),
            )
            if key in seen_dimensions:
                continue
            seen_dimensions.add(key)
            for item in store.series_history(
                latest.project_name,
                latest.environment,
                latest.metric_name,
                dict(latest.dimensions),
                since=since,
            ):
                extracted = parse_timestamp(item.extraction_date)
                by_day[partition_folder(extracted)].append(
                    history_row(
                        project=item.project_name,
                        environment=item.environment,
                        account_id=item.account_id,
                        region=item.region,
                        metric_name=item.metric_name,
                        dimensions=item.dimensions,
                        metric_value=float(item.value),
                        unit=item.unit,
                        extraction_time=extracted,
                        event_id=item.event_id,
                        schema_version=item.schema_version,
                        ingested_at=extracted,
                    )
                )
    return sum(
        write_parquet(rows, root / folder / "hub-items.parquet") for folder, rows in by_day.items()
    )
