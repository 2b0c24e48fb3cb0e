"""moto's response serializer with the member-key memo (`sandbox.moto_serializer_cache`) writes
the same bytes as moto's own: the same calls, answered once with the memo and once without,
over the protocols moto serializes (JSON, REST-JSON, query XML, REST-XML) and the SageMaker
records the demo's extractions read (training jobs in every state, endpoints, pipeline
executions through the paginated Search fill)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox import moto_serializer_cache
from sandbox.moto_sagemaker_search import paginated_search
from sandbox.seed import plan_spoke_activity, seed_spoke_activity

ACCOUNT = "123456789012"
REGION = "eu-west-1"
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
REQUEST_ID = re.compile(rb"<RequestId>[^<]*</RequestId>")


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    with mock_aws(), paginated_search():
        moto_serializer_cache.PATCHES.uninstall()
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        plan = plan_spoke_activity(
            ACCOUNT, REGION, seed=7, ssm_parameter_names=["/sandbox/accuracy"]
        )
        seed_spoke_activity(session, plan, NOW)
        iam = session.client("iam")
        iam.create_role(RoleName="probe", AssumeRolePolicyDocument="{}", Description="probe")
        session.client("s3").create_bucket(
            Bucket="probe-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        session.client("s3").put_object(Bucket="probe-bucket", Key="a/b.json", Body=b"{}")
        session.client("lambda").create_function(
            FunctionName="probe",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{ACCOUNT}:role/probe",
            Handler="index.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
            Environment={"Variables": {"A": "1"}},
        )
        session.client("events").create_event_bus(Name="dsdash")
        yield session
        moto_serializer_cache.PATCHES.uninstall()


def _bodies(session: boto3.Session, calls: list[Callable[[boto3.Session], Any]]) -> list[bytes]:
    """The raw response body of each call, as the client received it (before parsing)."""
    bodies: list[bytes] = []

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        # A query-protocol body names its request, a fresh id per call.
        bodies.append(REQUEST_ID.sub(b"", response_dict["body"]))

    session.events.register("before-parse", keep)
    try:
        for call in calls:
            before = len(bodies)
            call(session)
            assert len(bodies) > before, "the call made no request"
    finally:
        session.events.unregister("before-parse", keep)
    return bodies


CALLS: list[Callable[[boto3.Session], Any]] = [
    lambda s: s.client("sagemaker").search(Resource="TrainingJob", MaxResults=100),
    lambda s: s.client("sagemaker").search(Resource="TrainingJob", MaxResults=3),
    lambda s: s.client("sagemaker").search(Resource="Endpoint", MaxResults=100),
    lambda s: s.client("sagemaker").search(
        Resource="PipelineExecution",
        SearchExpression={
            "Filters": [
                {"Name": "PipelineExecutionStatus", "Operator": "Equals", "Value": "Failed"}
            ]
        },
    ),
    lambda s: s.client("sagemaker").list_notebook_instances(StatusEquals="InService"),
    lambda s: s.client("sagemaker").list_model_packages(ModelPackageType="Both"),
    lambda s: s.client("sagemaker").list_training_jobs(MaxResults=100),
    lambda s: s.client("ssm").get_parameter(Name="/sandbox/accuracy"),
    lambda s: s.client("events").describe_event_bus(Name="dsdash"),
    lambda s: s.client("lambda").get_function_configuration(FunctionName="probe"),
    lambda s: s.client("iam").get_role(RoleName="probe"),
    lambda s: s.client("s3").list_objects_v2(Bucket="probe-bucket"),
    lambda s: s.client("sts").get_caller_identity(),
]


def test_the_memo_writes_the_bytes_moto_writes(session: boto3.Session) -> None:
    plain = _bodies(session, CALLS)
    # Described training jobs carry every member the Search records do.
    assert b"TrainingJobArn" in plain[0] and b"FinalMetricDataList" in plain[0]
    moto_serializer_cache.PATCHES.install()
    memoized = _bodies(session, CALLS)
    # Twice: the second answer comes from the memo filled by the first.
    again = _bodies(session, CALLS)

    assert memoized == plain
    assert again == plain


def test_uninstall_gives_moto_its_own_serializer_back() -> None:
    moto_serializer_cache.PATCHES.install()
    assert moto_serializer_cache.PATCHES.installed()
    moto_serializer_cache.PATCHES.uninstall()
    assert not moto_serializer_cache.PATCHES.installed()
    with moto_serializer_cache.cached_member_keys():
        assert moto_serializer_cache.PATCHES.installed()
    assert not moto_serializer_cache.PATCHES.installed()
