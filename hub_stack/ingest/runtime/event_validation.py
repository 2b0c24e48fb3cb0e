"""Validation and sender authentication of metric events arriving at the hub.

`validate_metric_event` turns the raw SQS body (the full EventBridge event) into a
`ValidatedEvent` (`validated_event`), or raises `EventRejected` (`event_rejection`) with a
reason code, a human reason and whatever the event claimed (account, project, environment),
which the quarantine record keeps. `authenticate_sender` then checks the claim against the spoke
registry.

Checks, in order (the first failing one gives the reason code); this module runs them and holds
checks 1-3 and 5:
1. the body is JSON (`InvalidJson`); `json.loads` accepts the non-standard tokens NaN and
   Infinity, so they are parsed into Decimals here and refused by check 4;
2. it is a metric event (`NotAMetricEvent`) with a sane envelope (`InvalidEnvelope`);
3. its version: no `SchemaVersion` is v1, the integer 2 is v2, anything else is unknown;
   (a look-alike field such as `version` is named as what it is, not read as v1);
4. every value in the detail can be stored in DynamoDB: numbers, strings, nesting
   (`storable_values`);
5. `MetricValue` is a number (`NonNumericValue`), then the JSON Schema of the version
   (Draft 2020-12 with format checking);
6. meaning: account, regions, series, keys, extraction time (`event_meaning`);
7. each metric against its definition in the metric registry (`event_meaning`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

import contracts
from hub_stack.ingest.runtime.event_meaning import check_meaning
from hub_stack.ingest.runtime.event_rejection import Claims, EventRejected, RejectionCode, shortened
from hub_stack.ingest.runtime.storable_values import check_encodable, storable
from hub_stack.ingest.runtime.validated_event import ValidatedEvent
from hub_stack.spoke_registry.records import SpokeRecord, SpokeState
from runtime_common.identifiers import is_account_id

# The entry points, and the types of what they raise and return: ingest imports them from here.
__all__ = [
    "Claims",
    "EventRejected",
    "RejectionCode",
    "V1DetailNormalizer",
    "ValidatedEvent",
    "authenticate_sender",
    "validate_metric_event",
]

MAX_EVENT_ID_CHARS: Final = 128
MAX_REGION_CHARS: Final = 32

# Detail keys that look like a schema version field but are not `SchemaVersion` (`version`,
# `schemaVersion`, `Schema_Version`...): a sender who meant v2 gets told so, not "v1 lacks
# MetricName".
_VERSION_LOOKALIKE: Final = re.compile(r"^[^a-z]*(schema[^a-z]*)?version[^a-z]*$", re.IGNORECASE)


def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(contracts.load_schema(schema_name), format_checker=FormatChecker())


_VALIDATORS: Final = {
    1: _validator("metric-event-v1"),
    2: _validator("metric-event-v2"),
}


# Rewrites a v1 detail written in another dialect into the contract's form, or raises
# EventRejected (hub_stack.ingest.runtime.sample_compatibility.SampleDialect.normalize).
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
    storable_detail = storable(detail, "detail", 0, claims)
    _check_metric_values_are_numbers(detail, version, claims)
    _check_schema(detail, version, claims)
    return check_meaning(
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
            RejectionCode.INVALID_JSON, f"the body is not JSON: {shortened(error)}", claims
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
            f"source {shortened(source)} / detail-type {shortened(detail_type)} is not "
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
            f"got {shortened(event_id)}",
            claims,
        )
    check_encodable(event_id, "envelope id", claims)
    if not is_account_id(account):
        raise EventRejected(
            RejectionCode.INVALID_ENVELOPE,
            f"envelope account must be 12 digits, got {shortened(account)}",
            claims,
        )
    region = event.get("region")
    if not isinstance(region, str) or not 0 < len(region) <= MAX_REGION_CHARS:
        raise EventRejected(
            RejectionCode.INVALID_ENVELOPE,
            f"envelope region must be a short string, got {shortened(region)}",
            claims,
        )
    return detail


def _schema_version(detail: Mapping[str, Any], claims: Claims) -> int:
    if "SchemaVersion" not in detail:
        for key in detail:
            if _VERSION_LOOKALIKE.match(key):
                raise EventRejected(
                    RejectionCode.UNKNOWN_SCHEMA_VERSION,
                    f"unknown schema version field `{shortened(key, 40)}` (= "
                    f"{shortened(detail[key], 40)}); expected SchemaVersion: "
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
        f"SchemaVersion {shortened(version)} is not supported (absent means 1; known: 1, 2)",
        claims,
    )


def _claim_from_detail(detail: Mapping[str, Any], claims: Claims) -> None:
    for attribute, name in (("project_name", "ProjectName"), ("environment", "Environment")):
        value = detail.get(name)
        if isinstance(value, str):
            setattr(claims, attribute, value)


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
                f"{path} is {shortened(value)} (a JSON {_json_type(value)}), not a number",
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
        f"metric event v{version}: {_error_path(chosen)}: {shortened(chosen.message, 300)}",
        claims,
    )


# ---------------------------------------------------------------------------------- helpers


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
