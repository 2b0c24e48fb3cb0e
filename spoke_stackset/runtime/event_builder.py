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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from jsonschema import Draft202012Validator

from contracts import (
    METRIC_EVENT_DETAIL_TYPE,
    METRIC_EVENT_SCHEMA_VERSION,
    METRIC_EVENT_SOURCE,
    PUT_EVENTS_MAX_ENTRY_BYTES,
    load_schema,
)
from metrics.base import Datapoint
from runtime_common.events import entry_size

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


def datapoint_details(metric_name: str, unit: str, produced: object) -> list[dict[str, Any]]:
    """The v2 `Metrics` items for what a metric's `compute` returned, or InvalidDatapointError."""
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
        detail = {
            "MetricName": metric_name,
            "MetricValue": datapoint.value,
            "Unit": unit,
            "Dimensions": dict(datapoint.dimensions),
            "Metadata": dict(datapoint.metadata),
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
