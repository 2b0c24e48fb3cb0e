"""Validation and sender authentication of metric events arriving at the hub.

`validate_metric_event` turns the raw SQS body (the full EventBridge event) into a
`ValidatedEvent`, or raises `EventRejected` with a reason code, a human reason and whatever the
event claimed (account, project, environment), which the quarantine record keeps.
`authenticate_sender` then checks the claim against the spoke registry.

Checks, in order (the first failing one gives the reason code):
1. the body is JSON (`InvalidJson`); `json.loads` accepts the non-standard tokens NaN and
   Infinity, so they are parsed into Decimals here and refused by check 4;
2. it is a metric event (`NotAMetricEvent`) with a sane envelope (`InvalidEnvelope`);
3. its version: no `SchemaVersion` is v1, the integer 2 is v2, anything else is unknown;
   (a look-alike field such as `version` is named as what it is, not read as v1);
4. every value in the detail can be stored in DynamoDB: finite numbers, within DynamoDB's number
   range and 38 significant digits, bounded strings (the limit spokes share,
   `contracts.EVENT_MAX_STRING_CHARS`) that UTF-8 can encode (a lone surrogate such as `\ud800`
   cannot), and bounded nesting;
5. `MetricValue` is a number (`NonNumericValue`), then the JSON Schema of the version
   (Draft 2020-12 with format checking);
6. meaning: v2 AccountId equals the envelope's account, the regions exist (botocore's region
   list) and the v2 Region equals the envelope's, no series twice in one event, keys fit
   DynamoDB's key size limits, the extraction time is neither in the future (beyond clock skew)
   nor older than the retention;
7. each metric against its definition in the metric registry (`metrics/`), the one the spokes
   use: the name is registered, the v2 Unit is the metric's, the value lies in its range (a Count
   is a whole number >= 0, a Percent lies in 0..100...; `Metric.value_range`).

Numbers: DynamoDB stores up to 38 significant digits, magnitudes between 1E-130 and
9.9999999999999999999999999999999999999E+125
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number).
A value with more than 38 significant digits is *rejected*, not rounded: our spokes send binary
floats (at most 17 significant digits), so anything longer is not from our extractor, and the
hub stores exactly what was sent or nothing. Trailing zeros do not count (1.000...0 is 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Context, Decimal
from enum import StrEnum
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

import contracts
from hub_stack import table_design
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from metrics.base import Metric
from metrics.registry import UnknownMetricError, metric_class
from runtime_common.identifiers import is_account_id
from runtime_common.regions import is_known_region
from runtime_common.timestamps import format_timestamp

MAX_CLOCK_SKEW: Final = timedelta(minutes=15)
# Any string in an event's detail (values and keys, Metadata included); shared with the spoke,
# which cuts its Metadata to it. The schema's own limits are stricter where they apply.
MAX_STRING_CHARS: Final = contracts.EVENT_MAX_STRING_CHARS
# DynamoDB allows 32 levels of nesting; the datapoint item itself uses two (Metadata, its map).
MAX_NESTING_DEPTH: Final = 16
MAX_EVENT_ID_CHARS: Final = 128
MAX_REGION_CHARS: Final = 32
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-partition-sort-keys
MAX_PARTITION_KEY_BYTES: Final = 2048
MAX_SORT_KEY_BYTES: Final = 1024

DYNAMODB_MAX_SIGNIFICANT_DIGITS: Final = 38
DYNAMODB_MAX_MAGNITUDE: Final = contracts.EVENT_NUMBER_MAX_MAGNITUDE
DYNAMODB_MIN_MAGNITUDE: Final = contracts.EVENT_NUMBER_MIN_MAGNITUDE
_DYNAMODB_NUMBER_CONTEXT: Final = Context(prec=DYNAMODB_MAX_SIGNIFICANT_DIGITS)

# Characters that build the series key from dimensions (see table_design.dimension_key); a value
# holding one could make two different dimension sets collide into one series.
_KEY_SEPARATORS: Final = ("#", ",", "=")
# Detail keys that look like a schema version field but are not `SchemaVersion` (`version`,
# `schemaVersion`, `Schema_Version`...): a sender who meant v2 gets told so, not "v1 lacks
# MetricName".
_VERSION_LOOKALIKE: Final = re.compile(r"^[^a-z]*(schema[^a-z]*)?version[^a-z]*$", re.IGNORECASE)


class RejectionCode(StrEnum):
    """Why an event was quarantined. Stable: the CLI and operators filter on these."""

    INVALID_JSON = "InvalidJson"
    NOT_A_METRIC_EVENT = "NotAMetricEvent"
    INVALID_ENVELOPE = "InvalidEnvelope"
    UNKNOWN_SCHEMA_VERSION = "UnknownSchemaVersion"
    SCHEMA_VIOLATION = "SchemaViolation"
    NON_FINITE_VALUE = "NonFiniteValue"
    NON_NUMERIC_VALUE = "NonNumericValue"
    VALUE_OUT_OF_RANGE = "ValueOutOfRange"
    STRING_TOO_LONG = "StringTooLong"
    UNENCODABLE_STRING = "UnencodableString"
    NESTING_TOO_DEEP = "NestingTooDeep"
    TOO_MANY_DIMENSIONS = "TooManyDimensions"
    KEY_TOO_LONG = "KeyTooLong"
    DUPLICATE_SERIES = "DuplicateSeries"
    TIMESTAMP_IN_FUTURE = "TimestampInFuture"
    TIMESTAMP_TOO_OLD = "TimestampTooOld"
    ACCOUNT_MISMATCH = "AccountMismatch"
    UNKNOWN_REGION = "UnknownRegion"
    REGION_MISMATCH = "RegionMismatch"
    UNKNOWN_METRIC = "UnknownMetric"
    UNIT_MISMATCH = "UnitMismatch"
    METRIC_VALUE_OUT_OF_RANGE = "MetricValueOutOfRange"
    CONFLICTING_REPLAY = "ConflictingReplay"
    SENDER_NOT_ENROLLED = "SenderNotEnrolled"
    SENDER_ENROLLED_ELSEWHERE = "SenderEnrolledElsewhere"
    UNKNOWN_PROJECT = "UnknownProject"


@dataclass
class Claims:
    """What an event claims about itself, as far as it could be read; kept in quarantine."""

    event_id: str | None = None
    account_id: str | None = None
    project_name: str | None = None
    environment: str | None = None


class EventRejected(Exception):
    """The event is refused; it must be quarantined, not retried."""

    def __init__(self, code: RejectionCode, reason: str, claims: Claims) -> None:
        self.code = code
        self.reason = reason
        self.claims = claims
        super().__init__(f"{code.value}: {reason}")


@dataclass(frozen=True)
class ValidatedMetric:
    metric_name: str
    value: Decimal
    unit: str
    dimensions: Mapping[str, str]
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class ValidatedError:
    metric_name: str
    error_code: str
    message: str


@dataclass(frozen=True)
class ValidatedEvent:
    event_id: str
    account_id: str
    region: str
    project_name: str
    environment: str
    extraction_time: datetime
    extraction_date: str  # canonical, see runtime_common.timestamps.format_timestamp
    schema_version: int
    metrics: tuple[ValidatedMetric, ...]
    errors: tuple[ValidatedError, ...] = field(default_factory=tuple)


def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(contracts.load_schema(schema_name), format_checker=FormatChecker())


_VALIDATORS: Final = {
    1: _validator("metric-event-v1"),
    2: _validator("metric-event-v2"),
}


# Rewrites a v1 detail written in another dialect into the contract's form, or raises
# EventRejected (hub_stack.runtime.sample_compatibility.SampleDialect.normalize).
V1DetailNormalizer = Callable[[dict[str, Any], Claims], dict[str, Any]]


def validate_metric_event(
    body: str,
    *,
    now: datetime,
    retention_days: int,
    normalize_v1: V1DetailNormalizer | None = None,
) -> ValidatedEvent:
    """Validate one raw event (the SQS body). Raises EventRejected with the first problem."""
    claims = Claims()
    event = _parse_json(body, claims)
    detail = _check_envelope(event, claims)
    version = _schema_version(detail, claims)
    _claim_from_detail(detail, claims)
    if version == 1 and normalize_v1 is not None:
        # The original sample's spokes (docs/architecture.md §7): the claims keep what was written.
        detail = normalize_v1(detail, claims)
    storable_detail = _storable(detail, "detail", 0, claims)
    _check_metric_values_are_numbers(detail, version, claims)
    _check_schema(detail, version, claims)
    return _check_meaning(
        event, storable_detail, version, claims, now=now, retention_days=retention_days
    )


def authenticate_sender(event: ValidatedEvent, registry: Mapping[str, SpokeRecord]) -> None:
    """The envelope's account must be enrolled for exactly the project and environment claimed.

    The envelope's `account` is set by EventBridge from the sender's credentials; the detail is
    whatever the sender wrote. So only the registry entry of the envelope account decides.
    """
    claims = Claims(event.event_id, event.account_id, event.project_name, event.environment)
    spoke = registry.get(event.account_id)
    if spoke is None:
        raise EventRejected(
            RejectionCode.SENDER_NOT_ENROLLED,
            f"account {event.account_id} is not in the spoke registry",
            claims,
        )
    if spoke.state is not SpokeState.ENROLLED:
        raise EventRejected(
            RejectionCode.SENDER_NOT_ENROLLED,
            f"account {event.account_id} is {spoke.state.value}, not enrolled"
            + (f" ({spoke.reason})" if spoke.reason else ""),
            claims,
        )
    if (spoke.project_name, spoke.environment) != (event.project_name, event.environment):
        raise EventRejected(
            RejectionCode.SENDER_ENROLLED_ELSEWHERE,
            f"account {event.account_id} is enrolled for {spoke.project_name}/"
            f"{spoke.environment} but the event claims {event.project_name}/{event.environment}",
            claims,
        )


# ------------------------------------------------------------------------------------ steps


def _parse_json(body: str, claims: Claims) -> Any:
    try:
        # parse_float keeps the exact decimal text (0.1 stays 0.1); parse_constant turns NaN and
        # +-Infinity into Decimals so that check 4 names them instead of a generic type error.
        return json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError) as error:
        # RecursionError: a hostile body nested thousands of levels deep.
        raise EventRejected(
            RejectionCode.INVALID_JSON, f"the body is not JSON: {_short(error)}", claims
        ) from None


def _check_envelope(event: Any, claims: Claims) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise EventRejected(
            RejectionCode.NOT_A_METRIC_EVENT,
            f"the body is a JSON {type(event).__name__}, not an EventBridge event object",
            claims,
        )
    event_id = event.get("id")
    if isinstance(event_id, str):
        claims.event_id = event_id[:MAX_EVENT_ID_CHARS]
    account = event.get("account")
    if isinstance(account, str):
        claims.account_id = account
    source, detail_type = event.get("source"), event.get("detail-type")
    if (source, detail_type) != (
        contracts.METRIC_EVENT_SOURCE,
        contracts.METRIC_EVENT_DETAIL_TYPE,
    ):
        raise EventRejected(
            RejectionCode.NOT_A_METRIC_EVENT,
            f"source {_short(source)} / detail-type {_short(detail_type)} is not "
            f"{contracts.METRIC_EVENT_SOURCE} / {contracts.METRIC_EVENT_DETAIL_TYPE}",
            claims,
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventRejected(
            RejectionCode.NOT_A_METRIC_EVENT, "the event has no detail object", claims
        )
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_CHARS:
        raise EventRejected(
            RejectionCode.INVALID_ENVELOPE,
            f"envelope id must be a string of 1 to {MAX_EVENT_ID_CHARS} characters, "
            f"got {_short(event_id)}",
            claims,
        )
    _check_encodable(event_id, "envelope id", claims)
    if not is_account_id(account):
        raise EventRejected(
            RejectionCode.INVALID_ENVELOPE,
            f"envelope account must be 12 digits, got {_short(account)}",
            claims,
        )
    region = event.get("region")
    if not isinstance(region, str) or not 0 < len(region) <= MAX_REGION_CHARS:
        raise EventRejected(
            RejectionCode.INVALID_ENVELOPE,
            f"envelope region must be a short string, got {_short(region)}",
            claims,
        )
    return detail


def _schema_version(detail: Mapping[str, Any], claims: Claims) -> int:
    if "SchemaVersion" not in detail:
        for key in detail:
            if _VERSION_LOOKALIKE.match(key):
                raise EventRejected(
                    RejectionCode.UNKNOWN_SCHEMA_VERSION,
                    f"unknown schema version field `{_short(key, 40)}` (= "
                    f"{_short(detail[key], 40)}); expected SchemaVersion: "
                    f"{contracts.METRIC_EVENT_SCHEMA_VERSION} (no SchemaVersion at all means v1)",
                    claims,
                )
        return 1
    version = detail["SchemaVersion"]
    # bool is an int in Python; `true` must not pass for version 1.
    if type(version) is int and version == contracts.METRIC_EVENT_SCHEMA_VERSION:
        return version
    raise EventRejected(
        RejectionCode.UNKNOWN_SCHEMA_VERSION,
        f"SchemaVersion {_short(version)} is not supported (absent means 1; known: 1, 2)",
        claims,
    )


def _claim_from_detail(detail: Mapping[str, Any], claims: Claims) -> None:
    for attribute, name in (("project_name", "ProjectName"), ("environment", "Environment")):
        value = detail.get(name)
        if isinstance(value, str):
            setattr(claims, attribute, value)


def _storable(value: Any, path: str, depth: int, claims: Claims) -> Any:
    """A copy of `value` that DynamoDB accepts as is (numbers as Decimal), or EventRejected."""
    if depth > MAX_NESTING_DEPTH:
        raise EventRejected(
            RejectionCode.NESTING_TOO_DEEP,
            f"{path} is nested deeper than {MAX_NESTING_DEPTH} levels",
            claims,
        )
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return _storable_number(value, path, claims)
    if isinstance(value, str):
        _check_string_length(value, path, claims)
        return value
    if isinstance(value, list):
        return [
            _storable(item, f"{path}[{index}]", depth + 1, claims)
            for index, item in enumerate(value)
        ]
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            _check_string_length(key, f"{path} key {key[:40]!r}...", claims)
            if not key:
                raise EventRejected(
                    RejectionCode.SCHEMA_VIOLATION,
                    f"{path} has an empty key (DynamoDB attribute names need at least one character)",
                    claims,
                )
            copy[key] = _storable(item, f"{path}.{key}", depth + 1, claims)
        return copy
    raise TypeError(f"unexpected JSON value type {type(value).__name__} at {path}")


def _check_string_length(text: str, path: str, claims: Claims) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise EventRejected(
            RejectionCode.STRING_TOO_LONG,
            f"{path} is {len(text)} characters long; the limit is {MAX_STRING_CHARS}",
            claims,
        )
    _check_encodable(text, path, claims)


def _check_encodable(text: str, path: str, claims: Claims) -> None:
    """DynamoDB stores UTF-8; a lone surrogate (JSON `"\ud800"`) has no UTF-8 form, so its write
    would fail on every delivery until SQS gave up. Refuse it here, for good."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start : error.end].encode("utf-8", "backslashreplace").decode("ascii")
        raise EventRejected(
            RejectionCode.UNENCODABLE_STRING,
            f"{path} holds {bad} at character {error.start}, which UTF-8 cannot encode "
            "(a lone surrogate); DynamoDB stores UTF-8 text only",
            claims,
        ) from None


def _storable_number(value: int | Decimal, path: str, claims: Claims) -> Decimal:
    number = Decimal(value)
    if not number.is_finite():
        raise EventRejected(
            RejectionCode.NON_FINITE_VALUE, f"{path} is {number}, not a finite number", claims
        )
    if number.is_zero():
        return Decimal(0)
    digits = number.as_tuple().digits
    # Trailing zeros of the coefficient are not significant (nonzero, so one digit remains).
    digit_count = len("".join(map(str, digits)).rstrip("0"))
    if digit_count > DYNAMODB_MAX_SIGNIFICANT_DIGITS:
        raise EventRejected(
            RejectionCode.VALUE_OUT_OF_RANGE,
            f"{path} has {digit_count} significant digits; DynamoDB stores at most "
            f"{DYNAMODB_MAX_SIGNIFICANT_DIGITS}",
            claims,
        )
    # copy_abs, not abs(): abs() rounds to the default context's 28 digits.
    magnitude = number.copy_abs()
    if magnitude > DYNAMODB_MAX_MAGNITUDE or magnitude < DYNAMODB_MIN_MAGNITUDE:
        raise EventRejected(
            RejectionCode.VALUE_OUT_OF_RANGE,
            f"{path} = {_short(number)} is outside DynamoDB's number range "
            f"({DYNAMODB_MIN_MAGNITUDE} to {DYNAMODB_MAX_MAGNITUDE} in magnitude)",
            claims,
        )
    if len(digits) > DYNAMODB_MAX_SIGNIFICANT_DIGITS:
        # Only trailing zeros are beyond 38 digits: dropping them is exact, and boto3's
        # serializer refuses the longer form.
        return number.normalize(_DYNAMODB_NUMBER_CONTEXT)
    return number


def _check_metric_values_are_numbers(
    detail: Mapping[str, Any], version: int, claims: Claims
) -> None:
    datapoints: list[tuple[str, Any]] = []
    if version == 1:
        if "MetricValue" in detail:
            datapoints.append(("detail.MetricValue", detail["MetricValue"]))
    else:
        metrics = detail.get("Metrics")
        if isinstance(metrics, list):
            datapoints.extend(
                (f"detail.Metrics[{index}].MetricValue", metric["MetricValue"])
                for index, metric in enumerate(metrics)
                if isinstance(metric, dict) and "MetricValue" in metric
            )
    for path, value in datapoints:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise EventRejected(
                RejectionCode.NON_NUMERIC_VALUE,
                f"{path} is {_short(value)} (a JSON {_json_type(value)}), not a number",
                claims,
            )


def _check_schema(detail: Mapping[str, Any], version: int, claims: Claims) -> None:
    errors = list(_VALIDATORS[version].iter_errors(detail))
    if not errors:
        return
    for error in errors:
        if error.validator == "maxProperties" and list(error.path)[-1:] == ["Dimensions"]:
            raise EventRejected(
                RejectionCode.TOO_MANY_DIMENSIONS,
                f"{_error_path(error)} has {len(error.instance)} dimensions; "
                f"the limit is {error.validator_value}",
                claims,
            )
        if error.validator == "maxLength":
            raise EventRejected(
                RejectionCode.STRING_TOO_LONG,
                f"{_error_path(error)} is {len(error.instance)} characters long; "
                f"the limit is {error.validator_value}",
                claims,
            )
    chosen = best_match(errors)
    assert chosen is not None  # errors is not empty
    raise EventRejected(
        RejectionCode.SCHEMA_VIOLATION,
        f"metric event v{version}: {_error_path(chosen)}: {_short(chosen.message, 300)}",
        claims,
    )


def _check_meaning(
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
            f"envelope region {_short(envelope_region, 40)} is not an AWS region",
            claims,
        )
    if detail_region is None:
        return envelope_region
    if not is_known_region(detail_region):
        raise EventRejected(
            RejectionCode.UNKNOWN_REGION,
            f"detail.Region {_short(detail_region, 40)} is not an AWS region",
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
                    f"dimension {name} of {metric.metric_name} has value {_short(value)}, which "
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


# ---------------------------------------------------------------------------------- helpers


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


def _error_path(error: ValidationError) -> str:
    return "detail" + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
