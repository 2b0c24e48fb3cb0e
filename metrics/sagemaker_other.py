"""SageMaker metrics beyond training jobs and endpoints: notebooks, model registry, pipelines.

Each reads one fully paginated listing from `metrics.collect`; the status filters are request
parameters, so AWS returns only matching items (still across as many pages as it likes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from metrics.base import Datapoint, ExtractionContext, IamStatement, Metric, Unit
from metrics.collect import (
    FAILED_PIPELINE_EXECUTIONS,
    MODEL_PACKAGES_PENDING_APPROVAL,
    NOTEBOOK_INSTANCES_IN_SERVICE,
    Record,
    window_argument_schema,
    window_start,
    within_window,
)
from metrics.registry import register_metric


@register_metric
class NotebookInstancesInService(Metric):
    """Number of SageMaker notebook instances in status InService (running, and billed).

    Example:
        metrics:
          - NotebookInstancesInService
    """

    unit: ClassVar[Unit] = "Count"
    permissions: ClassVar[tuple[IamStatement, ...]] = (
        IamStatement(actions=("sagemaker:ListNotebookInstances",)),
    )

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        instances: tuple[Record, ...] = context.fetch(NOTEBOOK_INSTANCES_IN_SERVICE)
        return [Datapoint(len(instances))]


@register_metric
class ModelPackagesPendingApproval(Metric):
    """Number of model packages (versioned and unversioned) awaiting manual approval.

    Example:
        metrics:
          - ModelPackagesPendingApproval
    """

    unit: ClassVar[Unit] = "Count"
    permissions: ClassVar[tuple[IamStatement, ...]] = (
        IamStatement(actions=("sagemaker:ListModelPackages",)),
    )

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        packages: tuple[Record, ...] = context.fetch(MODEL_PACKAGES_PENDING_APPROVAL)
        return [Datapoint(len(packages))]


@register_metric
class FailedPipelineExecutions(Metric):
    """Number of SageMaker pipeline executions that failed in the window.

    Searches executions with status Failed (one paginated `Search`, across every pipeline) and
    places each in time by LastModifiedTime: a pipeline execution has no end time, and a failed
    execution stops changing when it fails.

    Example:
        metrics:
          - name: FailedPipelineExecutions
            args:
              window_hours: 24
    """

    unit: ClassVar[Unit] = "Count"
    permissions: ClassVar[tuple[IamStatement, ...]] = (IamStatement(actions=("sagemaker:Search",)),)
    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(24)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        executions: tuple[Record, ...] = context.fetch(FAILED_PIPELINE_EXECUTIONS)
        start = window_start(context.now, self.args["window_hours"])
        failed = [
            execution
            for execution in executions
            if execution.get("PipelineExecutionStatus") == "Failed"
            and within_window(execution.get("LastModifiedTime"), start, context.now)
        ]
        return [Datapoint(len(failed))]
