"""Which Queries of the hub table answer `dsdash query --latest` (never a Scan).

History is not read here: it comes aggregated from the query layer (`hub_stack.history_query`).
This module knows the table's keys, not the command line, so the command stays a thin printer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub_stack import table_design
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.store import HubStore


@dataclass(frozen=True)
class QueryFilters:
    project: str | None
    environment: str | None
    metric: str | None
    account: str | None
    dimensions: Mapping[str, str]

    def matches(self, record: DatapointRecord) -> bool:
        return (
            (self.project is None or record.project_name == self.project)
            and (self.environment is None or record.environment == self.environment)
            and (self.metric is None or record.metric_name == self.metric)
            and (self.account is None or record.account_id == self.account)
            and all(record.dimensions.get(name) == value for name, value in self.dimensions.items())
        )


def select_latest_values(
    store: HubStore, filters: QueryFilters, *, configured_projects: Sequence[str] = ()
) -> list[DatapointRecord]:
    """The latest values the filters select: the project's latest items, or every known
    project's. Filters the key cannot express (environment, metric, account, dimensions) are
    applied to what the Queries return."""
    projects = (
        [filters.project]
        if filters.project
        else store.known_projects(extra_projects=configured_projects)
    )
    records = [record for project in projects for record in store.latest_values(project)]
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
