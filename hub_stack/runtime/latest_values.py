"""Latest values and freshness: one DynamoDB item per spoke (project, environment, account, region).

The item (key: `hub_stack.table_design.latest_key`, which also names the project, environment,
account and region: they are not repeated) is kept under 1 KB for a 15-series extraction, because
DynamoDB bills a write by the larger of the item before and after it, 1 unit per started KB
(docs/architecture.md §7, "Hub data plane (issue 10)", with the byte figures). Attributes:
- `s<series>`: the latest value of one series, the list `[value, extraction epoch ms]`, plus a
  map of what the rest of the item cannot tell (`u` unit, `e` event id and `n` schema version,
  `d` dimensions). The name is `s`, the metric's 3-character catalog code
  (`metric_code`; `=<metric name>` for a metric outside the catalog) and `|<dimension key>` when
  the series has dimensions. The unit is the catalog's unless stored (v1 events may carry any);
- `t`, `h`, `x`: the spoke's freshness: its newest extraction (epoch ms), when the hub received
  it (epoch ms), the extraction errors it reported (`[metric, code, message]` lists; the parts of
  one split extraction merge theirs, a replay changes nothing);
- `e`, `n`, `c`: the event id and schema version of every series whose map holds no `e` (the
  "compact" series), and the hash of that event's series names;
- `r<slot><parts>`: the digest of a recent extraction, `<epoch ms, hex>=<hash of its values>`, in
  a ring of `DIGEST_SLOTS` hourly slots (see below);
- ExpiresAt (TTL), following the newest extraction.

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

Replay horizon of the conflict check: the series keep the latest extraction for ever, and the
digest ring `DIGEST_SLOTS` hours (one slot per hour of extraction time; a newer extraction in the
same hour takes the slot over). A conflicting replay of an extraction older than the ring is not
recognised here: its rows reach history, and queries keep one row per datapoint key
(`contracts.history_table`), the first one ingested, by `ingested_at`. The ring is a trade-off
with the write cost: each slot is 26 bytes written with every event, and the item must stay
under 1 KB: 12 slots, a 12-hour horizon, make a 15-series item 751 bytes; 24 would make it 1,065
(figures in docs/architecture.md §7).

Parts of one extraction (v2 `Part`/`PartCount`) share the extraction time but not their series,
so the digest's name carries a short hash of the event's series names: each part has its own.
An event of more than `SERIES_PER_UPDATE` series is written in several UpdateItems, its series
with their own event id (no chunk may repoint another chunk's series).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hub_stack import table_design
from hub_stack.runtime.datapoints import DatapointRecord
from metrics.registry import all_metric_classes
from runtime_common.timestamps import format_timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SERIES_PREFIX: Final = "s"
DIGEST_PREFIX: Final = "r"
NEWEST: Final = "t"
SEEN: Final = "h"
ERRORS: Final = "x"
EVENT: Final = "e"
SCHEMA: Final = "n"
COVERED: Final = "c"
# Hours of extraction digests the item keeps (the conflict check's horizon beyond the latest
# extraction, see the module docstring): 12 slots of 26 bytes keep a 15-series item < 1 KB.
DIGEST_SLOTS: Final = 12
# Series per UpdateItem: each adds ~60 characters to the update expression, which DynamoDB caps
# at 4 KB. Events carry 15 series; one of 1,000 takes several calls.
SERIES_PER_UPDATE: Final = 40
# A concurrent writer can change the item between our condition failure and the retry.
MAX_ATTEMPTS: Final = 4
_CODE_CHARS: Final = 3
_EXTERNAL_METRIC: Final = "="
_DIMENSIONS_MARK: Final = "|"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

ErrorEntry = tuple[str, str, str]  # metric, error code, message (the v2 event's `Errors`)


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
class SpokeFreshness:
    """A spoke's newest extraction as its latest item records it (one region's item)."""

    account_id: str
    region: str
    extraction_date: str  # canonical (runtime_common.timestamps)
    seen_at: str  # canonical: when the hub's queue received it
    errors: tuple[ErrorEntry, ...]


# ------------------------------------------------------------------------- names and codes


def _short_hash(text: str, chars: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:chars]


@cache
def _catalog() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """metric -> code, and code -> (metric, unit), for the catalog's metrics. A code shared by
    two metrics names neither (both are stored by name), so decoding never guesses."""
    units = {name: str(cls.unit) for name, cls in all_metric_classes().items()}
    by_code: dict[str, list[str]] = {}
    for name in units:
        by_code.setdefault(_short_hash(name, _CODE_CHARS), []).append(name)
    unique = {code: names[0] for code, names in by_code.items() if len(names) == 1}
    return (
        {name: code for code, name in unique.items()},
        {code: (name, units[name]) for code, name in unique.items()},
    )


def metric_code(metric_name: str) -> str:
    """The series name's metric part: a stable 3-character hash of a catalog metric's name
    (stable as the catalog grows), or `=<name>` for a metric outside the catalog."""
    return _catalog()[0].get(metric_name) or _EXTERNAL_METRIC + metric_name


def catalog_unit(metric_name: str) -> str | None:
    code = _catalog()[0].get(metric_name)
    return None if code is None else _catalog()[1][code][1]


def series_attribute(point: DatapointRecord) -> str:
    return _series_attribute(point.metric_name, point.dimensions)


def _series_attribute(metric_name: str, dimensions: Mapping[str, str]) -> str:
    name = SERIES_PREFIX + metric_code(metric_name)
    if dimensions:
        name += _DIMENSIONS_MARK + table_design.dimension_key(dimensions)
    return name


def _parse_dimensions(key: str) -> dict[str, str]:
    """Of `table_design.dimension_key`: values hold no `,` `=` `#` (event validation)."""
    pairs = (pair.rsplit("=", 1) for pair in key.split(","))
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _metric_of(attribute: str) -> tuple[str, str | None, dict[str, str]]:
    """(metric, catalog unit, dimensions) a series attribute's name tells."""
    body, _, dimension_key = attribute[len(SERIES_PREFIX) :].partition(_DIMENSIONS_MARK)
    dimensions = _parse_dimensions(dimension_key) if dimension_key else {}
    if body.startswith(_EXTERNAL_METRIC):
        return body[len(_EXTERNAL_METRIC) :], None, dimensions
    # A code the catalog no longer knows (a retired metric) still reads, under its code.
    metric, unit = _catalog()[1].get(body, ("?" + body, None))
    return metric, unit, dimensions


def normalized_value(value: Decimal) -> str:
    """7, 7.0 and 7.00 are one value (DynamoDB normalises numbers the same way)."""
    return str(Decimal(value).normalize())


def epoch_millis(extraction_date: str) -> int:
    """Of a canonical timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`, always UTC), exactly."""
    moment = datetime.fromisoformat(extraction_date.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def canonical_time(millis: int) -> str:
    return format_timestamp(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis))


def _series_names_hash(points: Sequence[DatapointRecord]) -> str:
    return _short_hash("\n".join(sorted(series_attribute(point) for point in points)), 4)


def extraction_digest(points: Sequence[DatapointRecord]) -> tuple[str, str] | None:
    """(attribute name, entry) of an event's digest: the slot name and `<epoch ms hex>=<hash>`.

    None for an event of one series (the sample's v1 events carry one metric each): its series
    attribute already tells a replay of the latest extraction, and a digest per v1 event would
    multiply the item's size by its number of metrics.
    """
    if len(points) < 2:
        return None
    values = sorted(f"{series_attribute(p)}={normalized_value(p.value)}|{p.unit}" for p in points)
    epoch_ms = epoch_millis(points[0].extraction_date)
    slot = (epoch_ms // 3_600_000) % DIGEST_SLOTS
    name = f"{DIGEST_PREFIX}{slot}{_series_names_hash(points)}"
    # 48 bits of hash: a conflicting replay mistaken for an identical one is a 2^-48 chance.
    return name, f"{epoch_ms:x}={_short_hash(chr(10).join(values), 8)}"


# ---------------------------------------------------------------------------------- reading


def records_of_item(item: Mapping[str, Any]) -> list[DatapointRecord]:
    """The latest values one (deserialized) spoke item holds, one record per series in series
    order."""
    project, environment, account, region = _spoke_of(item)
    records = []
    for name in sorted(item):
        if not name.startswith(SERIES_PREFIX):
            continue
        value, millis, *rest = item[name]
        extra: Mapping[str, Any] = rest[0] if rest else {}
        metric, unit, dimensions = _metric_of(name)
        records.append(
            DatapointRecord(
                project_name=project,
                environment=environment,
                metric_name=metric,
                value=Decimal(value),
                unit=str(extra.get("u", unit)),
                dimensions={str(k): str(v) for k, v in dict(extra.get("d", dimensions)).items()},
                metadata={},
                account_id=account,
                region=region,
                extraction_date=canonical_time(int(millis)),
                schema_version=int(extra.get("n", item.get(SCHEMA, 0))),
                event_id=str(extra.get("e", item.get(EVENT, ""))),
                expires_at=int(item.get(table_design.TTL_ATTRIBUTE, 0)),
            )
        )
    return records


def _spoke_of(item: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(project, environment, account, region) from the key: `LATEST#<project>#<shard>` and
    `<environment>#<account>#<region>` (names are `[a-z0-9-]`, so `#` splits them safely)."""
    project = str(item[table_design.PARTITION_KEY]).split("#")[1]
    environment, account, region = str(item[table_design.SORT_KEY]).split("#")
    return project, environment, account, region


def freshness_of_item(item: Mapping[str, Any]) -> SpokeFreshness | None:
    if NEWEST not in item:
        return None
    _, _, account, region = _spoke_of(item)
    return SpokeFreshness(
        account_id=account,
        region=region,
        extraction_date=canonical_time(int(item[NEWEST])),
        seen_at=canonical_time(int(item.get(SEEN, item[NEWEST]))),
        errors=tuple(_error_entry(entry) for entry in item.get(ERRORS, [])),
    )


def newest_freshness(items: Iterable[Mapping[str, Any]]) -> dict[str, SpokeFreshness]:
    """Account -> its freshness: of a spoke with several regions, the newest of its items."""
    newest: dict[str, SpokeFreshness] = {}
    for item in items:
        fresh = freshness_of_item(item)
        known = newest.get(fresh.account_id) if fresh is not None else None
        if fresh is not None and (known is None or known.extraction_date < fresh.extraction_date):
            newest[fresh.account_id] = fresh
    return newest


def _error_entry(entry: Sequence[Any]) -> ErrorEntry:
    metric, code, message = entry
    return str(metric), str(code), str(message)


# ---------------------------------------------------------------------------------- writing


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


def _series_value(point: DatapointRecord, *, compact: bool) -> list[Any]:
    """`[value, epoch ms]` and a map of what the name, the catalog and the item cannot tell."""
    extra: dict[str, Any] = {}
    if point.unit != catalog_unit(point.metric_name):
        extra["u"] = point.unit
    if point.dimensions and _parse_dimensions(table_design.dimension_key(point.dimensions)) != dict(
        point.dimensions
    ):
        extra["d"] = dict(point.dimensions)
    if not compact:
        extra["e"] = point.event_id
        extra["n"] = point.schema_version
    value: list[Any] = [point.value, epoch_millis(point.extraction_date)]
    return [*value, extra] if extra else value


def _errors_value(errors: Sequence[ErrorEntry]) -> list[list[str]]:
    return [list(entry) for entry in errors]


class LatestValues:
    """Writes the per-spoke latest items of the hub table, and reads them back."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def items_of_project(self, project_name: str) -> list[dict[str, Any]]:
        """Every latest item of a project (deserialized): one paginated Query per shard."""
        items: list[dict[str, Any]] = []
        paginator = self._client.get_paginator("query")
        for partition in table_design.latest_partition_keys(project_name):
            for page in paginator.paginate(
                TableName=self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": table_design.PARTITION_KEY},
                ExpressionAttributeValues={":pk": {"S": partition}},
            ):
                items.extend(
                    {name: _deserializer.deserialize(value) for name, value in item.items()}
                    for item in page.get("Items", [])
                )
        return items

    def freshness(self, projects: Iterable[str]) -> dict[str, SpokeFreshness]:
        """Account -> freshness, from the latest items of these projects."""
        return newest_freshness(
            item for project in sorted(set(projects)) for item in self.items_of_project(project)
        )

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
            covered=_series_names_hash(points),
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
                stored = {name: _deserializer.deserialize(value) for name, value in item.items()}
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
            update.sets.append(f"{errors} = {update.value(_errors_value(event.errors))}")
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
        series = update.set(series_attribute(point), _series_value(point, compact=compact))
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
        time = update.value(entry.split("=", 1)[0] + "=")
        update.conditions.append(
            f"(attribute_not_exists({slot}) OR {slot} = {update.value(entry)} "
            f"OR NOT begins_with({slot}, {time}))"
        )


def _stored_series(name: str, value: Sequence[Any]) -> tuple[int, Decimal, str, Mapping[str, Any]]:
    """(epoch ms, value, unit, map of stored extras) of a stored series."""
    extra: Mapping[str, Any] = value[2] if len(value) > 2 else {}
    unit = extra.get("u", _metric_of(name)[1])
    return int(value[1]), Decimal(value[0]), str(unit), extra


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
        millis, value, unit, _ = _stored_series(name, stored[name])
        if millis < event.millis:
            newer.append(point)
        elif millis == event.millis:
            if normalized_value(value) != normalized_value(point.value) or unit != point.unit:
                conflicts.append((point, f"{value} {unit}"))
            else:
                unchanged += 1
    held = stored.get(digest[0]) if digest is not None else None
    if not conflicts and digest is not None and isinstance(held, str):
        time_prefix = digest[1].split("=", 1)[0] + "="
        if held.startswith(time_prefix) and held != digest[1]:
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
            update.set(ERRORS, _errors_value(event.errors))
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
            series = update.set(series_attribute(point), _series_value(point, compact=False))
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
    known = tuple(_error_entry(entry) for entry in stored.get(ERRORS, []))
    added = tuple(entry for entry in event.errors if entry not in known)
    if not added:
        return
    errors = update.set(ERRORS, _errors_value(known + added))
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
        extra: Mapping[str, Any] = value[2] if len(value) > 2 else {}
        if "e" in extra:
            continue
        explicit = [value[0], value[1], {**extra, "e": stored[EVENT], "n": stored[SCHEMA]}]
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
        update.set(series_attribute(point), _series_value(point, compact=True))
