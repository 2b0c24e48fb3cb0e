"""Check 4 of event validation: every value of an event's detail can be stored in DynamoDB as is.

Finite numbers within DynamoDB's number range and 38 significant digits, bounded strings (the
limit spokes share, `contracts.EVENT_MAX_STRING_CHARS`) that UTF-8 can encode (a lone surrogate
such as `\ud800` cannot), and bounded nesting.

Numbers: DynamoDB stores up to 38 significant digits, magnitudes between 1E-130 and
9.9999999999999999999999999999999999999E+125
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number).
A value with more than 38 significant digits is *rejected*, not rounded: our spokes send binary
floats (at most 17 significant digits), so anything longer is not from our extractor, and the
hub stores exactly what was sent or nothing. Trailing zeros do not count (1.000...0 is 1).
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import Any, Final

import contracts
from hub_stack.ingest.runtime.event_rejection import Claims, EventRejected, RejectionCode, shortened

# Any string in an event's detail (values and keys, Metadata included); shared with the spoke,
# which cuts its Metadata to it. The schema's own limits are stricter where they apply.
MAX_STRING_CHARS: Final = contracts.EVENT_MAX_STRING_CHARS


# DynamoDB allows 32 levels of nesting; the datapoint item itself uses two (Metadata, its map).
MAX_NESTING_DEPTH: Final = 16


DYNAMODB_MAX_SIGNIFICANT_DIGITS: Final = 38

DYNAMODB_MAX_MAGNITUDE: Final = contracts.EVENT_NUMBER_MAX_MAGNITUDE

DYNAMODB_MIN_MAGNITUDE: Final = contracts.EVENT_NUMBER_MIN_MAGNITUDE

_DYNAMODB_NUMBER_CONTEXT: Final = Context(prec=DYNAMODB_MAX_SIGNIFICANT_DIGITS)


def storable(value: Any, path: str, depth: int, claims: Claims) -> Any:
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
            storable(item, f"{path}[{index}]", depth + 1, claims)
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
            copy[key] = storable(item, f"{path}.{key}", depth + 1, claims)
        return copy
    raise TypeError(f"unexpected JSON value type {type(value).__name__} at {path}")


def _check_string_length(text: str, path: str, claims: Claims) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise EventRejected(
            RejectionCode.STRING_TOO_LONG,
            f"{path} is {len(text)} characters long; the limit is {MAX_STRING_CHARS}",
            claims,
        )
    check_encodable(text, path, claims)


def check_encodable(text: str, path: str, claims: Claims) -> None:
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
            f"{path} = {shortened(number)} is outside DynamoDB's number range "
            f"({DYNAMODB_MIN_MAGNITUDE} to {DYNAMODB_MAX_MAGNITUDE} in magnitude)",
            claims,
        )
    if len(digits) > DYNAMODB_MAX_SIGNIFICANT_DIGITS:
        # Only trailing zeros are beyond 38 digits: dropping them is exact, and boto3's
        # serializer refuses the longer form.
        return number.normalize(_DYNAMODB_NUMBER_CONTEXT)
    return number
