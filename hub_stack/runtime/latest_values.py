"""The writes of a spoke's latest item: conditional UpdateItems that move its latest values and
freshness forward, and what a refused one tells (a conflicting, identical or late replay).

The item's format (attribute names, the compact encoding of a series, the digest ring, decoding)
is `hub_stack.runtime.latest_item_format` (docs/architecture.md §7, "Hub data plane (issue 10)").

One event is ONE UpdateItem in steady state. It writes every series compact, the freshness and
the digest, on the condition that the item's newest extraction is older than the event's (so
every series is older, and no digest holds this extraction) and that the compact series it
replaces are the same set of series (`c`), so no series keeps pointing at an event id the write
replaces. (A one-series event, the sample's v1, one per metric of an extraction, writes its
series with its own event id, on the condition that it is newer and the item's newest extraction
is not.) The condition fails rarely (a replay, a late event, another part of a split extraction,
a change in the spoke's series), and the failure returns the stored item
(ReturnValuesOnConditionCheckFailure=ALL_OLD) at no extra read, from which this module tells:
- a conflicting replay: a slot holds this extraction time with another hash, or a stored series
  has this extraction time with another value or unit -> `ConflictingReplay`, nothing written;
- an identical replay: every series holds exactly this event's value -> nothing written;
- anything else: a second UpdateItem, conditioned on what was read, writes what is newer (a
  series an older event cannot describe through `e` is written with its own event id and
  version), merges the errors of another part of the same extraction, or records the digest.

A conflicting replay older than the digest ring is not recognised here (the ring's horizon is in
`latest_item_format`). An event of more than `SERIES_PER_UPDATE` series is written in several
UpdateItems, its series with their own event id (no chunk may repoint another chunk's series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from hub_stack import table_design
from hub_stack.runtime.datapoints import DatapointRecord
from hub_stack.runtime.latest_item_format import (
    COVERED,
    ERRORS,
    EVENT,
    NEWEST,
    SCHEMA,
    SEEN,
    SERIES_PREFIX,
    ErrorEntry,
    digest_time_prefix,
    epoch_millis,
    error_entry,
    errors_value,
    extraction_digest,
    normalized_value,
    series_attribute,
    series_names_hash,
    series_value,
    series_with_own_event,
    stored_series,
)
from hub_stack.table_access import deserialize, query_items
from runtime_common.timestamps import format_timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Series per UpdateItem: each adds ~60 characters to the update expression, which DynamoDB caps
# at 4 KB. Events carry 15 series; one of 1,000 takes several calls.
SERIES_PER_UPDATE: Final = 40
# A concurrent writer can change the item between our condition failure and the retry.
MAX_ATTEMPTS: Final = 4

_serializer = TypeSerializer()


class LatestItemContention(Exception):
    """The spoke's latest item kept changing under concurrent writers; SQS retries the event."""


class ConflictingReplay(Exception):
    """The event carries another value for an extraction the item already holds."""

    def __init__(self, conflicts: Sequence[tuple[DatapointRecord, str]]) -> None:
        self.conflicts = tuple(conflicts)
        shown = "; ".join(
            f"{point.metric_name}{dict(point.dimensions) or ''} = {point.value} {point.unit}, "
            f"stored {stored}"
            for point, stored in self.conflicts[:5]
        )
        super().__init__(f"{len(self.conflicts)} datapoint(s) differ from stored values ({shown})")


@dataclass(frozen=True)
class LatestWrite:
    """What one event did to its spoke's latest item."""

    moved_forward: int  # series whose latest value is now this event's
    identical_replay: bool  # the item already held exactly this extraction


@dataclass(frozen=True)
class _Event:
    """What one event writes besides its series: one spoke, one extraction."""

    millis: int
    seen_millis: int
    errors: tuple[ErrorEntry, ...]
    covered: str  # hash of the whole event's series names
    single_update: bool  # the event fits one UpdateItem: its series may be written compact


class _Update:
    """One UpdateItem being built: assignments, removals and conditions with their names."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.conditions: list[str] = []

    def name(self, attribute: str) -> str:
        for placeholder, known in self.names.items():
            if known == attribute:
                return placeholder
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        """A placeholder of `value` (one per distinct value: DynamoDB refuses unused ones)."""
        serialized = _serializer.serialize(value)
        for placeholder, known in self.values.items():
            if known == serialized:
                return placeholder
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialized
        return placeholder

    def set(self, attribute: str, value: Any) -> str:
        name = self.name(attribute)
        self.sets.append(f"{name} = {self.value(value)}")
        return name

    def arguments(self) -> dict[str, Any]:
        update = "SET " + ", ".join(self.sets)
        if self.removes:
            update += " REMOVE " + ", ".join(self.removes)
        arguments: dict[str, Any] = {
            "UpdateExpression": update,
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
        }
        if self.conditions:
            arguments["ConditionExpression"] = " AND ".join(self.conditions)
        return arguments


class LatestValues:
    """Writes the per-spoke latest items of the hub table, and reads them back."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def items_of_project(self, project_name: str) -> list[dict[str, Any]]:
        """Every latest item of a project (deserialized): one paginated Query per shard."""
        return [
            item
            for partition in table_design.latest_partition_keys(project_name)
            for item in query_items(
                self._client,
                self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": partition}},
            )
        ]

    def record_event(
        self,
        points: Sequence[DatapointRecord],
        *,
        seen_at: datetime,
        errors: Sequence[ErrorEntry] = (),
    ) -> LatestWrite:
        """Move the spoke's latest values and freshness forward with one event's datapoints (one
        spoke, one extraction time). Raises ConflictingReplay, having written nothing (of the
        conflicting chunk), on a conflict."""
        if not points:
            return LatestWrite(0, identical_replay=False)
        event = _Event(
            millis=epoch_millis(points[0].extraction_date),
            seen_millis=epoch_millis(format_timestamp(seen_at)),
            errors=tuple(dict.fromkeys(errors)),
            covered=series_names_hash(points),
            single_update=len(points) <= SERIES_PER_UPDATE,
        )
        moved = 0
        replay = True
        for start in range(0, len(points), SERIES_PER_UPDATE):
            chunk = points[start : start + SERIES_PER_UPDATE]
            written = self._record_chunk(chunk, event, first_chunk=start == 0)
            moved += written.moved_forward
            replay = replay and written.identical_replay
        return LatestWrite(moved, identical_replay=replay)

    def _record_chunk(
        self, points: Sequence[DatapointRecord], event: _Event, *, first_chunk: bool
    ) -> LatestWrite:
        first = points[0]
        key = table_design.latest_key(
            first.project_name, first.environment, first.account_id, first.region
        )
        digest = extraction_digest(points)
        update = _steady_state_update(points, event, digest, first_chunk=first_chunk)
        result = LatestWrite(len(points), identical_replay=False)
        for _ in range(MAX_ATTEMPTS):
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key={name: {"S": value} for name, value in key.items()},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    **update.arguments(),
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # The stored item, returned by ReturnValuesOnConditionCheckFailure (not typed).
                response: Mapping[str, Any] = error.response
                item: Mapping[str, Any] = response.get("Item") or {}
                stored = deserialize(item)
                planned = _update_from_stored(points, event, digest, stored)
                if isinstance(planned, LatestWrite):
                    return planned
                update, result = planned
                continue
            return result
        raise LatestItemContention(
            f"the latest item of {first.account_id}/{first.region} kept changing during "
            f"{MAX_ATTEMPTS} conditional updates"
        )


def _steady_state_update(
    points: Sequence[DatapointRecord],
    event: _Event,
    digest: tuple[str, str] | None,
    *,
    first_chunk: bool,
) -> _Update:
    """The write that succeeds in steady state, without reading the item first:
    - an event of several series that fits one update: its extraction is newer than the item's
      and replaces the same compact series (`c`): it rewrites them all, compact;
    - an event of one series (the sample's v1 events, one per metric of an extraction): its
      series is newer and the item's extraction is not (another metric of the same extraction
      is expected); the series carries its own event id (the extraction's other events have
      others). Freshness is set again by each: `h` is the last of them;
    - the first update of a large event: its extraction is newer than the item's; the next
      ones: the item holds this extraction (the first update wrote it) and each series is
      newer.
    Anything else fails the condition and is planned from the stored item."""
    update = _Update()
    newest = update.name(NEWEST)
    millis = update.value(event.millis)
    single_series = len(points) == 1 and event.single_update
    compact = event.single_update and not single_series
    if first_chunk:
        update.sets.append(f"{newest} = {millis}")
        update.set(SEEN, event.seen_millis)
        update.set(table_design.TTL_ATTRIBUTE, points[0].expires_at)
        errors = update.name(ERRORS)
        if event.errors:
            update.sets.append(f"{errors} = {update.value(errors_value(event.errors))}")
        else:
            update.removes.append(errors)
        if single_series:
            # Errors are only dropped by a newer extraction: a same-time event with errors
            # stored (a v2 part) goes through the planned path.
            update.conditions.append(
                f"(attribute_not_exists({newest}) OR {newest} < {millis} OR "
                f"({newest} = {millis} AND attribute_not_exists({errors})))"
            )
        else:
            update.conditions.append(f"(attribute_not_exists({newest}) OR {newest} < {millis})")
    else:
        update.conditions.append(f"{newest} = {millis}")
    if compact:
        update.set(EVENT, points[0].event_id)
        update.set(SCHEMA, points[0].schema_version)
        covered = update.set(COVERED, event.covered)
        update.conditions.append(
            f"(attribute_not_exists({covered}) OR {covered} = {update.value(event.covered)})"
        )
    for point in points:
        series = update.set(series_attribute(point), series_value(point, compact=compact))
        if not compact:
            update.conditions.append(f"(attribute_not_exists({series}) OR {series}[1] < {millis})")
    if digest is not None:
        _set_digest(update, digest, conditional=not (compact and first_chunk))
    return update


def _set_digest(update: _Update, digest: tuple[str, str], *, conditional: bool) -> None:
    """Record the event's digest. The slot must be free, hold this very digest, or hold another
    extraction (the ring moved on), never this extraction with another hash (unless the write
    is conditioned on an older newest extraction, which no slot can hold)."""
    name, entry = digest
    slot = update.set(name, entry)
    if conditional:
        time = update.value(digest_time_prefix(entry))
        update.conditions.append(
            f"(attribute_not_exists({slot}) OR {slot} = {update.value(entry)} "
            f"OR NOT begins_with({slot}, {time}))"
        )


def _update_from_stored(
    points: Sequence[DatapointRecord],
    event: _Event,
    digest: tuple[str, str] | None,
    stored: Mapping[str, Any],
) -> LatestWrite | tuple[_Update, LatestWrite]:
    """From the stored item: raise ConflictingReplay on a conflict; else what is left to write
    (conditioned on what was read), or, when nothing is, what the event amounted to."""
    conflicts: list[tuple[DatapointRecord, str]] = []
    newer: list[DatapointRecord] = []
    unchanged = 0
    for point in points:
        name = series_attribute(point)
        if name not in stored:
            newer.append(point)
            continue
        millis, value, unit, _ = stored_series(name, stored[name])
        if millis < event.millis:
            newer.append(point)
        elif millis == event.millis:
            if normalized_value(value) != normalized_value(point.value) or unit != point.unit:
                conflicts.append((point, f"{value} {unit}"))
            else:
                unchanged += 1
    held = stored.get(digest[0]) if digest is not None else None
    if not conflicts and digest is not None and isinstance(held, str):
        if held.startswith(digest_time_prefix(digest[1])) and held != digest[1]:
            conflicts.extend((point, "other values at this extraction") for point in points)
    if conflicts:
        raise ConflictingReplay(conflicts)

    update = _Update()
    newest_stored = int(stored[NEWEST]) if NEWEST in stored else None
    moves_freshness = newest_stored is None or event.millis > newest_stored
    if moves_freshness:
        newest = update.name(NEWEST)
        update.sets.append(f"{newest} = {update.value(event.millis)}")
        update.set(SEEN, event.seen_millis)
        update.set(table_design.TTL_ATTRIBUTE, points[0].expires_at)
        if event.errors:
            update.set(ERRORS, errors_value(event.errors))
        elif ERRORS in stored:
            update.removes.append(update.name(ERRORS))
        update.conditions.append(
            f"attribute_not_exists({newest})"
            if newest_stored is None
            else f"{newest} = {update.value(newest_stored)}"
        )
    elif event.millis == newest_stored:
        _merge_errors(update, event, stored)
    # The compact series move to this event when it is newer than all the item holds.
    if moves_freshness and event.single_update and len(points) > 1:
        _take_over_compact_series(update, points, event, stored)
    else:
        for point in newer:
            series = update.set(series_attribute(point), series_value(point, compact=False))
            update.conditions.append(
                f"(attribute_not_exists({series}) OR {series}[1] < {update.value(event.millis)})"
            )
    if digest is not None and held != digest[1] and unchanged < len(points):
        _set_digest(update, digest, conditional=True)
    if not update.sets:
        return LatestWrite(0, identical_replay=unchanged == len(points))
    if not moves_freshness:
        expires = update.name(table_design.TTL_ATTRIBUTE)
        expiry = update.value(points[0].expires_at)
        update.sets.append(f"{expires} = if_not_exists({expires}, {expiry})")
    return update, LatestWrite(len(newer), identical_replay=False)


def _merge_errors(update: _Update, event: _Event, stored: Mapping[str, Any]) -> None:
    """Another part of the newest extraction: add its errors the item lacks (none on a replay)."""
    known = tuple(error_entry(entry) for entry in stored.get(ERRORS, []))
    added = tuple(entry for entry in event.errors if entry not in known)
    if not added:
        return
    errors = update.set(ERRORS, errors_value(known + added))
    update.conditions.append(f"{update.name(NEWEST)} = {update.value(event.millis)}")
    update.conditions.append(
        f"size({errors}) = {update.value(len(known))}"
        if ERRORS in stored
        else f"attribute_not_exists({errors})"
    )


def _take_over_compact_series(
    update: _Update,
    points: Sequence[DatapointRecord],
    event: _Event,
    stored: Mapping[str, Any],
) -> None:
    """Write this event's series compact and make it the item's event. The stored compact series
    it does not rewrite (the spoke's series changed) get their event id and version written out
    first, so that they keep them; each on the condition that it is still compact (a concurrent
    writer gives a series its own id)."""
    own = {series_attribute(point) for point in points}
    for name, value in stored.items():
        if EVENT not in stored or not name.startswith(SERIES_PREFIX) or name in own:
            continue
        explicit = series_with_own_event(value, stored[EVENT], stored[SCHEMA])
        if explicit is None:
            continue
        series = update.set(name, explicit)
        update.conditions.append(f"size({series}) = {update.value(len(value))}")
    event_id = update.set(EVENT, points[0].event_id)
    update.set(SCHEMA, points[0].schema_version)
    update.set(COVERED, event.covered)
    update.conditions.append(
        f"{event_id} = {update.value(stored[EVENT])}"
        if EVENT in stored
        else f"attribute_not_exists({event_id})"
    )
    for point in points:
        update.set(series_attribute(point), series_value(point, compact=True))
