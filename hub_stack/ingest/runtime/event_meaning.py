"""Checks 6 and 7 of event validation: what a well-formed event means, and whether it holds.

6. v2 AccountId equals the envelope's account, the regions exist (botocore's region list) and
   the v2 Region equals the envelope's, no series twice in one event, keys fit DynamoDB's key
   size limits, the extraction time is neither in the future (beyond clock skew) nor older than
   the retention;
7. each metric against its definition in the metric registry (`metrics/`), the one the spokes
   use: the name is registered, the v2 Unit is the metric's, the value lies in its range (a Count
   is a whole number >= 0, a Percent lies in 0..100...; `Metric.value_range`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from hub_stack import table_design
from hub_stack.ingest.runtime.event_rejection import Claims, EventRejected, RejectionCode, shortened
from hub_stack.ingest.runtime.validated_event import ValidatedError, ValidatedEvent, ValidatedMetric
from metrics.base import Metric
from metrics.registry import UnknownMetricError, metric_class
from runtime_common.regions import is_known_region
from runtime_common.timestamps import format_timestamp

MAX_CLOCK_SKEW: Final = timedelta(minutes=15)

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-partition-sort-keys
MAX_PARTITION_KEY_BYTES: Final = 2048

MAX_SORT_KEY_BYTES: Final = 1024


# Characters that build the series key from dimensions (see table_design.dimension_key); a value
# holding one could make two different dimension sets collide into one series.
_KEY_SEPARATORS: Final = ("#", ",", "=")


def check_meaning(
    event: Mapping[str, Any],
    detail: Mapping[str, Any],
    version: int,
    claims: Claims,
    *,
    now: datetime,
    retention_days: int,
) -> ValidatedEvent:
    account_id: str = event["account"]
    if version == 2 and detail["AccountId"] != account_id:
        raise EventRejected(
            RejectionCode.ACCOUNT_MISMATCH,
            f"detail.AccountId {detail['AccountId']} differs from the sending account {account_id}",
            claims,
        )
    if version == 2 and detail.get("Part", 1) > detail.get("PartCount", 1):
        raise EventRejected(
            RejectionCode.SCHEMA_VIOLATION,
            f"detail.Part {detail.get('Part')} is greater than PartCount {detail.get('PartCount')}",
            claims,
        )
    extraction_time = _extraction_time(detail["ExtractionDate"], claims, now, retention_days)
    region = _check_region(event["region"], detail.get("Region") if version == 2 else None, claims)
    metrics = _metrics_of(detail, version)
    _check_against_definitions(metrics, version, claims)
    _check_series(
        metrics,
        project_name=detail["ProjectName"],
        environment=detail["Environment"],
        account_id=account_id,
        region=region,
        claims=claims,
    )
    errors = tuple(
        ValidatedError(entry["MetricName"], entry["ErrorCode"], entry["Message"])
        for entry in detail.get("Errors", [])
    )
    return ValidatedEvent(
        event_id=event["id"],
        account_id=account_id,
        region=region,
        project_name=detail["ProjectName"],
        environment=detail["Environment"],
        extraction_time=extraction_time,
        extraction_date=format_timestamp(extraction_time),
        schema_version=version,
        metrics=metrics,
        errors=errors,
    )


def _check_region(envelope_region: str, detail_region: str | None, claims: Claims) -> str:
    """The region the datapoints belong to. EventBridge sets the envelope's region where the event
    was put, and keeps it when a rule forwards the event to another region's bus; a v2 detail
    must name the same one, or its values would be filed under a region that did not send them."""
    if not is_known_region(envelope_region):
        raise EventRejected(
            RejectionCode.UNKNOWN_REGION,
            f"envelope region {shortened(envelope_region, 40)} is not an AWS region",
            claims,
        )
    if detail_region is None:
        return envelope_region
    if not is_known_region(detail_region):
        raise EventRejected(
            RejectionCode.UNKNOWN_REGION,
            f"detail.Region {shortened(detail_region, 40)} is not an AWS region",
            claims,
        )
    if detail_region != envelope_region:
        raise EventRejected(
            RejectionCode.REGION_MISMATCH,
            f"detail.Region {detail_region} differs from the region the event was sent from "
            f"({envelope_region})",
            claims,
        )
    return detail_region


def _check_against_definitions(
    metrics: Sequence[ValidatedMetric], version: int, claims: Claims
) -> None:
    """Each value against its metric's definition in the registry, which the spokes share."""
    for index, metric in enumerate(metrics):
        path = f"detail.Metrics[{index}]" if version == 2 else "detail"
        definition = _definition(metric.metric_name, path, claims, version=version)
        if version == 2 and metric.unit != definition.unit:
            raise EventRejected(
                RejectionCode.UNIT_MISMATCH,
                f"{path}.Unit is {metric.unit}, but {metric.metric_name} is measured in "
                f"{definition.unit}",
                claims,
            )
        value_range = definition.value_range()
        problem = value_range.problem_with(metric.value)
        if problem is not None:
            raise EventRejected(
                RejectionCode.METRIC_VALUE_OUT_OF_RANGE,
                f"{path}.MetricValue {problem}; {metric.metric_name} ({definition.unit}) takes "
                f"{value_range.describe()}",
                claims,
            )


# The original sample's SSM metric names itself after its parameter
# (`SSMParamStoreValue<ParameterName>`), so a v1 event with that prefix is judged by our
# SsmParameterValue definition and keeps its name: the sample's series continue
# (docs/architecture.md §7, "Spokes of the original sample").
SAMPLE_SSM_METRIC_PREFIX: Final = "SSMParamStoreValue"


def _definition(metric_name: str, path: str, claims: Claims, *, version: int) -> type[Metric]:
    try:
        return metric_class(metric_name)
    except UnknownMetricError as error:
        if (
            version == 1
            and metric_name.startswith(SAMPLE_SSM_METRIC_PREFIX)
            and len(metric_name) > len(SAMPLE_SSM_METRIC_PREFIX)
        ):
            return metric_class("SsmParameterValue")
        raise EventRejected(
            RejectionCode.UNKNOWN_METRIC,
            f"{path}.MetricName {metric_name} is not a registered metric "
            f"(known: {', '.join(error.known)})",
            claims,
        ) from None


def _extraction_time(text: str, claims: Claims, now: datetime, retention_days: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # RFC 3339 allows forms Python does not read (a leap second, a lowercase `t`).
        raise EventRejected(
            RejectionCode.SCHEMA_VIOLATION,
            f"detail.ExtractionDate {text!r} is not an ISO 8601 date-time this hub can read",
            claims,
        ) from None
    if moment.tzinfo is None:
        raise EventRejected(
            RejectionCode.SCHEMA_VIOLATION,
            f"detail.ExtractionDate {text!r} has no timezone offset",
            claims,
        )
    if moment > now + MAX_CLOCK_SKEW:
        raise EventRejected(
            RejectionCode.TIMESTAMP_IN_FUTURE,
            f"detail.ExtractionDate {text} is more than {MAX_CLOCK_SKEW} after the hub's clock "
            f"({format_timestamp(now)})",
            claims,
        )
    oldest = now - timedelta(days=retention_days)
    if moment < oldest:
        raise EventRejected(
            RejectionCode.TIMESTAMP_TOO_OLD,
            f"detail.ExtractionDate {text} is older than the {retention_days}-day retention "
            f"(before {format_timestamp(oldest)}): it would expire as soon as it was stored",
            claims,
        )
    return moment


def _metrics_of(detail: Mapping[str, Any], version: int) -> tuple[ValidatedMetric, ...]:
    if version == 1:
        return (
            ValidatedMetric(
                metric_name=detail["MetricName"],
                value=detail["MetricValue"],
                unit="None",  # v1 carries no unit
                dimensions={},
                metadata=detail["Metadata"],
            ),
        )
    return tuple(
        ValidatedMetric(
            metric_name=metric["MetricName"],
            value=metric["MetricValue"],
            unit=metric["Unit"],
            dimensions=metric["Dimensions"],
            metadata=metric["Metadata"],
        )
        for metric in detail["Metrics"]
    )


def _check_series(
    metrics: Sequence[ValidatedMetric],
    *,
    project_name: str,
    environment: str,
    account_id: str,
    region: str,
    claims: Claims,
) -> None:
    seen: set[str] = set()
    for metric in metrics:
        for name, value in metric.dimensions.items():
            if any(separator in value for separator in _KEY_SEPARATORS):
                raise EventRejected(
                    RejectionCode.SCHEMA_VIOLATION,
                    f"dimension {name} of {metric.metric_name} has value {shortened(value)}, which "
                    f"contains one of {' '.join(_KEY_SEPARATORS)} (reserved by the series key)",
                    claims,
                )
        # The series names an attribute of the spoke's latest item (table_design.series_name);
        # the sort key's limit keeps it, and so the item, bounded.
        series_key = table_design.series_name(metric.metric_name, metric.dimensions)
        size = len(series_key.encode("utf-8"))
        if size > MAX_SORT_KEY_BYTES:
            raise EventRejected(
                RejectionCode.KEY_TOO_LONG,
                f"the dimensions of {metric.metric_name} make a {size}-byte key; DynamoDB "
                f"allows {MAX_SORT_KEY_BYTES} bytes",
                claims,
            )
        if series_key in seen:
            raise EventRejected(
                RejectionCode.DUPLICATE_SERIES,
                f"{metric.metric_name} with dimensions {dict(metric.dimensions)} appears twice "
                "in one extraction",
                claims,
            )
        seen.add(series_key)
