"""Realistic SageMaker activity for a sandbox spoke, with its known truth.

`plan_spoke_activity` draws a deterministic plan from a seed: training jobs of every status with
start and end times, billable seconds, instance types, spot use and final metrics; endpoints with
production variants; notebooks; model packages; pipeline executions; an SSM parameter.
`seed_spoke_activity` creates it in moto through the SageMaker API, then sets what the API cannot
(statuses, times, billing) on moto's backend objects, with naive UTC datetimes (moto gap: the API
cannot move a job through its lifecycle).

`expected_datapoints` computes, from the plan alone and without the metric library, the value
every metric must report. The demo and the end-to-end test compare what reached the hub with it.

Times sit well inside or well outside every window, so the minutes between seeding and extraction
never change a value; endpoints were created long before any window, so their instance-hours are
exactly window x instances.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.sagemaker.models import sagemaker_backends

from config.model import MetricSelection

TRAINING_STATUSES = ("Completed", "Failed", "Stopped", "InProgress")
INSTANCE_TYPES = ("ml.m5.xlarge", "ml.g5.2xlarge", "ml.p3.2xlarge")
OBJECTIVE_METRICS = ("validation:auc", "validation:rmse")
# Ages (hours before seeding) a finished job may have: inside 24 h, inside 168 h, or older.
END_AGES_HOURS = (2, 5, 20, 60, 120, 400, 2000)
SEED_ROLE_NAME = "dsdash-sandbox-sagemaker"


@dataclass(frozen=True)
class TrainingJobPlan:
    name: str
    status: str
    instance_type: str
    instance_count: int
    spot: bool
    end_age_hours: int | None  # None while in progress
    training_seconds: int
    billable_seconds: int
    final_metrics: Mapping[str, float]


@dataclass(frozen=True)
class EndpointPlan:
    name: str
    status: str
    instance_counts: tuple[int, ...]  # one per production variant


@dataclass(frozen=True)
class SpokeActivityPlan:
    account_id: str
    region: str
    training_jobs: tuple[TrainingJobPlan, ...]
    endpoints: tuple[EndpointPlan, ...]
    notebook_statuses: tuple[str, ...]
    model_package_statuses: tuple[str, ...]
    pipeline_execution_plans: tuple[tuple[str, int], ...]  # (status, age in hours)
    ssm_parameters: Mapping[str, float]


def plan_spoke_activity(
    account_id: str,
    region: str,
    *,
    seed: int,
    ssm_parameter_names: Sequence[str] = (),
    job_name_prefix: str = "",
) -> SpokeActivityPlan:
    """A varied, deterministic plan for one spoke (same seed and account, same plan)."""
    rng = random.Random(f"{seed}-{account_id}-{region}")
    jobs = []
    for index in range(rng.randint(30, 60)):
        status = rng.choices(TRAINING_STATUSES, weights=(6, 2, 1, 1))[0]
        training_seconds = rng.randint(600, 7200)
        spot = rng.random() < 0.4
        billable = int(training_seconds * rng.uniform(0.3, 0.9)) if spot else training_seconds
        prefix = job_name_prefix if index % 2 == 0 else "adhoc-"
        jobs.append(
            TrainingJobPlan(
                name=f"{prefix}job-{index:04d}",
                status=status,
                instance_type=rng.choice(INSTANCE_TYPES),
                instance_count=rng.choice((1, 1, 2, 4)),
                spot=spot,
                end_age_hours=None if status == "InProgress" else rng.choice(END_AGES_HOURS),
                training_seconds=training_seconds,
                billable_seconds=billable,
                final_metrics={name: round(rng.uniform(0.5, 0.99), 4) for name in OBJECTIVE_METRICS}
                if status == "Completed"
                else {},
            )
        )
    endpoints = tuple(
        EndpointPlan(
            name=f"endpoint-{index:03d}",
            status=rng.choice(("InService", "InService", "Creating", "Failed")),
            instance_counts=tuple(rng.randint(1, 3) for _ in range(rng.randint(1, 2))),
        )
        for index in range(rng.randint(3, 8))
    )
    return SpokeActivityPlan(
        account_id=account_id,
        region=region,
        training_jobs=tuple(jobs),
        endpoints=endpoints,
        notebook_statuses=tuple(
            rng.choice(("InService", "Stopped", "Pending")) for _ in range(rng.randint(1, 5))
        ),
        model_package_statuses=tuple(
            rng.choice(("PendingManualApproval", "Approved", "Rejected"))
            for _ in range(rng.randint(2, 6))
        ),
        pipeline_execution_plans=tuple(
            (rng.choice(("Succeeded", "Failed", "Executing")), rng.choice((3, 10, 50, 300)))
            for _ in range(rng.randint(2, 8))
        ),
        ssm_parameters={name: round(rng.uniform(0.6, 0.95), 3) for name in ssm_parameter_names},
    )


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def seed_spoke_activity(session: boto3.Session, plan: SpokeActivityPlan, now: datetime) -> None:
    """Create the plan's resources in the spoke's moto account (session acts as that account)."""
    # Any: moto's backend objects and the seeding requests are not what the boto3 stubs model.
    sagemaker: Any = session.client("sagemaker", region_name=plan.region)
    backend: Any = sagemaker_backends[plan.account_id][plan.region]
    role_arn = f"arn:aws:iam::{plan.account_id}:role/{SEED_ROLE_NAME}"

    for job in plan.training_jobs:
        sagemaker.create_training_job(
            TrainingJobName=job.name,
            AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
            RoleArn=role_arn,
            OutputDataConfig={"S3OutputPath": f"s3://models-{plan.account_id}/out"},
            ResourceConfig={
                "InstanceType": job.instance_type,
                "InstanceCount": job.instance_count,
                "VolumeSizeInGB": 30,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            EnableManagedSpotTraining=job.spot,
        )
        stored: Any = backend.training_jobs[job.name]
        stored.training_job_status = job.status
        stored.secondary_status = job.status
        if job.end_age_hours is None:
            start = now - timedelta(seconds=job.training_seconds)
            stored.training_end_time = None
            stored.last_modified_time = _naive(now - timedelta(minutes=5))
        else:
            end = now - timedelta(hours=job.end_age_hours)
            start = end - timedelta(seconds=job.training_seconds)
            stored.training_end_time = _naive(end)
            stored.last_modified_time = _naive(end)
        stored.creation_time = _naive(start - timedelta(minutes=3))
        stored.training_start_time = _naive(start)
        stored.training_time_in_seconds = job.training_seconds
        stored.billable_time_in_seconds = job.billable_seconds
        stored.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": stored.last_modified_time}
            for name, value in job.final_metrics.items()
        ]

    sagemaker.create_model(
        ModelName="sandbox-model",
        ExecutionRoleArn=role_arn,
        PrimaryContainer={"Image": "xgboost:1"},
    )
    for endpoint in plan.endpoints:
        config_name = f"{endpoint.name}-config"
        sagemaker.create_endpoint_config(
            EndpointConfigName=config_name,
            ProductionVariants=[
                {
                    "VariantName": f"variant-{index}",
                    "ModelName": "sandbox-model",
                    "InitialInstanceCount": count,
                    "InstanceType": "ml.m5.large",
                }
                for index, count in enumerate(endpoint.instance_counts)
            ],
        )
        sagemaker.create_endpoint(EndpointName=endpoint.name, EndpointConfigName=config_name)
        stored_endpoint = backend.endpoints[endpoint.name]
        stored_endpoint.endpoint_status = endpoint.status
        stored_endpoint.creation_time = _naive(now - timedelta(days=30))

    for index, status in enumerate(plan.notebook_statuses):
        name = f"notebook-{index:02d}"
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=role_arn
        )
        backend.notebook_instances[name].status = status

    sagemaker.create_model_package_group(ModelPackageGroupName="sandbox-models")
    for status in plan.model_package_statuses:
        sagemaker.create_model_package(
            ModelPackageGroupName="sandbox-models",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "xgboost:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )

    sagemaker.create_pipeline(
        PipelineName="sandbox-pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=role_arn,
    )
    pipeline = backend.pipelines["sandbox-pipeline"]
    for status, age_hours in plan.pipeline_execution_plans:
        arn = sagemaker.start_pipeline_execution(PipelineName="sandbox-pipeline")[
            "PipelineExecutionArn"
        ]
        execution = pipeline.pipeline_executions[arn]
        execution.pipeline_execution_status = status
        execution.last_modified_time = _naive(now - timedelta(hours=age_hours))

    ssm = session.client("ssm", region_name=plan.region)
    for name, value in plan.ssm_parameters.items():
        ssm.put_parameter(Name=name, Value=str(value), Type="String", Overwrite=True)


DatapointKey = tuple[str, tuple[tuple[str, str], ...]]  # (metric name, sorted dimensions)


def _ended_within(job: TrainingJobPlan, hours: int) -> bool:
    return job.end_age_hours is not None and job.end_age_hours < hours


def expected_datapoints(
    plan: SpokeActivityPlan, selections: Sequence[MetricSelection]
) -> dict[DatapointKey, float]:
    """The value each selected metric must report for this plan (absent: no datapoint)."""
    jobs = plan.training_jobs
    completed = [job for job in jobs if job.status == "Completed"]
    expected: dict[DatapointKey, float] = {}

    def window(selection: MetricSelection, default: int) -> int:
        return int(selection.args.get("window_hours", default))

    for selection in selections:
        name, args = selection.name, selection.args
        values: dict[tuple[tuple[str, str], ...], float] = {}
        if name == "TotalCompletedTrainingJobs":
            values[()] = len(completed)
        elif name == "CompletedTrainingJobs24h":
            values[()] = sum(_ended_within(job, window(selection, 24)) for job in completed)
        elif name == "FailedTrainingJobs":
            values[()] = sum(
                job.status == "Failed" and _ended_within(job, window(selection, 24)) for job in jobs
            )
        elif name == "TrainingJobsInProgress":
            values[()] = sum(job.status == "InProgress" for job in jobs)
        elif name == "BillableTrainingSeconds":
            values[()] = sum(
                job.billable_seconds * job.instance_count
                for job in jobs
                if job.status in ("Completed", "Failed", "Stopped")
                and _ended_within(job, window(selection, 24))
            )
        elif name == "ManagedSpotSavingsPercent":
            spot = [
                job for job in completed if job.spot and _ended_within(job, window(selection, 168))
            ]
            trained = sum(job.training_seconds for job in spot)
            billed = sum(job.billable_seconds for job in spot)
            values[()] = (trained - billed) / trained * 100 if trained else 0.0
        elif name == "CompletedTrainingJobsByInstanceType":
            for instance_type, count in Counter(job.instance_type for job in completed).items():
                values[(("InstanceType", instance_type),)] = count
        elif name == "BestTrainingObjective":
            objective = str(args["objective_metric"])
            candidates = [
                job.final_metrics[objective]
                for job in completed
                if _ended_within(job, window(selection, 168))
                and job.name.startswith(str(args.get("job_name_prefix") or ""))
                and objective in job.final_metrics
            ]
            if candidates:
                best = max if args.get("direction", "maximize") == "maximize" else min
                values[(("ObjectiveMetric", objective),)] = best(candidates)
        elif name == "NumberEndPointsInService":
            values[()] = sum(endpoint.status == "InService" for endpoint in plan.endpoints)
        elif name == "EndpointInstanceHours":
            values[()] = float(
                sum(
                    sum(endpoint.instance_counts) * window(selection, 24)
                    for endpoint in plan.endpoints
                    if endpoint.status == "InService"
                )
            )
        elif name == "NotebookInstancesInService":
            values[()] = sum(status == "InService" for status in plan.notebook_statuses)
        elif name == "ModelPackagesPendingApproval":
            values[()] = sum(
                status == "PendingManualApproval" for status in plan.model_package_statuses
            )
        elif name == "FailedPipelineExecutions":
            values[()] = sum(
                status == "Failed" and age < window(selection, 24)
                for status, age in plan.pipeline_execution_plans
            )
        elif name == "SsmParameterValue":
            parameter = str(args["parameter_name"])
            values[(("ParameterName", parameter),)] = plan.ssm_parameters[parameter]
        else:
            raise KeyError(f"the sandbox has no truth for metric {name!r}")
        for dimensions, value in values.items():
            expected[(name, dimensions)] = float(value)
    return expected


def describe_key(key: DatapointKey) -> str:
    name, dimensions = key
    return name + "".join(f"[{k}={v}]" for k, v in dimensions)


def plan_summary(plan: SpokeActivityPlan) -> dict[str, Any]:
    return {
        "training_jobs": len(plan.training_jobs),
        "endpoints": len(plan.endpoints),
        "notebooks": len(plan.notebook_statuses),
        "model_packages": len(plan.model_package_statuses),
        "pipeline_executions": len(plan.pipeline_execution_plans),
    }
