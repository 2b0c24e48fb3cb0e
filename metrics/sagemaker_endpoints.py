"""SageMaker endpoint metrics, over one paginated `Search` of every endpoint (`collect.ENDPOINTS`).

`Search` returns each endpoint's production variants with their current instance counts, so no
per-endpoint DescribeEndpoint call is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from metrics.base import Datapoint, ExtractionContext, IamStatement, Metric, Unit
from metrics.collect import ENDPOINTS, Record, window_argument_schema, window_start
from metrics.registry import register_metric

SECONDS_PER_HOUR = 3600


def _endpoints_in_service(context: ExtractionContext) -> list[Record]:
    endpoints: tuple[Record, ...] = context.fetch(ENDPOINTS)
    return [endpoint for endpoint in endpoints if endpoint.get("EndpointStatus") == "InService"]


@register_metric
class NumberEndPointsInService(Metric):
    """Number of SageMaker endpoints in status InService.

    Example:
        metrics:
          - NumberEndPointsInService
    """

    unit: ClassVar[Unit] = "Count"
    permissions: ClassVar[tuple[IamStatement, ...]] = (IamStatement(actions=("sagemaker:Search",)),)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(len(_endpoints_in_service(context)))]


@register_metric
class EndpointInstanceHours(Metric):
    """Estimated instance-hours of endpoints in service over the window (billable inference).

    An estimate: for each endpoint now InService, the sum over its production variants of
    CurrentInstanceCount x the hours from max(CreationTime, window start) to the extraction time.
    It assumes today's instance count held for that whole span (auto scaling changes and earlier
    outages are not visible to a single listing), ignores endpoints deleted or failed since, and
    counts serverless variants (which have no instances) as 0.

    Example:
        metrics:
          - name: EndpointInstanceHours
            args:
              window_hours: 24
    """

    unit: ClassVar[Unit] = "Hours"
    permissions: ClassVar[tuple[IamStatement, ...]] = (IamStatement(actions=("sagemaker:Search",)),)
    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(24)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        start = window_start(context.now, self.args["window_hours"])
        endpoints = _endpoints_in_service(context)
        instance_hours = 0.0
        for endpoint in endpoints:
            in_service_since = max(endpoint["CreationTime"], start)
            hours = max((context.now - in_service_since).total_seconds(), 0.0) / SECONDS_PER_HOUR
            instances = sum(
                int(variant.get("CurrentInstanceCount", 0))
                for variant in endpoint.get("ProductionVariants", [])
            )
            instance_hours += instances * hours
        return [Datapoint(instance_hours, metadata={"EndpointsInService": len(endpoints)})]
