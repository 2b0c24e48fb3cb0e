"""The metric plugin contract.

A metric is a class. Its registered name is its class name, which is also the `MetricName` in
events. It declares, as class attributes, everything the rest of dsdash derives from it:

- `permissions`: the IAM statements it needs. The spoke's extraction role is the union of the
  selected metrics' statements, never hand-written (see `metrics.registry.iam_statements_for`).
- `unit`: the unit of its values (the v2 event's `Unit`).
- `value_range()`: which values mean something, from the unit (a Count is a whole number >= 0,
  a Percent lies in 0..100, Seconds and Hours are >= 0) unless the class declares
  `declared_range`. The spoke reports a value outside it as an error instead of sending it, and
  the hub quarantines an event carrying one: both read this one definition.
- `argument_schema`: a JSON Schema (Draft 2020-12) for its `args` in `config/projects.yaml`.
- its docstring: a one-line summary, then a YAML example under an `Example:` line.

Collecting data from AWS is separate from computing the value: `compute` reads listings through
the `ExtractionContext`, which fetches each distinct listing once per extraction and shares it
between metrics.
"""

from __future__ import annotations

import copy
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from jsonschema import Draft202012Validator, validators

if TYPE_CHECKING:
    from boto3.session import Session

Unit = Literal["Count", "Seconds", "Hours", "Percent", "None"]

# Placeholders CloudFormation resolves at synth/deploy time (Fn::Sub syntax). Argument
# placeholders use `{argument_name}` and are resolved from the metric's arguments.
PARTITION = "${AWS::Partition}"
REGION = "${AWS::Region}"
ACCOUNT_ID = "${AWS::AccountId}"

_ARGUMENT_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class ValueRange:
    """The values of a metric that mean something: inclusive bounds, and whole numbers only?"""

    minimum: Decimal | None = None
    maximum: Decimal | None = None
    whole_numbers: bool = False

    def problem_with(self, value: Decimal | float) -> str | None:
        """Why `value` (finite) is outside the range, or None when it is inside."""
        # Decimal(float) is exact, so a float just below 0 or above 100 is never rounded in.
        number = value if isinstance(value, Decimal) else Decimal(value)
        if self.whole_numbers and number != number.to_integral_value():
            return f"{_plain(number)} is not a whole number"
        if self.minimum is not None and number < self.minimum:
            return f"{_plain(number)} is below {self.minimum}"
        if self.maximum is not None and number > self.maximum:
            return f"{_plain(number)} is above {self.maximum}"
        return None

    def describe(self) -> str:
        kind = "whole numbers" if self.whole_numbers else "numbers"
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"{kind} >= {self.minimum}"
        if self.maximum is not None:
            return f"{kind} <= {self.maximum}"
        return f"any finite {kind}"


def _plain(number: Decimal) -> str:
    text = str(number)
    return text if len(text) <= 40 else f"{text[:37]}..."


# What each unit means, unless a metric declares its own range.
UNIT_VALUE_RANGES: dict[str, ValueRange] = {
    "Count": ValueRange(minimum=Decimal(0), whole_numbers=True),
    "Seconds": ValueRange(minimum=Decimal(0)),
    "Hours": ValueRange(minimum=Decimal(0)),
    "Percent": ValueRange(minimum=Decimal(0), maximum=Decimal(100)),
    "None": ValueRange(),
}


class MetricArgumentError(ValueError):
    """A metric's arguments do not satisfy its argument schema."""

    def __init__(self, metric_name: str, problems: Sequence[str]) -> None:
        self.metric_name = metric_name
        self.problems = tuple(problems)
        super().__init__(f"invalid arguments for metric {metric_name}: " + "; ".join(problems))


@dataclass(frozen=True, order=True)
class IamStatement:
    """One Allow statement. Resources may hold CloudFormation and `{argument}` placeholders."""

    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)

    def with_arguments(self, args: Mapping[str, Any]) -> IamStatement:
        def substitute(resource: str) -> str:
            return _ARGUMENT_PLACEHOLDER.sub(
                lambda match: _arn_safe(args[match.group(1)]), resource
            )

        return IamStatement(self.actions, tuple(substitute(r) for r in self.resources))


def _arn_safe(value: Any) -> str:
    # An SSM parameter name starts with "/", but its ARN is "...:parameter/name" with one slash.
    return str(value).lstrip("/")


@dataclass(frozen=True)
class Datapoint:
    """One value of a metric. Several datapoints with distinct `dimensions` make a
    multi-dimensional metric (for example, one per instance type)."""

    value: float
    dimensions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class ExtractionContext(Protocol):
    """What a metric may use while computing: the extraction time and shared, cached listings."""

    @property
    def now(self) -> datetime:
        """The extraction time, timezone-aware UTC. Every window is measured back from it."""

    @property
    def session(self) -> Session:
        """The boto3 session of the spoke (injected, so tests and the sandbox can swap it)."""

    def fetch(self, source: DataSource) -> Any:
        """Return the source's data, fetched at most once per extraction per `source.key`."""


class AwsClients(Protocol):
    """Where a data source gets its AWS clients: one per service for the whole extraction (the
    extractor's handler keeps them for the life of its execution environment), since making a
    client loads the service's model, costlier than the listing it serves."""

    def client(self, service_name: str) -> Any:
        """The spoke session's client of `service_name` (a boto3 client; Any, as the stubs only
        type literal service names)."""


class DataSource(ABC):
    """One AWS listing, fully paginated. Equal keys mean the same listing, fetched once."""

    @property
    @abstractmethod
    def key(self) -> tuple[Any, ...]:
        """Identity of the listing; two metrics reading the same key share one fetch."""

    @abstractmethod
    def fetch(self, clients: AwsClients) -> Any:
        """Call AWS through `clients` and return the complete data (every page)."""


def _is_whole_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema's "integer" admits 2.0 (a number with a zero fraction); here it means what a person
# wrote as a whole number, so `window_hours: 24.0` or `event_version: 2.0` is refused rather than
# passed on as a float the spokes then stringify as "2.0".
WHOLE_NUMBER_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_whole_number)


def _with_defaults(validator_class: Any) -> Any:
    """A validator that fills in `default` values while validating (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Any, instance: Any, schema: Any) -> Any:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(
    validators.extend(Draft202012Validator, type_checker=WHOLE_NUMBER_TYPE_CHECKER)
)


class Metric(ABC):
    """Base class of every metric. Subclasses are registered with `@register_metric`."""

    unit: ClassVar[Unit]
    # None: the unit's range (UNIT_VALUE_RANGES). A metric narrows or widens it here.
    declared_range: ClassVar[ValueRange | None] = None
    permissions: ClassVar[tuple[IamStatement, ...]]
    argument_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {},
    }

    def __init__(self, args: Mapping[str, Any] | None = None) -> None:
        self.args: Mapping[str, Any] = MappingProxyType(self.validate_arguments(args or {}))

    @classmethod
    def metric_name(cls) -> str:
        return cls.__name__

    @classmethod
    def value_range(cls) -> ValueRange:
        """The values this metric may report: its declared range, else its unit's."""
        return cls.declared_range if cls.declared_range is not None else UNIT_VALUE_RANGES[cls.unit]

    @classmethod
    def validate_arguments(cls, args: Mapping[str, Any]) -> dict[str, Any]:
        """Return the arguments with defaults filled in, or raise MetricArgumentError."""
        filled = copy.deepcopy(dict(args))
        validator = _DefaultFillingValidator(cls.argument_schema)
        problems = [
            (f"{'.'.join(map(str, error.absolute_path))}: " if error.absolute_path else "")
            + error.message
            for error in sorted(validator.iter_errors(filled), key=lambda e: list(e.path))
        ]
        if problems:
            raise MetricArgumentError(cls.metric_name(), problems)
        return filled

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def example(cls) -> str:
        """The YAML example from the docstring: the indented block after an `Example:` line."""
        lines = (cls.__doc__ or "").splitlines()
        for index, line in enumerate(lines):
            if line.strip() == "Example:":
                block = [candidate for candidate in lines[index + 1 :]]
                text = "\n".join(block).strip("\n")
                indent = min(
                    (len(line) - len(line.lstrip()) for line in block if line.strip()), default=0
                )
                return "\n".join(line[indent:] for line in text.splitlines()).strip()
        return ""

    def resolved_permissions(self) -> tuple[IamStatement, ...]:
        """The declared statements with `{argument}` placeholders filled from this instance."""
        return tuple(statement.with_arguments(self.args) for statement in self.permissions)

    @abstractmethod
    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        """Return one or more datapoints. Raise botocore's ClientError on AWS failures: the
        extractor reports it with its error code and carries on with the other metrics."""
