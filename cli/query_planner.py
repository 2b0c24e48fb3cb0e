"""The history query planner: which Queries of the hub table answer a `dsdash query` (never a
Scan). It knows the table's keys, not the command line, so the command stays a thin printer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub_stack import history_files, table_design
from hub_stack.runtime.store import (
    DatapointRecord,
    HubStore,
)
from runtime_common.timestamps import format_timestamp


@dataclass(frozen=True)
class QueryFilters:
    project: str | None
    environment: str | None
    metric: str | None
    account: str | None
    dimensions: Mapping[str, str]
    since: datetime | None
    until: datetime | None
    latest: bool

    def matches(self, record: DatapointRecord) -> bool:
        return (
            (self.project is None or record.project_name == self.project)
            and (self.environment is None or record.environment == self.environment)
            and (self.metric is None or record.metric_name == self.metric)
            and (self.account is None or record.account_id == self.account)
            and all(record.dimensions.get(name) == value for name, value in self.dimensions.items())
            and (self.since is None or record.extraction_date >= format_timestamp(self.since))
            and (self.until is None or record.extraction_date <= format_timestamp(self.until))
        )


class UnaddressableQueryError(ValueError):
    """The filters name no key the table can Query; the message says which option is needed."""


def select_datapoints(
    store: HubStore, filters: QueryFilters, *, configured_projects: Sequence[str] = ()
) -> list[DatapointRecord]:
    """The datapoints the filters select, read with Queries only (never a Scan).

    - `latest`: the LATEST partition of the project, or of every known project;
    - history with a project: the project's LATEST partition names its series (with their
      dimensions), then one Query per matching series, bounded by since/until;
    - history with only a metric: the ByMetricName index, bounded by since/until;
    - anything else would need a Scan, and is refused with the option to add.
    Filters the key cannot express (account, dimension subsets) are applied to what the Queries
    return.
    """
    if filters.latest:
        projects = (
            [filters.project]
            if filters.project
            else store.known_projects(extra_projects=configured_projects)
        )
        records = [record for project in projects for record in store.latest_values(project)]
    elif filters.project is not None:
        records = []
        for environment, metric, dimensions in _series_of_project(store, filters.project, filters):
            records.extend(
                history_files.series_history(
                    store,
                    filters.project,
                    environment,
                    metric,
                    dimensions,
                    since=filters.since,
                    until=filters.until,
                )
            )
    elif filters.metric is not None:
        records = history_files.datapoints_by_metric(
            store, filters.metric, since=filters.since, until=filters.until
        )
    else:
        raise UnaddressableQueryError(
            "a history query needs --project (add --environment and --metric to address one "
            "series) or --metric (read from the history files); the hub never scans its "
            "table. Use --latest for the latest values of every project."
        )
    selected = [record for record in records if filters.matches(record)]
    return sorted(
        selected,
        key=lambda record: (
            record.project_name,
            record.environment,
            record.metric_name,
            table_design.dimension_key(record.dimensions),
            record.extraction_date,
            record.account_id,
        ),
    )


def _series_of_project(
    store: HubStore, project: str, filters: QueryFilters
) -> list[tuple[str, str, dict[str, str]]]:
    """The series of the project the filters select, named by its latest values (one per series
    and account, so proportional to the number of series)."""
    series: dict[tuple[str, str, str], tuple[str, str, dict[str, str]]] = {}
    for record in store.latest_values(project):
        if (
            (filters.environment is None or record.environment == filters.environment)
            and (filters.metric is None or record.metric_name == filters.metric)
            and all(record.dimensions.get(k) == v for k, v in filters.dimensions.items())
        ):
            key = (
                record.environment,
                record.metric_name,
                table_design.dimension_key(record.dimensions),
            )
            series.setdefault(
                key, (record.environment, record.metric_name, dict(record.dimensions))
            )
    if filters.environment and filters.metric:
        # The exact series the options name, even if no latest value names it.
        key = (filters.environment, filters.metric, table_design.dimension_key(filters.dimensions))
        series.setdefault(key, (filters.environment, filters.metric, dict(filters.dimensions)))
    return [series[key] for key in sorted(series)]
