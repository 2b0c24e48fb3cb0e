"""SSM Parameter Store metrics: publish a number a team keeps in a parameter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from metrics.base import (
    ACCOUNT_ID,
    PARTITION,
    REGION,
    Datapoint,
    ExtractionContext,
    IamStatement,
    Metric,
    Unit,
)
from metrics.collect import Record, SsmParameter
from metrics.registry import register_metric


class ParameterValueError(ValueError):
    """The parameter exists but does not hold a finite number."""

    def __init__(self, parameter_name: str, value: str, parameter_type: str) -> None:
        self.parameter_name = parameter_name
        super().__init__(
            f"SSM parameter {parameter_name} ({parameter_type}) holds {value[:64]!r}, "
            "expected a finite number such as 0.87"
        )


@register_metric
class SsmParameterValue(Metric):
    """The numeric value of one SSM parameter (dimension ParameterName).

    The parameter must be a String holding a number; SecureString values are not decrypted, so
    the metric needs no KMS permission. The IAM grant covers only the named parameter.

    Example:
        metrics:
          - name: SsmParameterValue
            args:
              parameter_name: /churn/model/quality-threshold
    """

    unit: ClassVar[Unit] = "None"
    permissions: ClassVar[tuple[IamStatement, ...]] = (
        IamStatement(
            actions=("ssm:GetParameter",),
            resources=(f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT_ID}:parameter/{{parameter_name}}",),
        ),
    )
    argument_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["parameter_name"],
        "properties": {
            "parameter_name": {
                "type": "string",
                # Parameter names: letters, digits and _.-/ ; hierarchies start with "/".
                # https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
                "pattern": "^/?[A-Za-z0-9_.\\-]+(/[A-Za-z0-9_.\\-]+)*$",
                "maxLength": 1011,
                "description": "Name of the parameter, e.g. /churn/model/quality-threshold.",
            }
        },
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        name = self.args["parameter_name"]
        parameter: Record = context.fetch(SsmParameter(name))
        raw_value = str(parameter.get("Value", ""))
        parameter_type = str(parameter.get("Type", "String"))
        if parameter_type == "SecureString":
            raise ParameterValueError(name, "<encrypted>", parameter_type)
        try:
            value = float(raw_value)
        except ValueError:
            raise ParameterValueError(name, raw_value, parameter_type) from None
        if not math.isfinite(value):
            raise ParameterValueError(name, raw_value, parameter_type)
        return [
            Datapoint(
                value,
                dimensions={"ParameterName": name},
                metadata={"Version": int(parameter.get("Version", 0))},
            )
        ]
