"""Latest values: one DynamoDB item per spoke (project, environment, account, region).

The item (key: `hub_stack.table_design.latest_key`) holds, as top-level attributes:
- `S:<metric>#<dims>`: the latest value of each series the spoke reports, a map
  {V value, U unit, T extraction time (canonical), E event id, N schema version, M metric,
  D dimensions}. Top-level, not nested in one map, so that the first write of a series needs no
  parent map to exist and each series carries its own "only when newer" condition;
- `R:<slot>:<parts>`: the digest of a recent extraction, `<epoch ms>=<hash of its values>`, in a
  ring of `DIGEST_SLOTS` hourly slots (see below);
- ProjectName, Environment, AccountId, Region, ExpiresAt (TTL).

One event is ONE UpdateItem (docs/architecture.md §7, "Hub data plane (issue 10)"): it sets every
series and the event's digest, on the condition that each series is newer than the stored one
and that the digest slot does not hold the same extraction time with another hash. The condition
fails rarely (a replay, a late event), and the failure returns the stored item
(ReturnValuesOnConditionCheckFailure=ALL_OLD) at no extra read, from which this module tells:
- a conflicting replay: the slot holds this extraction time with another hash, or a stored series
  has this extraction time with another value or unit -> `ConflictingReplay`, nothing written;
- an identical replay: the slot holds this very digest and no series is older -> nothing written;
- a late or partly late event: a second UpdateItem writes only the older series (and the digest).

Replay horizon of the conflict check: the digest ring keeps `DIGEST_SLOTS` hours (one slot per
hour of extraction time, a newer extraction in the same hour takes the slot over), and the series
attributes keep the latest extraction for ever. A conflicting replay of an extraction older than
the ring is not recognised here: its rows reach history, and queries keep one row per datapoint
key (`contracts.history_table`); the first one ingested, by `ingested_at`. Why not the full
`REPLAY_HORIZON_DAYS`: every slot is written with the item, and DynamoDB bills a write by the
item's whole size (1 unit per KB): 28 days of hourly digests are ~17 KB, 17 write units per event
instead of ~3 (figures in docs/architecture.md §7).

Parts of one extraction (v2 `Part`/`PartCount`) share the extraction time but not their series,
so the digest's name carries a short hash of the event's series names: each part has its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hub_stack import table_design

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SERIES_PREFIX: Final = "S:"
DIGEST_PREFIX: Final = "R:"
# Hours of extraction digests the item keeps (the conflict check's horizon beyond the latest
# extraction, see the module docstring).
DIGEST_SLOTS: Final = 24
# Series per UpdateItem: each adds ~60 characters to the condition and update expressions, which
# DynamoDB caps at 4 KB each. Events carry 15 series; one of 1,000 takes several calls.
SERIES_PER_UPDATE: Final = 40
# A concurrent writer can change the item between our condition failure and the retry.
MAX_ATTEMPTS: Final = 4

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class DatapointRecord(Protocol):
    """What this module reads of a datapoint (`hub_stack.runtime.store.DatapointRecord`, which
    imports this module: a Protocol keeps the import one way)."""

    @property
    def project_name(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def metric_name(self) -> str: ...
    @property
    def value(self) -> Decimal: ...
    @property
    def unit(self) -> str: ...
    @property
    def dimensions(self) -> Mapping[str, str]: ...
    @property
    def account_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def extraction_date(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def event_id(self) -> str: ...
    @property
    def expires_at(self) -> int: ...


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


def series_attribute(point: DatapointRecord) -> str:
    return SERIES_PREFIX + table_design.series_name(point.metric_name, point.dimensions)


def normalized_value(value: Decimal) -> str:
    """7, 7.0 and 7.00 are one value (DynamoDB normalises numbers the same way)."""
    return str(Decimal(value).normalize())


def extraction_digest(points: Sequence[DatapointRecord]) -> tuple[str, str] | None:
    """(attribute name, entry) of an event's digest: the slot name and `<epoch ms>=<hash>`.

    None for an event of one series (the sample's v1 events carry one metric each): its series
    attribute already tells a replay of the latest extraction, and a digest per v1 event would
    multiply the item's size by its number of metrics.
    """
    if len(points) < 2:
        return None
    first = points[0]
    names = sorted(series_attribute(point) for point in points)
    values = sorted(f"{series_attribute(p)}={normalized_value(p.value)}|{p.unit}" for p in points)
    parts = hashlib.sha256("\n".join(names).encode()).hexdigest()[:8]
    value_hash = hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
    epoch_ms = _epoch_millis(first.extraction_date)
    slot = (epoch_ms // 3_600_000) % DIGEST_SLOTS
    return f"{DIGEST_PREFIX}{slot}:{parts}", f"{epoch_ms}={value_hash}"


def _epoch_millis(extraction_date: str) -> int:
    """Of a canonical timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`, always UTC)."""
    moment = datetime.fromisoformat(extraction_date.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def _series_value(point: DatapointRecord) -> dict[str, Any]:
    return {
        "V": point.value,
        "U": point.unit,
        "T": point.extraction_date,
        "E": point.event_id,
        "N": point.schema_version,
        "M": point.metric_name,
        "D": dict(point.dimensions),
    }


class LatestValues:
    """Writes the per-spoke latest items of the hub table (reads: `records_of_item`)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def record_event(self, points: Sequence[DatapointRecord]) -> LatestWrite:
        """Move the spoke's latest values forward with one event's datapoints (one spoke, one
        extraction time). Raises ConflictingReplay, having written nothing, on a conflict."""
        if not points:
            return LatestWrite(0, identical_replay=False)
        moved = 0
        replay = True
        for start in range(0, len(points), SERIES_PER_UPDATE):
            written = self._record_chunk(points[start : start + SERIES_PER_UPDATE])
            moved += written.moved_forward
            replay = replay and written.identical_replay
        return LatestWrite(moved, identical_replay=replay)

    def _record_chunk(self, points: Sequence[DatapointRecord]) -> LatestWrite:
        digest = extraction_digest(points)
        to_write = list(points)
        for _ in range(MAX_ATTEMPTS):
            try:
                self._update(points[0], to_write, digest, newest=len(to_write) == len(points))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                # The stored item, returned by ReturnValuesOnConditionCheckFailure (not typed).
                response: Mapping[str, Any] = error.response
                item: Mapping[str, Any] = response.get("Item") or {}
                stored = {name: _deserializer.deserialize(value) for name, value in item.items()}
                to_write, unchanged = _still_to_write(points, stored, digest)
                if to_write:
                    continue
                if unchanged == len(points):
                    return LatestWrite(0, identical_replay=True)
                if digest is None or stored.get(digest[0]) == digest[1]:
                    return LatestWrite(0, identical_replay=False)
                # A late event: every series is newer already; record its digest alone, so that
                # a conflicting replay of it is still recognised.
                continue
            return LatestWrite(len(to_write), identical_replay=False)
        raise LatestItemContention(
            f"the latest item of {points[0].account_id}/{points[0].region} kept changing during "
            f"{MAX_ATTEMPTS} conditional updates"
        )

    def _update(
        self,
        first: DatapointRecord,
        points: Sequence[DatapointRecord],
        digest: tuple[str, str] | None,
        *,
        newest: bool,
    ) -> None:
        names: dict[str, str] = {
            "#project": "ProjectName",
            "#env": "Environment",
            "#account": "AccountId",
            "#region": "Region",
            "#expires": table_design.TTL_ATTRIBUTE,
        }
        values: dict[str, Any] = {
            ":project": {"S": first.project_name},
            ":env": {"S": first.environment},
            ":account": {"S": first.account_id},
            ":region": {"S": first.region},
            ":expires": {"N": str(first.expires_at)},
        }
        assignments = [
            "#project = :project",
            "#env = :env",
            "#account = :account",
            "#region = :region",
            # The expiry follows the newest extraction; an event that is only partly newer
            # leaves it to the newer one.
            "#expires = :expires" if newest else "#expires = if_not_exists(#expires, :expires)",
        ]
        conditions = []
        if digest is not None:
            names["#r"], entry = digest
            values[":entry"] = {"S": entry}
            values[":time"] = {"S": entry.split("=", 1)[0] + "="}
            assignments.append("#r = :entry")
            # The slot is free, holds this very digest, or holds another extraction (the ring
            # moved on), never this extraction with another hash.
            conditions.append(
                "(attribute_not_exists(#r) OR #r = :entry OR NOT begins_with(#r, :time))"
            )
        if points:
            names["#T"] = "T"
            values[":t"] = {"S": first.extraction_date}
        for index, point in enumerate(points):
            names[f"#s{index}"] = series_attribute(point)
            values[f":v{index}"] = _serializer.serialize(_series_value(point))
            assignments.append(f"#s{index} = :v{index}")
            conditions.append(f"(attribute_not_exists(#s{index}) OR #s{index}.#T < :t)")
        key = table_design.latest_key(
            first.project_name, first.environment, first.account_id, first.region
        )
        self._client.update_item(
            TableName=self.table_name,
            Key={name: {"S": value} for name, value in key.items()},
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )


def _still_to_write(
    points: Sequence[DatapointRecord],
    stored: Mapping[str, Any],
    digest: tuple[str, str] | None,
) -> tuple[list[DatapointRecord], int]:
    """From the stored item: raise ConflictingReplay on a conflict, else the series this event
    moves forward and how many series already hold exactly this event's value."""
    conflicts: list[tuple[DatapointRecord, str]] = []
    newer: list[DatapointRecord] = []
    unchanged = 0
    for point in points:
        value = stored.get(series_attribute(point))
        if value is None or str(value["T"]) < point.extraction_date:
            newer.append(point)
        elif str(value["T"]) == point.extraction_date:
            if (
                normalized_value(Decimal(value["V"])) != normalized_value(point.value)
                or value["U"] != point.unit
            ):
                conflicts.append((point, f"{value['V']} {value['U']}"))
            else:
                unchanged += 1
    if not conflicts and digest is not None:
        name, entry = digest
        held = stored.get(name)
        time_prefix = entry.split("=", 1)[0] + "="
        if isinstance(held, str) and held.startswith(time_prefix) and held != entry:
            conflicts.extend((point, "other values at this extraction") for point in points)
    if conflicts:
        raise ConflictingReplay(conflicts)
    return newer, unchanged
