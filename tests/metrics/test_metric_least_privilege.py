"""Least privilege, proven with moto's IAM enforcement.

Each metric runs under a role that holds exactly its declared (resolved) statements and must
succeed; with any one declared action removed it must fail with AccessDenied, so every declared
action is needed. Roles are created and assumed first; enforcement then starts with
`set_initial_no_auth_action_count(0)` around the computation only.
"""

from __future__ import annotations

from datetime import datetime
from io import StringIO
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import set_initial_no_auth_action_count
from ruamel.yaml import YAML

from metrics.base import Datapoint, IamStatement, Metric
from metrics.collect import Extraction
from metrics.registry import all_metric_classes, build_metric

METRICS = all_metric_classes()
ACCESS_DENIED_CODES = {"AccessDenied", "AccessDeniedException"}


def _example_metric(name: str) -> Metric:
    """The metric as its docstring example configures it (the seeded spoke has its data)."""
    document = YAML(typ="safe").load(StringIO(METRICS[name].example()))
    (entry,) = [
        e for e in document["metrics"] if e == name or (isinstance(e, dict) and e["name"] == name)
    ]
    return build_metric(name, entry.get("args") if isinstance(entry, dict) else None)


@set_initial_no_auth_action_count(0)
def _compute_with_iam_enforced(
    metric: Metric, session: boto3.Session, now: datetime
) -> list[Datapoint]:
    return list(metric.compute(Extraction(session, now=now)))


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_computes_with_exactly_its_declared_permissions(
    name, small_spoke, role_session, extraction_time
):
    metric = _example_metric(name)
    session = role_session(f"{name}-exact", metric.resolved_permissions())

    datapoints = _compute_with_iam_enforced(metric, session, extraction_time)

    assert datapoints, f"{name} produced no datapoint on a spoke that has its data"


def _declared_actions() -> list[tuple[str, str]]:
    return [
        (name, action)
        for name, metric in sorted(METRICS.items())
        for statement in metric.permissions
        for action in statement.actions
    ]


@pytest.mark.parametrize(("name", "removed_action"), _declared_actions())
def test_every_declared_action_is_needed(
    name, removed_action, small_spoke, role_session, extraction_time
):
    metric = _example_metric(name)
    reduced = tuple(
        IamStatement(
            tuple(action for action in statement.actions if action != removed_action),
            statement.resources,
        )
        for statement in metric.resolved_permissions()
    )
    session = role_session(f"{name}-reduced", reduced)

    with pytest.raises(ClientError) as denied:
        _compute_with_iam_enforced(metric, session, extraction_time)

    error: dict[str, Any] = denied.value.response["Error"]
    assert error["Code"] in ACCESS_DENIED_CODES
    assert removed_action in error["Message"]


def test_ssm_parameter_value_cannot_read_another_parameter(
    small_spoke, role_session, extraction_time
):
    other = build_metric("SsmParameterValue", {"parameter_name": "/churn/model/quality-threshold"})
    granted = build_metric("SsmParameterValue", {"parameter_name": "/churn/model/other"})
    session = role_session("ssm-other-parameter", granted.resolved_permissions())

    with pytest.raises(ClientError) as denied:
        _compute_with_iam_enforced(other, session, extraction_time)

    assert denied.value.response["Error"]["Code"] in ACCESS_DENIED_CODES


def test_moto_enforces_iam_for_every_service_the_metrics_use(small_spoke, role_session):
    # Guards the tests above: if moto stopped enforcing a service, "removing an action fails"
    # would have to be proven some other way.
    session = role_session("no-permissions", ())
    services = {action.split(":")[0] for _, action in _declared_actions()}

    @set_initial_no_auth_action_count(0)
    def denied_services() -> set[str]:
        denied = set()
        calls = {
            "sagemaker": lambda: session.client("sagemaker").search(Resource="TrainingJob"),
            "ssm": lambda: session.client("ssm").get_parameter(
                Name="/churn/model/quality-threshold"
            ),
        }
        for service in services:
            try:
                calls[service]()
            except ClientError as error:
                if error.response["Error"]["Code"] in ACCESS_DENIED_CODES:
                    denied.add(service)
        return denied

    assert denied_services() == services
