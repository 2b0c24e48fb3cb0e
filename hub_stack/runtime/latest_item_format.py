"""The format of a spoke's latest item: its attribute names, the compact encoding of a series,
the digest ring, and the decoding of an item back into records and freshness.

One DynamoDB item per spoke (project, environment, account, region). The reader and the writer of
the format live here together, because they must change together; the conditional writes that
move the item forward are `hub_stack.runtime.latest_values`.

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

Replay horizon of the conflict check: the series keep the latest extraction for ever, and the
digest ring `DIGEST_SLOTS` hours (one slot per hour of extraction time; a newer extraction in the
same hour takes the slot over). A conflicting replay of an extraction older than the ring is not
recognised: its rows reach history, and queries keep one row per datapoint key
(`contracts.history_table`), the first one ingested, by `ingested_at`. The ring is a trade-off
with the write cost: each slot is 26 bytes written with every event, and the item must stay
under 1 KB: 12 slots, a 12-hour horizon, make a 15-series item 751 bytes; 24 would make it 1,065
(figures in docs/architecture.md §7).

Parts of one extraction (v2 `Part`/`PartCount`) share the extraction time but not their series,
so the digest's name carries a short hash of the event's series names: each part has its own.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Final

from hub_stack import table_design
from hub_stack.runtime.datapoints import DatapointRecord
from metrics.registry import all_metric_classes
from runtime_common.timestamps import format_timestamp

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
_CODE_CHARS: Final = 3
_EXTERNAL_METRIC: Final = "="
_DIMENSIONS_MARK: Final = "|"

ErrorEntry = tuple[str, str, str]  # metric, error code, message (the v2 event's `Errors`)


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


def series_names_hash(points: Sequence[DatapointRecord]) -> str:
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
    name = f"{DIGEST_PREFIX}{slot}{series_names_hash(points)}"
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
        errors=tuple(error_entry(entry) for entry in item.get(ERRORS, [])),
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


def error_entry(entry: Sequence[Any]) -> ErrorEntry:
    metric, code, message = entry
    return str(metric), str(code), str(message)


# --------------------------------------------------------------------------------- encoding


def series_value(point: DatapointRecord, *, compact: bool) -> list[Any]:
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


def errors_value(errors: Sequence[ErrorEntry]) -> list[list[str]]:
    return [list(entry) for entry in errors]


def stored_series(name: str, value: Sequence[Any]) -> tuple[int, Decimal, str, Mapping[str, Any]]:
    """(epoch ms, value, unit, map of stored extras) of a stored series."""
    extra: Mapping[str, Any] = value[2] if len(value) > 2 else {}
    unit = extra.get("u", _metric_of(name)[1])
    return int(value[1]), Decimal(value[0]), str(unit), extra


def series_with_own_event(
    value: Sequence[Any], event_id: object, schema_version: object
) -> list[Any] | None:
    """A stored compact series rewritten to carry the item's event id and version (`e`, `n`, as
    stored) itself, so that a write repointing `e`/`n` leaves it its own; None if it already
    carries its own."""
    extra: Mapping[str, Any] = value[2] if len(value) > 2 else {}
    if "e" in extra:
        return None
    return [value[0], value[1], {**extra, "e": event_id, "n": schema_version}]


def digest_time_prefix(entry: str) -> str:
    """`<epoch ms hex>=` of a digest entry: a slot holding this extraction starts with it."""
    return entry.split("=", 1)[0] + "="
