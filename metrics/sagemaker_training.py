"""SageMaker training-job metrics.

All of them read one listing, `collect.TRAINING_JOBS`: a single paginated SageMaker `Search` over
every training job, which returns full job objects (status, end time, billable seconds, resource
config, spot flag, final metrics). One extraction therefore makes one pass however many of these
metrics a project selects, and no per-job `DescribeTrainingJob` call.

Windows are half-open, (now - window_hours, now], measured back from the extraction time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from metrics.base import Datapoint, ExtractionContext, IamStatement, Metric, Unit
from metrics.collect import (
    TRAINING_JOBS,
    Record,
    window_argument_schema,
    window_hours_schema,
    window_start,
    within_window,
)
from metrics.registry import register_metric

SEARCH_PERMISSION = (IamStatement(actions=("sagemaker:Search",)),)


def _training_jobs(context: ExtractionContext) -> tuple[Record, ...]:
    jobs: tuple[Record, ...] = context.fetch(TRAINING_JOBS)
    return jobs


def _with_status(jobs: Iterable[Record], status: str) -> list[Record]:
    return [job for job in jobs if job.get("TrainingJobStatus") == status]


def _ended_in_window(
    jobs: Iterable[Record], context: ExtractionContext, window_hours: int
) -> list[Record]:
    start = window_start(context.now, window_hours)
    return [job for job in jobs if within_window(job.get("TrainingEndTime"), start, context.now)]


class _TrainingJobMetric(Metric):
    unit: ClassVar[Unit] = "Count"
    permissions: ClassVar[tuple[IamStatement, ...]] = SEARCH_PERMISSION


@register_metric
class TotalCompletedTrainingJobs(_TrainingJobMetric):
    """Number of training jobs in status Completed, ever (as long as SageMaker keeps them).

    Example:
        metrics:
          - TotalCompletedTrainingJobs
    """

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(len(_with_status(_training_jobs(context), "Completed")))]


@register_metric
class CompletedTrainingJobs24h(_TrainingJobMetric):
    """Number of training jobs that completed in the window, by TrainingEndTime.

    The end of training counts, not LastModifiedTime: tagging an old job must not make it recent.

    Example:
        metrics:
          - name: CompletedTrainingJobs24h
            args:
              window_hours: 24
    """

    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(24)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        completed = _with_status(_training_jobs(context), "Completed")
        return [Datapoint(len(_ended_in_window(completed, context, self.args["window_hours"])))]


@register_metric
class FailedTrainingJobs(_TrainingJobMetric):
    """Number of training jobs that failed in the window.

    A job that failed before training started has no TrainingEndTime; its LastModifiedTime (the
    moment it turned Failed) places it in the window instead.

    Example:
        metrics:
          - name: FailedTrainingJobs
            args:
              window_hours: 24
    """

    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(24)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        start = window_start(context.now, self.args["window_hours"])
        failed = [
            job
            for job in _with_status(_training_jobs(context), "Failed")
            if within_window(_failure_time(job), start, context.now)
        ]
        return [Datapoint(len(failed))]


def _failure_time(job: Record) -> datetime | None:
    ended: datetime | None = job.get("TrainingEndTime") or job.get("LastModifiedTime")
    return ended


@register_metric
class TrainingJobsInProgress(_TrainingJobMetric):
    """Number of training jobs in status InProgress at extraction time.

    Example:
        metrics:
          - TrainingJobsInProgress
    """

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        return [Datapoint(len(_with_status(_training_jobs(context), "InProgress")))]


@register_metric
class BillableTrainingSeconds(_TrainingJobMetric):
    """Billable training seconds of jobs that ended in the window, times their instance count.

    SageMaker reports BillableTimeInSeconds per instance: a distributed job bills it once per
    instance (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html#sagemaker-DescribeTrainingJob-response-BillableTimeInSeconds).
    Completed, failed and stopped jobs all count, since all are billed.

    Example:
        metrics:
          - name: BillableTrainingSeconds
            args:
              window_hours: 24
    """

    unit: ClassVar[Unit] = "Seconds"
    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(24)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        ended = _ended_in_window(_training_jobs(context), context, self.args["window_hours"])
        total = sum(job.get("BillableTimeInSeconds", 0) * _instance_count(job) for job in ended)
        return [Datapoint(total, metadata={"TrainingJobs": len(ended)})]


def _instance_count(job: Record) -> int:
    resource_config = job.get("ResourceConfig", {})
    if "InstanceCount" in resource_config:
        return int(resource_config["InstanceCount"])
    # Heterogeneous clusters describe their instances in groups instead.
    return sum(int(group["InstanceCount"]) for group in resource_config.get("InstanceGroups", []))


def _instance_types(job: Record) -> set[str]:
    resource_config = job.get("ResourceConfig", {})
    if "InstanceType" in resource_config:
        return {str(resource_config["InstanceType"])}
    return {str(group["InstanceType"]) for group in resource_config.get("InstanceGroups", [])}


@register_metric
class ManagedSpotSavingsPercent(_TrainingJobMetric):
    """Percent of training time not billed thanks to managed spot, over completed spot jobs.

    Over completed jobs with managed spot training that ended in the window:
    (sum TrainingTimeInSeconds - sum BillableTimeInSeconds) / sum TrainingTimeInSeconds x 100.
    With no such job (or no training time) the value is 0 and Metadata.SpotTrainingJobs is 0,
    so a dashboard can tell "no spot jobs" from "spot saved nothing".

    Example:
        metrics:
          - name: ManagedSpotSavingsPercent
            args:
              window_hours: 168
    """

    unit: ClassVar[Unit] = "Percent"
    argument_schema: ClassVar[dict[str, Any]] = window_argument_schema(168)

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        completed = _with_status(_training_jobs(context), "Completed")
        spot_jobs = [
            job
            for job in _ended_in_window(completed, context, self.args["window_hours"])
            if job.get("EnableManagedSpotTraining")
            and "TrainingTimeInSeconds" in job
            and "BillableTimeInSeconds" in job
        ]
        training_seconds = sum(job["TrainingTimeInSeconds"] for job in spot_jobs)
        billable_seconds = sum(job["BillableTimeInSeconds"] for job in spot_jobs)
        savings = (
            (training_seconds - billable_seconds) / training_seconds * 100
            if training_seconds
            else 0.0
        )
        return [Datapoint(savings, metadata={"SpotTrainingJobs": len(spot_jobs)})]


@register_metric
class BestTrainingObjective(_TrainingJobMetric):
    """Best final value of a named objective metric over training jobs completed in the window.

    Reads each completed job's FinalMetricDataList; jobs without the metric are skipped. With
    no matching job in the window there is no datapoint at all (not a 0, which would read as a
    real score). The dimension ObjectiveMetric names the metric; Metadata names the best job.

    Example:
        metrics:
          - name: BestTrainingObjective
            args:
              objective_metric: "validation:auc"
              job_name_prefix: fraud-
              direction: maximize
              window_hours: 168
    """

    unit: ClassVar[Unit] = "None"
    argument_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["objective_metric"],
        "properties": {
            "objective_metric": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "MetricName in the jobs' FinalMetricDataList, e.g. validation:auc.",
            },
            "job_name_prefix": {
                "type": "string",
                "minLength": 1,
                "maxLength": 63,
                "description": "Only jobs whose name starts with this prefix.",
            },
            "direction": {
                "enum": ["maximize", "minimize"],
                "default": "maximize",
                "description": "Whether higher (maximize) or lower (minimize) values are better.",
            },
            "window_hours": window_hours_schema(168),
        },
    }

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        prefix = self.args.get("job_name_prefix", "")
        objective = self.args["objective_metric"]
        completed = _with_status(_training_jobs(context), "Completed")
        candidates = [
            (float(entry["Value"]), str(job["TrainingJobName"]))
            for job in _ended_in_window(completed, context, self.args["window_hours"])
            if str(job.get("TrainingJobName", "")).startswith(prefix)
            for entry in job.get("FinalMetricDataList", [])
            if entry.get("MetricName") == objective and "Value" in entry
        ]
        if not candidates:
            return []
        choose = max if self.args["direction"] == "maximize" else min
        best_value, best_job = choose(candidates, key=lambda candidate: candidate[0])
        return [
            Datapoint(
                best_value,
                dimensions={"ObjectiveMetric": objective},
                metadata={"TrainingJobName": best_job, "CandidateJobs": len(candidates)},
            )
        ]


@register_metric
class CompletedTrainingJobsByInstanceType(_TrainingJobMetric):
    """Number of completed training jobs per instance type (dimension InstanceType).

    One datapoint per instance type that has completed jobs; none when there are no completed
    jobs. A heterogeneous-cluster job counts once under each of its instance types.

    Example:
        metrics:
          - CompletedTrainingJobsByInstanceType
    """

    def compute(self, context: ExtractionContext) -> Sequence[Datapoint]:
        jobs_by_type: Counter[str] = Counter()
        for job in _with_status(_training_jobs(context), "Completed"):
            jobs_by_type.update(_instance_types(job))
        return [
            Datapoint(jobs, dimensions={"InstanceType": instance_type})
            for instance_type, jobs in sorted(jobs_by_type.items())
        ]
