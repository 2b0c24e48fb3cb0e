"""Fixtures for the metric tests: a moto spoke with paged Search, and IAM enforcement helpers.

moto gaps filled here for the least-privilege tests (they matter only when IAM is enforced):
- moto gap: access checks for SSM always use the resource "*" (only SQS, IAM and STS responses
  name a resource), so a statement scoped to a parameter ARN never matches and AWS's
  resource-level permissions cannot be tested. `_ssm_parameter_resource` names the parameter
  ARN for GetParameter, as AWS does.
- moto gap: a denied request to a JSON-protocol service (SageMaker, SSM) gets moto's XML error
  body, which botocore parses as error code "403". AWS answers `AccessDeniedException` in JSON.
  `_json_access_denied` answers like AWS for JSON requests.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.exceptions import JsonRESTError
from moto.iam.access_control import IAMRequest
from moto.sagemaker.models import sagemaker_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from metrics.base import ACCOUNT_ID, PARTITION, REGION, IamStatement
from sandbox.moto_sagemaker_search import paginated_search

TEST_ACCOUNT_ID = "123456789012"
TEST_REGION = "eu-west-1"


@pytest.fixture
def spoke_session() -> Iterator[boto3.Session]:
    """A moto spoke account whose SageMaker Search pages like AWS."""
    with mock_aws(), paginated_search():
        yield boto3.Session(region_name=TEST_REGION)


def _ssm_parameter_resource(self: SimpleSystemManagerResponse) -> str:
    if self._get_action() == "GetParameter":
        name = str(self._get_param("Name")).lstrip("/")
        return f"arn:aws:ssm:{self.region}:{self.current_account}:parameter/{name}"
    return "*"


_ORIGINAL_RAISE_ACCESS_DENIED = IAMRequest._raise_access_denied


def _json_access_denied(self: IAMRequest) -> None:
    content_type = str(self._headers.get("Content-Type") or self._headers.get("content-type", ""))
    if "json" in content_type:
        raise JsonRESTError(
            "AccessDeniedException",
            f"User: {self._access_key.arn} is not authorized to perform: {self._action}",
        )
    _ORIGINAL_RAISE_ACCESS_DENIED(self)


@pytest.fixture
def moto_iam_like_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        SimpleSystemManagerResponse, "_determine_resource", _ssm_parameter_resource, raising=False
    )
    monkeypatch.setattr(IAMRequest, "_raise_access_denied", _json_access_denied)


def resolve_placeholders(resource: str) -> str:
    """What CloudFormation's Fn::Sub makes of a declared resource in the test account."""
    return (
        resource.replace(PARTITION, "aws")
        .replace(REGION, TEST_REGION)
        .replace(ACCOUNT_ID, TEST_ACCOUNT_ID)
    )


RoleSessionFactory = Callable[[str, tuple[IamStatement, ...]], boto3.Session]


@pytest.fixture
def role_session(spoke_session: boto3.Session, moto_iam_like_aws: None) -> RoleSessionFactory:
    """Create a role holding exactly the given statements, assume it, return its session.

    Call it before IAM enforcement starts: creating roles and assuming them are set-up calls.
    """
    iam = spoke_session.client("iam")
    sts = spoke_session.client("sts")
    trust_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{TEST_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }

    def create(role_name: str, statements: tuple[IamStatement, ...]) -> boto3.Session:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust_policy))
        policy_statements: list[dict[str, Any]] = [
            {
                "Effect": "Allow",
                "Action": list(statement.actions),
                "Resource": [resolve_placeholders(r) for r in statement.resources],
            }
            for statement in statements
            if statement.actions
        ]
        if policy_statements:
            iam.put_role_policy(
                RoleName=role_name,
                PolicyName="metric",
                PolicyDocument=json.dumps(
                    {"Version": "2012-10-17", "Statement": policy_statements}
                ),
            )
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{TEST_ACCOUNT_ID}:role/{role_name}",
            RoleSessionName="dsdash-metric-test",
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=TEST_REGION,
        )

    return create


# --- The seeded spoke -------------------------------------------------------------------------
# The spec below is the source of truth for expected values: tests compute what each metric
# should return from these plain records, never from the code under test.

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
ROLE_ARN = f"arn:aws:iam::{TEST_ACCOUNT_ID}:role/sagemaker-execution"
INSTANCE_TYPES = ("ml.m5.large", "ml.p3.2xlarge", "ml.g5.xlarge", "ml.c5.4xlarge")
TRAINING_STATUSES = (
    "Completed",
    "Completed",
    "Failed",
    "Completed",
    "Stopped",
    "InProgress",
    "Completed",
)
# Hours before NOW at which jobs end: each window's edge is hit just inside, exactly, and just
# outside (one second either way; the window is (NOW - hours, NOW]).
END_OFFSETS_HOURS = (
    0.5,
    1,
    5,
    12,
    24 - 1 / 3600,
    24,
    24 + 1 / 3600,
    30,
    100,
    168 - 1 / 3600,
    168,
    168 + 1 / 3600,
    400,
    2000,
    23.75,
)
ENDPOINT_STATUSES = (
    "InService",
    "Creating",
    "InService",
    "Updating",
    "Failed",
    "InService",
    "OutOfService",
    "SystemUpdating",
)
ENDPOINT_CREATED_HOURS_AGO = (0.5, 6, 23.5, 30, 200)
ENDPOINT_CONFIG_VARIANT_COUNTS = ((2,), (1, 3), (4,))
SSM_PARAMETER_NAME = "/churn/model/quality-threshold"
SSM_PARAMETER_VALUE = "0.87"


@dataclass(frozen=True)
class TrainingJobSpec:
    name: str
    status: str
    end: datetime | None
    last_modified: datetime
    instance_type: str
    instance_count: int
    spot: bool
    training_seconds: int | None
    billable_seconds: int | None
    final_metrics: dict[str, float]


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    status: str
    created: datetime
    variant_counts: tuple[int, ...]


@dataclass(frozen=True)
class PipelineExecutionSpec:
    status: str
    last_modified: datetime


@dataclass(frozen=True)
class SpokeSpec:
    training_jobs: tuple[TrainingJobSpec, ...]
    endpoints: tuple[EndpointSpec, ...]
    notebook_statuses: tuple[str, ...]
    model_package_statuses: tuple[str, ...]
    pipeline_executions: tuple[PipelineExecutionSpec, ...]


def training_job_specs(count: int) -> tuple[TrainingJobSpec, ...]:
    jobs = []
    for index in range(count):
        status = TRAINING_STATUSES[index % len(TRAINING_STATUSES)]
        offset = timedelta(hours=END_OFFSETS_HOURS[index % len(END_OFFSETS_HOURS)])
        spot = index % 5 == 0
        training_seconds = 600 + 7 * index
        # Every fourth failed job failed before training started: no end time.
        failed_early = status == "Failed" and index % 4 == 0
        ended = status != "InProgress" and not failed_early
        jobs.append(
            TrainingJobSpec(
                name=f"{'fraud' if index % 2 else 'churn'}-job-{index:05d}",
                status=status,
                end=NOW - offset if ended else None,
                # Completed jobs were all modified recently (tagging, say): a metric that
                # windowed on LastModifiedTime would count every one of them.
                last_modified=NOW - timedelta(minutes=5) if ended else NOW - offset,
                instance_type=INSTANCE_TYPES[index % len(INSTANCE_TYPES)],
                instance_count=1 + index % 3,
                spot=spot,
                training_seconds=training_seconds if ended else None,
                billable_seconds=(
                    (training_seconds * (30 + index % 50)) // 100 if spot else training_seconds
                )
                if ended
                else None,
                final_metrics={
                    "validation:auc": 0.5 + (index * 37 % 100) / 200,
                    "validation:loss": 1 + (index * 53 % 97) / 10,
                },
            )
        )
    return tuple(jobs)


def spoke_spec(
    training_jobs: int = 260,
    endpoints: int = 125,
    notebooks: int = 150,
    model_packages: int = 150,
    pipeline_executions: int = 220,
) -> SpokeSpec:
    return SpokeSpec(
        training_jobs=training_job_specs(training_jobs),
        endpoints=tuple(
            EndpointSpec(
                name=f"endpoint-{index:04d}",
                status=ENDPOINT_STATUSES[index % len(ENDPOINT_STATUSES)],
                created=NOW
                - timedelta(
                    hours=ENDPOINT_CREATED_HOURS_AGO[index % len(ENDPOINT_CREATED_HOURS_AGO)]
                ),
                variant_counts=ENDPOINT_CONFIG_VARIANT_COUNTS[
                    index % len(ENDPOINT_CONFIG_VARIANT_COUNTS)
                ],
            )
            for index in range(endpoints)
        ),
        notebook_statuses=tuple(
            "InService" if index % 4 else ("Stopped", "Pending")[index % 8 // 4]
            for index in range(notebooks)
        ),
        model_package_statuses=tuple(
            "Approved" if index % 4 == 3 else "PendingManualApproval"
            for index in range(model_packages)
        ),
        pipeline_executions=tuple(
            PipelineExecutionSpec(
                status=("Failed", "Succeeded", "Failed", "Executing")[index % 4],
                last_modified=NOW - timedelta(hours=(1, 10, 23.9, 24.1, 48)[index % 5]),
            )
            for index in range(pipeline_executions)
        ),
    )


def _naive_utc(moment: datetime | None) -> datetime | None:
    # moto's backend holds naive UTC datetimes.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment is not None else None


def seed_training_jobs(session: boto3.Session, jobs: tuple[TrainingJobSpec, ...]) -> None:
    sagemaker = session.client("sagemaker")
    for job in jobs:
        sagemaker.create_training_job(
            TrainingJobName=job.name,
            AlgorithmSpecification={"TrainingImage": "xgboost:1", "TrainingInputMode": "File"},
            RoleArn=ROLE_ARN,
            OutputDataConfig={"S3OutputPath": "s3://models/out"},
            ResourceConfig={
                "InstanceType": job.instance_type,
                "InstanceCount": job.instance_count,
                "VolumeSizeInGB": 10,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            EnableManagedSpotTraining=job.spot,
        )
    backend = sagemaker_backends[TEST_ACCOUNT_ID][TEST_REGION]
    for job in jobs:
        stored = backend.training_jobs[job.name]
        stored.training_job_status = job.status
        stored.training_end_time = _naive_utc(job.end)
        stored.last_modified_time = _naive_utc(job.last_modified)
        stored.training_time_in_seconds = job.training_seconds
        stored.billable_time_in_seconds = job.billable_seconds
        stored.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": _naive_utc(job.last_modified)}
            for name, value in job.final_metrics.items()
        ]


def seed_spoke(session: boto3.Session, spec: SpokeSpec) -> None:
    seed_training_jobs(session, spec.training_jobs)
    sagemaker = session.client("sagemaker")
    backend = sagemaker_backends[TEST_ACCOUNT_ID][TEST_REGION]

    sagemaker.create_model(
        ModelName="model", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "xgboost:1"}
    )
    for config_index, counts in enumerate(ENDPOINT_CONFIG_VARIANT_COUNTS):
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"config-{config_index}",
            ProductionVariants=[
                {
                    "VariantName": f"variant-{variant}",
                    "ModelName": "model",
                    "InitialInstanceCount": instances,
                    "InstanceType": "ml.m5.large",
                }
                for variant, instances in enumerate(counts)
            ],
        )
    for endpoint in spec.endpoints:
        config_index = ENDPOINT_CONFIG_VARIANT_COUNTS.index(endpoint.variant_counts)
        sagemaker.create_endpoint(
            EndpointName=endpoint.name, EndpointConfigName=f"config-{config_index}"
        )
        stored_endpoint = backend.endpoints[endpoint.name]
        stored_endpoint.endpoint_status = endpoint.status
        stored_endpoint.creation_time = _naive_utc(endpoint.created)

    for index, status in enumerate(spec.notebook_statuses):
        name = f"notebook-{index:04d}"
        sagemaker.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE_ARN
        )
        backend.notebook_instances[name].status = status

    sagemaker.create_model_package_group(ModelPackageGroupName="fraud-models")
    for status in spec.model_package_statuses:
        sagemaker.create_model_package(
            ModelPackageGroupName="fraud-models",
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": "xgboost:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )

    sagemaker.create_pipeline(
        PipelineName="training-pipeline",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=ROLE_ARN,
    )
    pipeline = backend.pipelines["training-pipeline"]
    for execution in spec.pipeline_executions:
        arn = sagemaker.start_pipeline_execution(PipelineName="training-pipeline")[
            "PipelineExecutionArn"
        ]
        stored_execution = pipeline.pipeline_executions[arn]
        stored_execution.pipeline_execution_status = execution.status
        stored_execution.last_modified_time = _naive_utc(execution.last_modified)

    session.client("ssm").put_parameter(
        Name=SSM_PARAMETER_NAME, Value=SSM_PARAMETER_VALUE, Type="String"
    )


@pytest.fixture(scope="module")
def seeded_spoke() -> Iterator[SpokeSpec]:
    """The seeded spoke, shared by a module's tests (they only read it): seeding takes ~900
    API calls. A module using it must not also use the function-scoped `spoke_session`."""
    with mock_aws(), paginated_search():
        spec = spoke_spec()
        seed_spoke(boto3.Session(region_name=TEST_REGION), spec)
        yield spec


class ApiCallCounter:
    """A fresh spoke session that counts its API calls by operation (and Search resource)."""

    def __init__(self) -> None:
        self.session = boto3.Session(region_name=TEST_REGION)
        self.calls: Counter[str] = Counter()
        self.session.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        resource = params.get("Resource")
        self.calls[f"{model.name}:{resource}" if resource else model.name] += 1


@pytest.fixture
def large_spoke(spoke_session: boto3.Session) -> SpokeSpec:
    """A spoke with over a thousand training jobs, for the one-pass-per-listing check."""
    spec = spoke_spec(training_jobs=1050)
    seed_spoke(spoke_session, spec)
    return spec


@pytest.fixture
def small_spoke(spoke_session: boto3.Session) -> SpokeSpec:
    """A few of everything: enough for every metric to have data, quick to seed."""
    spec = spoke_spec(
        training_jobs=12, endpoints=4, notebooks=3, model_packages=3, pipeline_executions=4
    )
    seed_spoke(spoke_session, spec)
    return spec


@pytest.fixture
def extraction_time() -> datetime:
    return NOW


@pytest.fixture
def api_calls() -> ApiCallCounter:
    """Needs an active moto mock: request it after `spoke_session` or `seeded_spoke`."""
    return ApiCallCounter()
