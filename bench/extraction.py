"""Extraction: AWS calls of the full SageMaker metric set on a spoke with 10,000 training jobs.

The spoke is seeded in moto through the SageMaker API; what the API cannot set (status, end
time, billing, final metrics) is set on moto's backend objects, with naive UTC datetimes as moto
keeps them (moto gap: the API cannot move a job through its lifecycle). SageMaker `Search` pages
at 100 like AWS through `sandbox.moto_sagemaker_search.paginated_search` (moto gap: moto's own
Search returns everything in one page).

The metrics are the catalog's, built with `metrics.registry.build_metric` and computed against
one `metrics.collect.Extraction`, exactly as the spoke's extractor does. A botocore `before-call`
hook counts every call. The naive design the ratio compares against lists the jobs
(ListTrainingJobs, 100 per page) and describes each one (DescribeTrainingJob): its call count
is computed from the number of jobs the real pass returned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from bench.support import (
    AwsCallCounter,
    BenchmarkResult,
    ceil_div,
    format_ratio,
    ratio,
    stopwatch,
)
from metrics.base import Datapoint, DataSource, Metric
from metrics.collect import LIST_PAGE_SIZE, SEARCH_PAGE_SIZE, Extraction, SageMakerListing
from metrics.collect import SageMakerSearch as SearchSource
from metrics.registry import all_metric_classes, build_metric
from sandbox.moto_sagemaker_search import paginated_search

REGION = "eu-west-1"
# Arguments for the catalog metrics that require some; every other metric runs with defaults.
METRIC_ARGUMENTS: Mapping[str, Mapping[str, Any]] = {
    "BestTrainingObjective": {"objective_metric": "validation:auc"},
}
TRAINING_STATUSES = ("Completed", "Completed", "Completed", "Failed", "Stopped", "InProgress")
END_AGES_HOURS = (0.5, 3, 12, 20, 30, 100, 160, 400, 2000)
INSTANCE_TYPES = ("ml.m5.xlarge", "ml.g5.2xlarge", "ml.p3.2xlarge", "ml.c5.4xlarge")
ENDPOINT_STATUSES = ("InService", "InService", "Creating", "Failed", "Updating")


@dataclass(frozen=True)
class SpokeSize:
    training_jobs: int
    endpoints: int
    notebooks: int
    model_packages: int
    pipeline_executions: int


FULL_SIZE = SpokeSize(
    training_jobs=10_000, endpoints=250, notebooks=120, model_packages=150, pipeline_executions=300
)
QUICK_SIZE = SpokeSize(
    training_jobs=1_000, endpoints=30, notebooks=15, model_packages=20, pipeline_executions=40
)


def _naive_utc(moment: datetime) -> datetime:
    # moto's backend holds naive UTC datetimes.
    return moment.astimezone(UTC).replace(tzinfo=None)


def seed_spoke(session: boto3.Session, size: SpokeSize, now: datetime) -> int:
    """Create the spoke's SageMaker resources; return how many training jobs completed."""
    # Any: the seeding sets attributes moto's objects take but its types do not declare.
    sagemaker: Any = session.client("sagemaker")
    account_id = session.client("sts").get_caller_identity()["Account"]
    backend: Any = sagemaker_backends[account_id][REGION]
    role_arn = f"arn:aws:iam::{account_id}:role/bench-sagemaker"

    completed = 0
    for index in range(size.training_jobs):
        name = f"bench-job-{index:05d}"
        sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
            RoleArn=role_arn,
            OutputDataConfig={"S3OutputPath": "s3://bench-models/out"},
            ResourceConfig={
                "InstanceType": INSTANCE_TYPES[index % len(INSTANCE_TYPES)],
                "InstanceCount": 1 + index % 3,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            EnableManagedSpotTraining=index % 5 == 0,
        )
        status = TRAINING_STATUSES[index % len(TRAINING_STATUSES)]
        completed += status == "Completed"
        stored = backend.training_jobs[name]
        stored.training_job_status = status
        seconds = 600 + 7 * index % 7200
        if status == "InProgress":
            stored.training_end_time = None
            stored.last_modified_time = _naive_utc(now - timedelta(minutes=5))
        else:
            end = now - timedelta(hours=END_AGES_HOURS[index % len(END_AGES_HOURS)])
            stored.training_end_time = _naive_utc(end)
            stored.last_modified_time = _naive_utc(end)
            stored.training_time_in_seconds = seconds
            stored.billable_time_in_seconds = seconds // 2 if index % 5 == 0 else seconds
        stored.final_metric_data_list = [
            {
                "MetricName": "validation:auc",
                "Value": 0.5 + (index * 37 % 100) / 200,
                "Timestamp": stored.last_modified_time,
            }
        ]

    sagemaker.create_model(
        ModelName="bench-model", ExecutionRoleArn=role_arn, PrimaryContainer={"Image": "xgboost:1"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="bench-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "bench-model",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    for index in range(size.endpoints):
        name = f"bench-endpoint-{index:04d}"
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="bench-config")
        backend.endpoints[name].endpoint_status = ENDPOINT_STATUSES[index % len(ENDPOINT_STATUSES)]
        backend.endpoints[name].creation_time = _naive_utc(now - timedelta(days=30))

    for index in range(size.notebooks):
        name = f"bench-notebook-{index:04d}"
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=role_arn
        )
        backend.notebook_instances[name].status = "InService" if index % 3 else "Stopped"

    sagemaker.create_model_package_group(ModelPackageGroupName="bench-models")
    for index in range(size.model_packages):
        sagemaker.create_model_package(
            ModelPackageGroupName="bench-models",
            ModelApprovalStatus="Approved" if index % 4 == 3 else "PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "xgboost:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )

    sagemaker.create_pipeline(
        PipelineName="bench-pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=role_arn,
    )
    pipeline = backend.pipelines["bench-pipeline"]
    for index in range(size.pipeline_executions):
        arn = sagemaker.start_pipeline_execution(PipelineName="bench-pipeline")[
            "PipelineExecutionArn"
        ]
        execution = pipeline.pipeline_executions[arn]
        execution.pipeline_execution_status = ("Succeeded", "Failed", "Executing")[index % 3]
        execution.last_modified_time = _naive_utc(now - timedelta(hours=(2, 30)[index % 2]))
    return completed


def sagemaker_metrics() -> list[Metric]:
    """Every catalog metric whose IAM actions are SageMaker's (the SSM metric is not)."""
    metrics = []
    for name, metric_class in all_metric_classes().items():
        actions = [action for statement in metric_class.permissions for action in statement.actions]
        if actions and all(action.startswith("sagemaker:") for action in actions):
            metrics.append(build_metric(name, METRIC_ARGUMENTS.get(name)))
    return metrics


class RecordingExtraction:
    """The extraction context the metrics see: an `Extraction`, plus a record of the distinct
    listings asked for (to tell, per listing, how many records one pass returned)."""

    def __init__(self, extraction: Extraction) -> None:
        self._extraction = extraction
        self.sources: dict[tuple[Any, ...], DataSource] = {}

    @property
    def now(self) -> datetime:
        return self._extraction.now

    @property
    def session(self) -> boto3.Session:
        return self._extraction.session

    def fetch(self, source: DataSource) -> Any:
        self.sources.setdefault(source.key, source)
        return self._extraction.fetch(source)


def _listing_call(
    source: DataSource, method_to_api: Mapping[str, str]
) -> tuple[str, str | None, int]:
    """The API operation (and Search resource) a listing is fetched with, and its page size."""
    if isinstance(source, SearchSource):
        return "Search", source.resource, SEARCH_PAGE_SIZE
    if isinstance(source, SageMakerListing):
        return method_to_api[source.operation], None, LIST_PAGE_SIZE
    return type(source).__name__, None, 1


def run(*, quick: bool = False) -> BenchmarkResult:
    size = QUICK_SIZE if quick else FULL_SIZE
    result = BenchmarkResult(
        "extraction",
        f"Extraction: full SageMaker metric set, {size.training_jobs:,} training jobs",
    )
    now = datetime.now(UTC)
    with mock_aws(), paginated_search():
        with stopwatch() as seeding:
            completed_seeded = seed_spoke(boto3.Session(region_name=REGION), size, now)

        session = boto3.Session(region_name=REGION)
        counter = AwsCallCounter(session)
        method_to_api = dict(session.client("sagemaker").meta.method_to_api_mapping)
        metrics = sagemaker_metrics()
        extraction = Extraction(session, now=now)
        context = RecordingExtraction(extraction)
        values: dict[str, list[Datapoint]] = {}
        with stopwatch() as extracting:
            for metric in metrics:
                values[metric.metric_name()] = list(metric.compute(context))
        # Served from the extraction's cache: no further calls.
        fetched = {key: context.fetch(source) for key, source in context.sources.items()}
        records = {
            key: len(value) if isinstance(value, tuple) else 1 for key, value in fetched.items()
        }

    listings = result.section(
        f"AWS calls per listing (one pass each; pages of {SEARCH_PAGE_SIZE}, list pages of "
        f"{LIST_PAGE_SIZE})"
    )
    training_calls = 0
    training_records = 0
    for key, source in sorted(context.sources.items(), key=lambda item: str(item[0])):
        operation, resource, page_size = _listing_call(source, method_to_api)
        calls = counter.count(operation, resource=resource)
        pages_for_one_pass = max(1, ceil_div(records[key], page_size))
        label = f"{operation} {resource}" if resource else operation
        listings.add(
            label,
            calls,
            f"{records[key]:,} records, ceil({records[key]:,}/{page_size}) = "
            f"{pages_for_one_pass}; "
            f"fetched {extraction.fetch_counts[key]} time(s)",
        )
        slug = (resource or operation).lower()
        result.figures[f"calls_{slug}"] = calls
        result.figures[f"records_{slug}"] = records[key]
        result.figures[f"pages_for_one_pass_{slug}"] = pages_for_one_pass
        if resource == "TrainingJob":
            training_calls, training_records = calls, records[key]

    describe_calls = sum(
        number for call, number in counter.calls.items() if call.operation.startswith("Describe")
    )
    total_calls = counter.total()
    naive_training_calls = ceil_div(training_records, LIST_PAGE_SIZE) + training_records
    naive_total_calls = total_calls - training_calls + naive_training_calls
    training_ratio = ratio(naive_training_calls, training_calls)
    total_ratio = ratio(naive_total_calls, total_calls)
    total_completed = values.get("TotalCompletedTrainingJobs", [])
    completed_reported = total_completed[0].value if total_completed else None

    summary = result.section("Whole extraction")
    summary.add("metrics computed", len(metrics), "every catalog metric on SageMaker listings")
    summary.add("AWS calls in total", total_calls)
    summary.add("Describe* calls", describe_calls, "no per-job Describe")
    summary.add(
        "naive design, training jobs",
        naive_training_calls,
        f"ListTrainingJobs ceil({training_records:,}/100) + DescribeTrainingJob x "
        f"{training_records:,}",
    )
    summary.add("naive / ours, training jobs", format_ratio(training_ratio))
    summary.add(
        "naive / ours, whole extraction",
        format_ratio(total_ratio),
        f"{naive_total_calls:,} vs {total_calls:,} calls",
    )
    summary.add(
        "TotalCompletedTrainingJobs",
        completed_reported,
        f"seeded {completed_seeded:,} completed jobs",
    )
    times = result.section("Wall time (informational)")
    times.add("seeding the spoke (s)", seeding.seconds)
    times.add("computing every metric (s)", extracting.seconds)
    result.notes.append(
        "moto gap fill cost: paginated_search re-runs moto's whole Search for every page, so on "
        "moto a pass costs O(pages x jobs) CPU; on AWS it is one request per page"
    )
    result.figures.update(
        {
            "training_jobs_seeded": size.training_jobs,
            "metrics_computed": len(metrics),
            "total_calls": total_calls,
            "describe_calls": describe_calls,
            "training_job_calls": training_calls,
            "training_job_records": training_records,
            "naive_training_job_calls": naive_training_calls,
            "naive_total_calls": naive_total_calls,
            "naive_to_ours_training_jobs": training_ratio,
            "naive_to_ours_total": total_ratio,
            "completed_jobs_seeded": completed_seeded,
            "completed_jobs_reported": completed_reported,
            "max_fetches_per_listing": max(extraction.fetch_counts.values(), default=0),
            "seed_seconds": seeding.seconds,
            "extraction_seconds": extracting.seconds,
        }
    )
    return result
