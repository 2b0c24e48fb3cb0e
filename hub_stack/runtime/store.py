"""The hub store (`HubStore`): the hub's DynamoDB table as the hub's runtimes and the CLI use it,
the per-spoke latest values here, with the spoke registry (`hub_stack.spoke_registry`) and the
quarantine (`hub_stack.runtime.quarantine`) beside them on the same client.

The key layout is `hub_stack.table_design`; this module (with `latest_values`, which writes the
per-spoke latest items, and `latest_item_format`, their format), the registry and the quarantine
are the only code that builds items from it, and every read is a Query or a BatchGetItem of known
keys (never a Scan), fully paginated (`hub_stack.table_access`).

Timestamps are stored in one canonical form, `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, always with
milliseconds), so that they compare in time order as plain strings
(`runtime_common.timestamps.format_timestamp`).

Items and where they live:
- latest values: one item per spoke, PK `LATEST#<project>#<shard>`, SK `<env>#<account>#<region>`,
  one attribute per series (`hub_stack.runtime.latest_item_format`), written only when newer
  (`hub_stack.runtime.latest_values`).
- spoke registry: PK `SPOKE`, SK account id (`hub_stack.spoke_registry`).
- quarantine: PK `QUARANTINE#<day>`, SK `<ReceivedAt>#<SQS message id>`
  (`hub_stack.runtime.quarantine`).

History is not here: it is Parquet in the history bucket (`contracts.history_table`), delivered by
`hub_stack.ingest.runtime.history_delivery` and read by the query layer (docs/architecture.md
§7, "Hub data plane (issue 10)").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from contracts import history_table
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.latest_item_format import SpokeFreshness, newest_freshness, records_of_item
from hub_stack.runtime.latest_values import LatestItemContention, LatestValues, LatestWrite
from hub_stack.runtime.quarantine import Quarantine
from hub_stack.spoke_registry.records import SpokeRecord
from hub_stack.spoke_registry.registry import SpokeRegistry
from hub_stack.table_access import HubStoreError
from runtime_common.aws import client as aws_client

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_dynamodb.client import DynamoDBClient


@dataclass(frozen=True)
class SpokeErrorEntry:
    """A metric that failed in a spoke's extraction (the v2 event's `Errors` entry), as the
    spoke's latest item records it."""

    metric_name: str
    error_code: str
    message: str


@dataclass(frozen=True)
class FreshSpoke(SpokeRecord):
    """A registry spoke with its freshness, read from its latest items (`spokes_with_freshness`):
    the registry item holds the enrollment state only, the latest item what the spoke last sent
    (docs/architecture.md §7, "Hub data plane (issue 10)")."""

    last_seen_at: str | None = None  # canonical: when the hub received its newest extraction
    last_extraction_date: str | None = None  # canonical
    last_errors: tuple[SpokeErrorEntry, ...] = ()


@dataclass(frozen=True)
class HubSnapshot:
    """What the hub table says of its spokes at one read (`HubStore.snapshot`)."""

    spokes: tuple[FreshSpoke, ...]
    latest_values: Mapping[str, tuple[DatapointRecord, ...]]  # project -> its latest values


def _projects_of(spokes: Iterable[SpokeRecord]) -> set[str]:
    return {spoke.project_name for spoke in spokes if spoke.project_name}


def _fresh_spokes(
    spokes: Sequence[SpokeRecord], items: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[FreshSpoke, ...]:
    """The spokes with the freshness of their newest latest item. Only the projects the registry
    gives them count: an item a spoke left in another project (one the config still names, so
    the dashboard reads its values) does not make the spoke look fresh."""
    registry_projects = _projects_of(spokes)
    fresh = newest_freshness(
        item for project in registry_projects for item in items.get(project, ())
    )
    return tuple(_with_freshness(spoke, fresh.get(spoke.account_id)) for spoke in spokes)


def _with_freshness(spoke: SpokeRecord, found: SpokeFreshness | None) -> FreshSpoke:
    if found is None:
        return FreshSpoke(**vars(spoke))
    return FreshSpoke(
        **vars(spoke),
        last_seen_at=found.seen_at,
        last_extraction_date=found.extraction_date,
        last_errors=tuple(SpokeErrorEntry(*entry) for entry in found.errors),
    )


class HubStore:
    """The hub table. Construct with the table name and an injectable session (or client); the
    registry (`registry`) and the quarantine (`quarantine`) share its client."""

    def __init__(
        self,
        table_name: str,
        session: boto3.Session | None = None,
        *,
        dynamodb_client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        history_bucket: str | None = None,
    ) -> None:
        self.table_name = table_name
        self._session = session
        self._clock = clock
        self._client: DynamoDBClient = (
            dynamodb_client if dynamodb_client is not None else aws_client(session, "dynamodb")
        )
        self._latest = LatestValues(self._client, table_name)
        self.registry = SpokeRegistry(
            table_name, dynamodb_client=self._client, sleep=sleep, clock=clock
        )
        self.quarantine = Quarantine(table_name, dynamodb_client=self._client, clock=clock)
        # The history files' bucket, for the thin history readers; derived from the caller's
        # account and region (`contracts.history_table.history_bucket_name`) when not given.
        self._history_bucket_name = history_bucket

    # ----------------------------------------------------------------- datapoints and latest

    def record_latest(
        self,
        datapoints: Sequence[DatapointRecord],
        *,
        seen_at: datetime | None = None,
        errors: Sequence[SpokeErrorEntry] = (),
    ) -> LatestWrite:
        """Move one event's datapoints (one spoke, one extraction) and the spoke's freshness
        (received `seen_at`, default now; the extraction's `errors`) into the spoke's latest item:
        one conditional UpdateItem in steady state (`latest_values`). Raises
        `latest_values.ConflictingReplay`, having written nothing, on a conflicting replay."""
        try:
            return self._latest.record_event(
                datapoints,
                seen_at=seen_at if seen_at is not None else self._clock(),
                errors=[(e.metric_name, e.error_code, e.message) for e in errors],
            )
        except LatestItemContention as contention:
            raise HubStoreError(str(contention)) from contention

    def put_latest(self, datapoint: DatapointRecord) -> bool:
        """Make `datapoint` the latest value of its series if it is newer than the stored one.

        Returns False when the stored value is as new or newer (a late or replayed event): that
        is the expected outcome of the condition, not an error.
        """
        return self.record_latest([datapoint]).moved_forward > 0

    def latest_values(self, project_name: str) -> list[DatapointRecord]:
        """The latest value of every series (and spoke) of one project: one paginated Query per
        shard of the project (`table_design.LATEST_SHARDS`), whatever the history length."""
        return [
            record
            for item in self._latest.items_of_project(project_name)
            for record in records_of_item(item)
        ]

    def snapshot(self, extra_projects: Sequence[str] = ()) -> HubSnapshot:
        """The registry's spokes with their freshness, and the latest values of every project
        the registry or `extra_projects` names, from ONE read of each project's latest items:
        the registry Query plus LATEST_SHARDS Queries per project. A reader that needs both (the
        dashboard, its publisher) reads the items once rather than once for each."""
        spokes = self.registry.list_spokes()
        items = self._latest_items_of(_projects_of(spokes).union(extra_projects))
        return HubSnapshot(
            spokes=_fresh_spokes(spokes, items),
            latest_values={
                project: tuple(record for item in found for record in records_of_item(item))
                for project, found in items.items()
            },
        )

    def spokes_with_freshness(self) -> list[FreshSpoke]:
        """The registry's spokes, with their freshness read from their latest items (the newest
        of a spoke's regions): the registry Query plus LATEST_SHARDS Queries per project. The
        values stay undecoded: the health function and `dsdash status` need freshness only."""
        spokes = self.registry.list_spokes()
        return list(_fresh_spokes(spokes, self._latest_items_of(_projects_of(spokes))))

    def _latest_items_of(self, projects: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Project -> its latest items, as stored (one paginated Query per shard)."""
        return {project: self._latest.items_of_project(project) for project in sorted(projects)}

    def known_projects(self, extra_projects: Sequence[str] = ()) -> list[str]:
        """Projects named by any registry item (any state: history outlives enrollment)."""
        names = {spoke.project_name for spoke in self.registry.list_spokes() if spoke.project_name}
        return sorted(names.union(extra_projects))

    def latest_values_all(
        self, extra_projects: Sequence[str] = ()
    ) -> dict[str, list[DatapointRecord]]:
        """Latest values of every known project: LATEST_SHARDS Queries per project, never a Scan.

        `extra_projects` adds names the registry may not know (for example from the config).
        """
        return {
            project: self.latest_values(project) for project in self.known_projects(extra_projects)
        }

    # ---------------------------------------------------------------- where history lives

    @property
    def session(self) -> boto3.Session | None:
        """The session the store was built from (None: the default session)."""
        return self._session

    def history_bucket(self) -> str:
        """The history files' bucket (`contracts.history_table.history_bucket_name` of the
        caller's account and the table's region, unless given), for the history readers (the
        query layer's S3 source): history is not in this table."""
        if self._history_bucket_name is None:
            identity = aws_client(self._session, "sts").get_caller_identity()
            region = self._client.meta.region_name
            self._history_bucket_name = history_table.history_bucket_name(
                identity["Account"], region
            )
        return self._history_bucket_name
