"""Every metric returns the value the seeded spoke implies, across real page boundaries.

Expected values come from the seed spec (plain Python records), computed here by the metric's
definition, never by calling the code under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from metrics.base import Datapoint
from metrics.collect import Extraction
from metrics.registry import build_metric


def _in_window(moment: datetime | None, now: datetime, hours: float) -> bool:
    return moment is not None and now - timedelta(hours=hours) < moment <= now


def _compute(name: str, api_calls: Any, now: datetime, **args: Any) -> list[Datapoint]:
    return list(build_metric(name, args).compute(Extraction(api_calls.session, now=now)))


def _single_value(datapoints: list[Datapoint]) -> float:
    assert len(datapoints) == 1, datapoints
    return datapoints[0].value


def test_training_listing_really_spans_several_pages(seeded_spoke, api_calls, extraction_time):
    _compute("TotalCompletedTrainingJobs", api_calls, extraction_time)

    # 260 jobs at 100 per page: a metric that stopped after the first page would be wrong.
    assert len(seeded_spoke.training_jobs) >= 250
    assert api_calls.calls["Search:TrainingJob"] == 3


def test_total_completed_training_jobs(seeded_spoke, api_calls, extraction_time):
    expected = sum(job.status == "Completed" for job in seeded_spoke.training_jobs)

    value = _single_value(_compute("TotalCompletedTrainingJobs", api_calls, extraction_time))

    assert value == expected


@pytest.mark.parametrize("window_hours", [24, 168, 1])
def test_completed_training_jobs_count_by_end_time_not_last_modified(
    seeded_spoke, api_calls, extraction_time, window_hours
):
    expected = sum(
        job.status == "Completed" and _in_window(job.end, extraction_time, window_hours)
        for job in seeded_spoke.training_jobs
    )
    recently_modified = sum(
        job.status == "Completed" and _in_window(job.last_modified, extraction_time, window_hours)
        for job in seeded_spoke.training_jobs
    )

    value = _single_value(
        _compute("CompletedTrainingJobs24h", api_calls, extraction_time, window_hours=window_hours)
    )

    assert value == expected
    assert expected != recently_modified  # the seed really distinguishes the two readings


def test_completed_training_jobs_24h_defaults_to_a_day(seeded_spoke, api_calls, extraction_time):
    just_inside = extraction_time - timedelta(hours=24) + timedelta(seconds=1)
    at_the_edge = extraction_time - timedelta(hours=24)
    completed_ends = [job.end for job in seeded_spoke.training_jobs if job.status == "Completed"]
    assert just_inside in completed_ends and at_the_edge in completed_ends
    expected = sum(_in_window(end, extraction_time, 24) for end in completed_ends)

    value = _single_value(_compute("CompletedTrainingJobs24h", api_calls, extraction_time))

    assert value == expected


@pytest.mark.parametrize("window_hours", [24, 168])
def test_failed_training_jobs_in_window(seeded_spoke, api_calls, extraction_time, window_hours):
    failed = [job for job in seeded_spoke.training_jobs if job.status == "Failed"]
    assert any(job.end is None for job in failed)  # failed before training started
    expected = sum(
        _in_window(job.end or job.last_modified, extraction_time, window_hours) for job in failed
    )

    value = _single_value(
        _compute("FailedTrainingJobs", api_calls, extraction_time, window_hours=window_hours)
    )

    assert value == expected


def test_training_jobs_in_progress(seeded_spoke, api_calls, extraction_time):
    expected = sum(job.status == "InProgress" for job in seeded_spoke.training_jobs)

    value = _single_value(_compute("TrainingJobsInProgress", api_calls, extraction_time))

    assert value == expected > 0


def test_billable_training_seconds_multiply_by_instance_count(
    seeded_spoke, api_calls, extraction_time
):
    expected = sum(
        job.billable_seconds * job.instance_count
        for job in seeded_spoke.training_jobs
        if job.billable_seconds is not None and _in_window(job.end, extraction_time, 24)
    )

    value = _single_value(_compute("BillableTrainingSeconds", api_calls, extraction_time))

    assert value == expected


def test_managed_spot_savings_percent(seeded_spoke, api_calls, extraction_time):
    spot_jobs = [
        job
        for job in seeded_spoke.training_jobs
        if job.status == "Completed" and job.spot and _in_window(job.end, extraction_time, 168)
    ]
    trained = sum(job.training_seconds for job in spot_jobs)
    billed = sum(job.billable_seconds for job in spot_jobs)

    datapoints = _compute("ManagedSpotSavingsPercent", api_calls, extraction_time)

    assert _single_value(datapoints) == pytest.approx((trained - billed) / trained * 100)
    assert datapoints[0].metadata["SpotTrainingJobs"] == len(spot_jobs) > 0


@pytest.mark.parametrize(
    ("objective", "direction", "prefix"),
    [
        ("validation:auc", "maximize", "fraud-"),
        ("validation:loss", "minimize", None),
        ("validation:auc", "minimize", "churn-"),
    ],
)
def test_best_training_objective(
    seeded_spoke, api_calls, extraction_time, objective, direction, prefix
):
    candidates = [
        (job.final_metrics[objective], job.name)
        for job in seeded_spoke.training_jobs
        if job.status == "Completed"
        and _in_window(job.end, extraction_time, 168)
        and job.name.startswith(prefix or "")
    ]
    best_value = (max if direction == "maximize" else min)(value for value, _ in candidates)
    args: dict[str, Any] = {"objective_metric": objective, "direction": direction}
    if prefix:
        args["job_name_prefix"] = prefix

    datapoints = _compute("BestTrainingObjective", api_calls, extraction_time, **args)

    assert _single_value(datapoints) == best_value
    assert datapoints[0].dimensions == {"ObjectiveMetric": objective}
    assert datapoints[0].metadata["TrainingJobName"] in {
        name for value, name in candidates if value == best_value
    }


def test_best_training_objective_has_no_datapoint_without_matching_jobs(
    seeded_spoke, api_calls, extraction_time
):
    datapoints = _compute(
        "BestTrainingObjective", api_calls, extraction_time, objective_metric="test:f1"
    )

    assert datapoints == []


def test_completed_training_jobs_by_instance_type(seeded_spoke, api_calls, extraction_time):
    expected = Counter(
        job.instance_type for job in seeded_spoke.training_jobs if job.status == "Completed"
    )

    datapoints = _compute("CompletedTrainingJobsByInstanceType", api_calls, extraction_time)

    assert {point.dimensions["InstanceType"]: point.value for point in datapoints} == expected
    assert len(expected) == 4


def test_number_of_endpoints_in_service(seeded_spoke, api_calls, extraction_time):
    expected = sum(endpoint.status == "InService" for endpoint in seeded_spoke.endpoints)

    value = _single_value(_compute("NumberEndPointsInService", api_calls, extraction_time))

    assert 0 < value == expected < len(seeded_spoke.endpoints)
    assert api_calls.calls["Search:Endpoint"] == 2  # 125 endpoints, 100 per page


@pytest.mark.parametrize("window_hours", [24, 4])
def test_endpoint_instance_hours(seeded_spoke, api_calls, extraction_time, window_hours):
    window_start = extraction_time - timedelta(hours=window_hours)
    expected = sum(
        sum(endpoint.variant_counts)
        * (extraction_time - max(endpoint.created, window_start)).total_seconds()
        / 3600
        for endpoint in seeded_spoke.endpoints
        if endpoint.status == "InService"
    )

    value = _single_value(
        _compute("EndpointInstanceHours", api_calls, extraction_time, window_hours=window_hours)
    )

    assert value == pytest.approx(expected)


def test_notebook_instances_in_service(seeded_spoke, api_calls, extraction_time):
    expected = seeded_spoke.notebook_statuses.count("InService")

    value = _single_value(_compute("NotebookInstancesInService", api_calls, extraction_time))

    assert value == expected > 100
    assert api_calls.calls["ListNotebookInstances"] == 2


def test_model_packages_pending_approval_include_versioned_packages(
    seeded_spoke, api_calls, extraction_time
):
    expected = seeded_spoke.model_package_statuses.count("PendingManualApproval")

    value = _single_value(_compute("ModelPackagesPendingApproval", api_calls, extraction_time))

    assert value == expected > 100
    assert api_calls.calls["ListModelPackages"] == 2


@pytest.mark.parametrize("window_hours", [24, 72])
def test_failed_pipeline_executions(seeded_spoke, api_calls, extraction_time, window_hours):
    expected = sum(
        execution.status == "Failed"
        and _in_window(execution.last_modified, extraction_time, window_hours)
        for execution in seeded_spoke.pipeline_executions
    )

    value = _single_value(
        _compute("FailedPipelineExecutions", api_calls, extraction_time, window_hours=window_hours)
    )

    assert value == expected
    assert api_calls.calls["Search:PipelineExecution"] == 2  # 110 failed, 100 per page


def test_ssm_parameter_value(seeded_spoke, api_calls, extraction_time):
    datapoints = _compute(
        "SsmParameterValue",
        api_calls,
        extraction_time,
        parameter_name="/churn/model/quality-threshold",
    )

    assert _single_value(datapoints) == 0.87
    assert datapoints[0].dimensions == {"ParameterName": "/churn/model/quality-threshold"}


def test_ssm_parameter_that_is_not_a_number_is_an_error_naming_it(
    seeded_spoke, api_calls, extraction_time
):
    api_calls.session.client("ssm").put_parameter(Name="/team/owner", Value="alice", Type="String")

    with pytest.raises(ValueError, match=r"/team/owner .*'alice'.*expected a finite number"):
        _compute("SsmParameterValue", api_calls, extraction_time, parameter_name="/team/owner")


def test_every_metric_of_one_extraction_shares_each_listing(
    seeded_spoke, api_calls, extraction_time
):
    extraction = Extraction(api_calls.session, now=extraction_time)
    for name, args in [
        ("TotalCompletedTrainingJobs", {}),
        ("CompletedTrainingJobs24h", {}),
        ("FailedTrainingJobs", {"window_hours": 48}),
        ("BillableTrainingSeconds", {}),
        ("NumberEndPointsInService", {}),
        ("EndpointInstanceHours", {}),
    ]:
        build_metric(name, args).compute(extraction)

    assert api_calls.calls == {"Search:TrainingJob": 3, "Search:Endpoint": 2}
    assert set(extraction.fetch_counts.values()) == {1}
