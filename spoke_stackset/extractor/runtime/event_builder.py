"""Turn an extraction's datapoints and errors into PutEvents entries (v2 or the sample's v1).

Pure functions, no AWS: the extractor computes, this module shapes, `runtime_common.events`
sends. Every detail built here is valid against the checked-in schema, because each datapoint is
validated against the v2 schema's datapoint definition before it is accepted.

v2 puts a whole extraction in one event. Only when that event would exceed the PutEvents entry
limit (256 KB, counted as in
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html) is it split into
parts that share the ExtractionId and carry Part/PartCount. A datapoint too large to fit in any
event on its own is replaced by an error entry, so it fails visibly rather than the whole run.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from jsonschema import Draft202012Validator

from contracts import (
    EVENT_MAX_STRING_CHARS,
    EVENT_NUMBER_MAX_MAGNITUDE,
    EVENT_NUMBER_MIN_MAGNITUDE,
    METRIC_EVENT_DETAIL_TYPE,
    METRIC_EVENT_SCHEMA_VERSION,
    METRIC_EVENT_SOURCE,
    PUT_EVENTS_MAX_ENTRY_BYTES,
    load_schema,
)
from metrics.base import Datapoint, ValueRange
from runtime_common.events import entry_size

logger = logging.getLogger(__name__)

# Error codes the extractor itself assigns (the others are AWS error codes from ClientError).
INTERNAL_ERROR: Final = "InternalError"
INVALID_DATAPOINT: Final = "InvalidDatapoint"
DATAPOINT_TOO_LARGE: Final = "DatapointTooLarge"

_V2_SCHEMA = load_schema("metric-event-v2")
_ERROR_CODE_MAX_LENGTH: Final = _V2_SCHEMA["$defs"]["error"]["properties"]["ErrorCode"]["maxLength"]
_ERROR_MESSAGE_MAX_LENGTH: Final = _V2_SCHEMA["$defs"]["error"]["properties"]["Message"][
    "maxLength"
]
_MAX_ITEMS_PER_LIST: Final = _V2_SCHEMA["properties"]["Metrics"]["maxItems"]
_MAX_PARTS: Final = _V2_SCHEMA["properties"]["Part"]["maximum"]


class InvalidDatapointError(ValueError):
    """A metric returned something that cannot travel in a metric event."""


class ExtractionTooLargeError(ValueError):
    """Even split into the schema's maximum number of parts, the extraction does not fit."""


@dataclass(frozen=True)
class MetricError:
    """A metric that produced no value in this extraction, and why."""

    metric_name: str
    error_code: str
    message: str

    def to_detail(self) -> dict[str, str]:
        return {
            "MetricName": self.metric_name,
            "ErrorCode": self.error_code[:_ERROR_CODE_MAX_LENGTH],
            "Message": self.message[:_ERROR_MESSAGE_MAX_LENGTH],
        }


@dataclass(frozen=True)
class ExtractionEnvelope:
    """What every event of one extraction shares."""

    project_name: str
    environment: str
    account_id: str
    region: str
    extraction_date: datetime
    extraction_id: str

    @property
    def extraction_date_text(self) -> str:
        # RFC 3339 in UTC with a "Z" and millisecond precision: what the schemas' `date-time`
        # format accepts, and what Python's datetime.fromisoformat reads back (3.11+).
        moment = self.extraction_date.astimezone(UTC)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"

    def v2_fields(self) -> dict[str, Any]:
        return {
            "SchemaVersion": METRIC_EVENT_SCHEMA_VERSION,
            "ProjectName": self.project_name,
            "Environment": self.environment,
            "AccountId": self.account_id,
            "Region": self.region,
            "ExtractionDate": self.extraction_date_text,
            "ExtractionId": self.extraction_id,
        }


@dataclass(frozen=True)
class BuiltEntries:
    """PutEvents entries, plus the datapoints that could not be placed in any of them."""

    entries: tuple[dict[str, Any], ...]
    datapoints: int  # datapoints carried by `entries`
    rejected: tuple[MetricError, ...]


_datapoint_validator = Draft202012Validator(_V2_SCHEMA["$defs"]["datapoint"])
_v1_validator = Draft202012Validator(load_schema("metric-event-v1"))


def serialize(value: Any) -> str:
    """Compact JSON, as sent: the sizes measured are the sizes EventBridge counts."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def datapoint_details(
    metric_name: str, unit: str, produced: object, value_range: ValueRange | None = None
) -> list[dict[str, Any]]:
    """The v2 `Metrics` items for what a metric's `compute` returned, or InvalidDatapointError.

    A value outside `value_range` (the metric's definition, which the hub checks too) is an
    error, not a datapoint: the hub would quarantine the whole event for it. Metadata strings
    longer than the hub accepts are cut to the shared limit, and fields whose key is too long
    are dropped, each with a warning: Metadata is commentary, and the value must still arrive.
    """
    if not isinstance(produced, Sequence) or isinstance(produced, str | bytes):
        raise InvalidDatapointError(
            f"compute() must return a sequence of Datapoint, got {type(produced).__name__}"
        )
    details = []
    for position, datapoint in enumerate(produced):
        if not isinstance(datapoint, Datapoint):
            raise InvalidDatapointError(
                f"datapoint #{position} is a {type(datapoint).__name__}, not a Datapoint"
            )
        if isinstance(datapoint.value, float) and not math.isfinite(datapoint.value):
            raise InvalidDatapointError(f"datapoint #{position} has a non-finite value")
        if isinstance(datapoint.value, int | float) and not isinstance(datapoint.value, bool):
            magnitude = abs(Decimal(datapoint.value))
            if (
                magnitude
                and not EVENT_NUMBER_MIN_MAGNITUDE <= magnitude <= EVENT_NUMBER_MAX_MAGNITUDE
            ):
                raise InvalidDatapointError(
                    f"datapoint #{position}: {datapoint.value!r} is outside the numbers the hub "
                    f"stores ({EVENT_NUMBER_MIN_MAGNITUDE} to {EVENT_NUMBER_MAX_MAGNITUDE} in "
                    "magnitude, or 0)"
                )
        if value_range is not None and isinstance(datapoint.value, int | float):
            problem_with_value = value_range.problem_with(datapoint.value)
            if problem_with_value is not None:
                raise InvalidDatapointError(
                    f"datapoint #{position}: {problem_with_value}; {metric_name} reports "
                    f"{value_range.describe()}"
                )
        detail = {
            "MetricName": metric_name,
            "MetricValue": datapoint.value,
            "Unit": unit,
            "Dimensions": dict(datapoint.dimensions),
            "Metadata": fit_metadata(metric_name, datapoint.metadata),
        }
        problem = next(iter(_datapoint_validator.iter_errors(detail)), None)
        if problem is not None:
            where = "/".join(str(part) for part in problem.absolute_path) or "datapoint"
            raise InvalidDatapointError(f"datapoint #{position}: {where}: {problem.message}")
        try:
            serialize(detail)
        except (TypeError, ValueError) as error:
            raise InvalidDatapointError(
                f"datapoint #{position} is not JSON-serializable: {error}"
            ) from None
        details.append(detail)
    return details


def fit_metadata(metric_name: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """`metadata` with every string within EVENT_MAX_STRING_CHARS: longer values are cut,
    fields with a longer key are dropped (a cut key could collide with another). Each change is
    logged as a warning naming the metric and the field."""
    return {
        key: _fit_value(metric_name, key, value)
        for key, value in metadata.items()
        if _key_fits(metric_name, key)
    }


def _key_fits(metric_name: str, key: object) -> bool:
    if isinstance(key, str) and len(key) > EVENT_MAX_STRING_CHARS:
        logger.warning(
            "metadata field dropped: its key is %d characters long, the limit is %d "
            "(metric %s, key starts %r)",
            len(key),
            EVENT_MAX_STRING_CHARS,
            metric_name,
            key[:40],
        )
        return False
    return True


def _fit_value(metric_name: str, path: str, value: Any) -> Any:
    if isinstance(value, str) and len(value) > EVENT_MAX_STRING_CHARS:
        logger.warning(
            "metadata value truncated from %d to %d characters (metric %s, field %s)",
            len(value),
            EVENT_MAX_STRING_CHARS,
            metric_name,
            path[:80],
        )
        return value[:EVENT_MAX_STRING_CHARS]
    if isinstance(value, Mapping):
        return {
            key: _fit_value(metric_name, f"{path}.{key}", item)
            for key, item in value.items()
            if _key_fits(metric_name, key)
        }
    if isinstance(value, list | tuple):
        return [
            _fit_value(metric_name, f"{path}[{index}]", item) for index, item in enumerate(value)
        ]
    return value


def _entry(detail: Mapping[str, Any], bus_name: str) -> dict[str, Any]:
    return {
        "Source": METRIC_EVENT_SOURCE,
        "DetailType": METRIC_EVENT_DETAIL_TYPE,
        "Detail": serialize(detail),
        "EventBusName": bus_name,
    }


def _too_large(datapoint: Mapping[str, Any], size: int) -> MetricError:
    return MetricError(
        datapoint["MetricName"],
        DATAPOINT_TOO_LARGE,
        f"a datapoint with dimensions {serialize(datapoint['Dimensions'])} serializes to {size} "
        f"bytes and cannot fit in a {PUT_EVENTS_MAX_ENTRY_BYTES}-byte event; reduce its Metadata",
    )


def build_v2_entries(
    envelope: ExtractionEnvelope,
    datapoints: Sequence[Mapping[str, Any]],
    errors: Sequence[MetricError],
    bus_name: str,
) -> BuiltEntries:
    """One event with every datapoint and error, or, if that is too large, the fewest parts a
    greedy packing finds (in order, Metrics first, then Errors)."""
    error_details = [error.to_detail() for error in errors]
    whole = _entry(
        {**envelope.v2_fields(), "Metrics": list(datapoints), "Errors": error_details}, bus_name
    )
    fits_in_one = (
        entry_size(whole) <= PUT_EVENTS_MAX_ENTRY_BYTES
        and len(datapoints) <= _MAX_ITEMS_PER_LIST
        and len(error_details) <= _MAX_ITEMS_PER_LIST
    )
    if fits_in_one:
        return BuiltEntries((whole,), len(datapoints), ())

    # An upper bound of each part's fixed cost: the envelope with the largest Part/PartCount
    # values and empty lists. Each item then costs its own size plus one separating comma.
    overhead = entry_size(
        _entry(
            {
                **envelope.v2_fields(),
                "Part": _MAX_PARTS,
                "PartCount": _MAX_PARTS,
                "Metrics": [],
                "Errors": [],
            },
            bus_name,
        )
    )
    budget = PUT_EVENTS_MAX_ENTRY_BYTES - overhead
    rejected: list[MetricError] = []
    items: list[tuple[str, Mapping[str, Any], int]] = []
    for datapoint in datapoints:
        size = len(serialize(datapoint).encode("utf-8")) + 1
        if size > budget:
            rejected.append(_too_large(datapoint, size - 1))
        else:
            items.append(("Metrics", datapoint, size))
    for error_detail in [*error_details, *(error.to_detail() for error in rejected)]:
        items.append(("Errors", error_detail, len(serialize(error_detail).encode("utf-8")) + 1))

    parts: list[dict[str, list[Mapping[str, Any]]]] = []
    used = 0
    for list_name, item, size in items:
        current = parts[-1] if parts else None
        if (
            current is None
            or used + size > budget
            or len(current[list_name]) == _MAX_ITEMS_PER_LIST
        ):
            current = {"Metrics": [], "Errors": []}
            parts.append(current)
            used = 0
        current[list_name].append(item)
        used += size
    if not parts:
        parts.append({"Metrics": [], "Errors": []})
    if len(parts) > _MAX_PARTS:
        raise ExtractionTooLargeError(
            f"the extraction needs {len(parts)} events, more than the schema's {_MAX_PARTS} parts"
        )

    entries = tuple(
        _entry(
            {
                **envelope.v2_fields(),
                "Part": number,
                "PartCount": len(parts),
                "Metrics": part["Metrics"],
                "Errors": part["Errors"],
            },
            bus_name,
        )
        for number, part in enumerate(parts, start=1)
    )
    carried = sum(len(part["Metrics"]) for part in parts)
    return BuiltEntries(entries, carried, tuple(rejected))


def build_v1_entries(
    envelope: ExtractionEnvelope, datapoints: Sequence[Mapping[str, Any]], bus_name: str
) -> BuiltEntries:
    """One event per datapoint, in the sample's format. v1 has no Unit or Dimensions field:
    dimensions are merged into Metadata (they win over a metadata key of the same name, since
    they identify the series). A datapoint that cannot be expressed in v1 is rejected."""
    entries: list[dict[str, Any]] = []
    rejected: list[MetricError] = []
    for datapoint in datapoints:
        detail = {
            "MetricName": datapoint["MetricName"],
            "MetricValue": datapoint["MetricValue"],
            "ExtractionDate": envelope.extraction_date_text,
            "Metadata": {**datapoint["Metadata"], **datapoint["Dimensions"]},
            "Environment": envelope.environment,
            "ProjectName": envelope.project_name,
        }
        problem = next(iter(_v1_validator.iter_errors(detail)), None)
        if problem is not None:
            where = "/".join(str(part) for part in problem.absolute_path) or "detail"
            rejected.append(
                MetricError(
                    datapoint["MetricName"],
                    INVALID_DATAPOINT,
                    f"cannot be expressed as a v1 event: {where}: {problem.message}",
                )
            )
            continue
        entry = _entry(detail, bus_name)
        size = entry_size(entry)
        if size > PUT_EVENTS_MAX_ENTRY_BYTES:
            rejected.append(_too_large(datapoint, size))
            continue
        entries.append(entry)
    return BuiltEntries(tuple(entries), len(entries), tuple(rejected))
