"""The collection layer on small, hand-built spokes: windows, sharing, and pagination rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends

from metrics.collect import (
    NOTEBOOK_INSTANCES_IN_SERVICE,
    TRAINING_JOBS,
    Extraction,
    NaiveExtractionTimeError,
)
from metrics.registry import build_metric
from sandbox.moto_sagemaker_search import PATCHES as SEARCH_PATCHES
from sandbox.moto_sagemaker_search import paginated_search

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"


def _add_job(
    session: boto3.Session,
    name: str,
    *,
    status: str,
    ended_hours_ago: float | None,
    instances: int = 1,
    spot: bool = False,
    training_seconds: int = 0,
    billable_seconds: int = 0,
) -> None:
    session.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://out/"},
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": instances,
            "VolumeSizeInGB": 5,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        EnableManagedSpotTraining=spot,
    )
    job = sagemaker_backends[ACCOUNT][REGION].training_jobs[name]
    job.training_job_status = status
    job.training_end_time = (
        (NOW - timedelta(hours=ended_hours_ago)).replace(tzinfo=None)
        if ended_hours_ago is not None
        else None
    )
    job.training_time_in_seconds = training_seconds
    job.billable_time_in_seconds = billable_seconds


def _value(session: boto3.Session, name: str, **args: Any) -> float:
    (datapoint,) = build_metric(name, args).compute(Extraction(session, now=NOW))
    return datapoint.value


def test_extraction_refuses_a_naive_time(spoke_session):
    with pytest.raises(NaiveExtractionTimeError, match="timezone-aware"):
        Extraction(spoke_session, now=datetime(2025, 1, 1))


def test_billable_seconds_count_every_ended_job_once_per_instance(spoke_session):
    _add_job(
        spoke_session,
        "a",
        status="Completed",
        ended_hours_ago=23,
        instances=2,
        billable_seconds=100,
    )
    _add_job(spoke_session, "b", status="Failed", ended_hours_ago=1, billable_seconds=50)
    _add_job(
        spoke_session, "c", status="Stopped", ended_hours_ago=2, instances=3, billable_seconds=10
    )
    _add_job(spoke_session, "d", status="Completed", ended_hours_ago=25, billable_seconds=999)

    assert _value(spoke_session, "BillableTrainingSeconds") == 2 * 100 + 50 + 3 * 10


def test_spot_savings_weigh_jobs_by_training_time(spoke_session):
    _add_job(
        spoke_session,
        "spot-long",
        status="Completed",
        ended_hours_ago=10,
        spot=True,
        training_seconds=3000,
        billable_seconds=600,
    )
    _add_job(
        spoke_session,
        "spot-short",
        status="Completed",
        ended_hours_ago=100,
        spot=True,
        training_seconds=1000,
        billable_seconds=1000,
    )
    _add_job(
        spoke_session,
        "on-demand",
        status="Completed",
        ended_hours_ago=5,
        training_seconds=5000,
        billable_seconds=5000,
    )
    _add_job(
        spoke_session,
        "spot-old",
        status="Completed",
        ended_hours_ago=200,
        spot=True,
        training_seconds=100,
        billable_seconds=1,
    )

    # (3000 + 1000 - 600 - 1000) / 4000 = 60 %
    assert _value(spoke_session, "ManagedSpotSavingsPercent") == 60.0


def test_spot_savings_are_zero_with_no_spot_job(spoke_session):
    _add_job(
        spoke_session,
        "on-demand",
        status="Completed",
        ended_hours_ago=5,
        training_seconds=5000,
        billable_seconds=5000,
    )

    (datapoint,) = build_metric("ManagedSpotSavingsPercent").compute(
        Extraction(spoke_session, now=NOW)
    )

    assert datapoint.value == 0
    assert datapoint.metadata["SpotTrainingJobs"] == 0


def test_endpoint_instance_hours_count_from_creation_or_window_start(spoke_session):
    sagemaker = spoke_session.client("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
    sagemaker.create_endpoint_config(
        EndpointConfigName="two-variants",
        ProductionVariants=[
            {
                "VariantName": "a",
                "ModelName": "m",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            },
            {
                "VariantName": "b",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            },
        ],
    )
    backend = sagemaker_backends[ACCOUNT][REGION]
    for name, created_hours_ago, status in [
        ("new", 2, "InService"),  # 3 instances x 2 h
        ("old", 48, "InService"),  # 3 instances x 24 h (the window)
        ("broken", 10, "Failed"),  # not in service: 0
    ]:
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="two-variants")
        backend.endpoints[name].creation_time = (NOW - timedelta(hours=created_hours_ago)).replace(
            tzinfo=None
        )
        backend.endpoints[name].endpoint_status = status

    assert _value(spoke_session, "EndpointInstanceHours") == 3 * 2 + 3 * 24


def test_failed_job_without_end_time_is_placed_by_last_modified_time(spoke_session):
    _add_job(spoke_session, "failed-at-start", status="Failed", ended_hours_ago=None)
    job = sagemaker_backends[ACCOUNT][REGION].training_jobs["failed-at-start"]
    job.last_modified_time = (NOW - timedelta(hours=3)).replace(tzinfo=None)

    assert _value(spoke_session, "FailedTrainingJobs", window_hours=4) == 1
    assert _value(spoke_session, "FailedTrainingJobs", window_hours=2) == 0


class _ScriptedPages:
    """Answers a paginated SageMaker call from a list of pages, before it reaches moto
    (a `before-call` handler that returns a response short-circuits the HTTP request)."""

    def __init__(self, session: boto3.Session, operation: str, pages: list[dict[str, Any]]):
        self.pages = pages
        self.tokens_received: list[str | None] = []
        session.events.register(f"before-call.sagemaker.{operation}", self._answer)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        self.tokens_received.append(json.loads(params["body"] or b"{}").get("NextToken"))
        return SimpleNamespace(status_code=200), self.pages[len(self.tokens_received) - 1]


def test_listing_follows_next_token_past_empty_pages(spoke_session):
    # AWS filters after paging: a page can be empty while more remain.
    session = boto3.Session(region_name=REGION)
    script = _ScriptedPages(
        session,
        "ListNotebookInstances",
        [
            {"NotebookInstances": [{"NotebookInstanceName": "a"}], "NextToken": "t1"},
            {"NotebookInstances": [], "NextToken": "t2"},
            {"NotebookInstances": [], "NextToken": "t3"},
            {"NotebookInstances": [{"NotebookInstanceName": "b"}]},
        ],
    )

    instances = Extraction(session, now=NOW).fetch(NOTEBOOK_INSTANCES_IN_SERVICE)

    assert [item["NotebookInstanceName"] for item in instances] == ["a", "b"]
    assert script.tokens_received == [None, "t1", "t2", "t3"]


def test_search_follows_next_token_past_empty_pages(spoke_session):
    session = boto3.Session(region_name=REGION)
    script = _ScriptedPages(
        session,
        "Search",
        [
            {"Results": [], "NextToken": "t1"},
            {"Results": [{"TrainingJob": {"TrainingJobName": "x"}}]},
        ],
    )

    jobs = Extraction(session, now=NOW).fetch(TRAINING_JOBS)

    assert [job["TrainingJobName"] for job in jobs] == ["x"]
    assert script.tokens_received == [None, "t1"]


def test_a_failed_fetch_is_not_cached_as_empty_data(spoke_session):
    session = boto3.Session(region_name=REGION)
    attempts = []

    def deny(**_: Any) -> None:
        attempts.append(1)
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Search")

    session.events.register("before-call.sagemaker.Search", deny)
    extraction = Extraction(session, now=NOW)

    for _ in range(2):
        with pytest.raises(ClientError):
            build_metric("TotalCompletedTrainingJobs").compute(extraction)
    assert len(attempts) == 2


# --- The moto gap fill for Search (sandbox/moto_sagemaker_search.py) ---------------------------


def test_search_gap_fill_pages_like_aws(spoke_session):
    for index in range(23):
        _add_job(spoke_session, f"job-{index:02d}", status="Completed", ended_hours_ago=1)
    sagemaker = spoke_session.client("sagemaker")

    first = sagemaker.search(Resource="TrainingJob")
    rest = sagemaker.search(Resource="TrainingJob", NextToken=first["NextToken"], MaxResults=100)

    assert len(first["Results"]) == 10  # AWS's default MaxResults
    assert "NextToken" not in rest
    names = [r["TrainingJob"]["TrainingJobName"] for r in first["Results"] + rest["Results"]]
    assert sorted(names) == [f"job-{index:02d}" for index in range(23)]


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"MaxResults": 101}, "maxResults"),
        ({"NextToken": "not-a-token"}, "Invalid pagination token"),
        (
            {
                "SearchExpression": {
                    "Filters": [
                        {
                            "Name": "TrainingEndTime",
                            "Operator": "GreaterThan",
                            "Value": "2025-01-01",
                        }
                    ]
                }
            },
            "moto gap: Search filter operator 'GreaterThan'",
        ),
    ],
)
def test_search_gap_fill_refuses_what_it_cannot_answer_faithfully(
    spoke_session, request_args, message
):
    with pytest.raises(ClientError, match=message):
        spoke_session.client("sagemaker").search(Resource="TrainingJob", **request_args)


def test_search_gap_fill_finds_pipeline_executions(spoke_session):
    sagemaker = spoke_session.client("sagemaker")
    sagemaker.create_pipeline(
        PipelineName="p", PipelineDefinition=json.dumps({"Steps": []}), RoleArn=ROLE
    )
    arn = sagemaker.start_pipeline_execution(PipelineName="p")["PipelineExecutionArn"]

    (record,) = sagemaker.search(Resource="PipelineExecution")["Results"]

    assert record["PipelineExecution"]["PipelineExecutionArn"] == arn
    assert record["PipelineExecution"]["PipelineArn"].endswith(":pipeline/p")


def test_search_gap_fill_is_undone_after_its_block(spoke_session):
    for index in range(12):
        _add_job(spoke_session, f"job-{index:02d}", status="Completed", ended_hours_ago=1)
    sagemaker = spoke_session.client("sagemaker")
    SEARCH_PATCHES.uninstall()  # start from moto's own behaviour (the fixture had installed the fill)

    with paginated_search():
        assert len(sagemaker.search(Resource="TrainingJob", MaxResults=5)["Results"]) == 5

    assert not SEARCH_PATCHES.installed()
    # The moto gap is back: everything in one page, whatever MaxResults says.
    assert len(sagemaker.search(Resource="TrainingJob", MaxResults=5)["Results"]) == 12


def test_an_extraction_makes_one_client_per_service_for_all_its_listings(
    spoke_session: boto3.Session,
) -> None:
    """A client per listing would reload SageMaker's service model for each one."""
    made: list[str] = []
    spoke_session.events.register(
        "creating-client-class", lambda event_name, **_: made.append(event_name)
    )
    extraction = Extraction(spoke_session, now=NOW)

    extraction.fetch(TRAINING_JOBS)
    extraction.fetch(NOTEBOOK_INSTANCES_IN_SERVICE)
    build_metric("NumberEndPointsInService").compute(extraction)

    assert len(extraction.fetch_counts) == 3
    assert made == ["creating-client-class.sagemaker"]
