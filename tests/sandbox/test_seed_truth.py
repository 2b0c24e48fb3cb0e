"""The sandbox's seeded truth agrees with what the real metric library computes from moto."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from moto import mock_aws

from config.loader import load_config
from metrics.collect import Extraction
from metrics.registry import build_metric
from sandbox.moto_sagemaker_search import paginated_search
from sandbox.seed import expected_datapoints, plan_spoke_activity, seed_spoke_activity

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account: the plain session acts as it


def test_every_configured_metric_reports_the_seeded_truth() -> None:
    config = load_config()
    selections = [s for project in config.projects.values() for s in project.metrics]
    unique = {(s.name, tuple(sorted(s.args.items()))): s for s in selections}.values()
    ssm_names = [str(s.args["parameter_name"]) for s in unique if s.name == "SsmParameterValue"]
    plan = plan_spoke_activity(
        ACCOUNT, REGION, seed=7, ssm_parameter_names=ssm_names, job_name_prefix="fraud-"
    )
    now = datetime.now(UTC)
    with mock_aws(), paginated_search():
        session = boto3.Session(region_name=REGION)
        seed_spoke_activity(session, plan, now)
        extraction = Extraction(session, now=now)
        measured = {}
        for selection in unique:
            for datapoint in build_metric(selection.name, selection.args).compute(extraction):
                key = (selection.name, tuple(sorted(datapoint.dimensions.items())))
                measured[key] = float(datapoint.value)

    expected = expected_datapoints(plan, list(unique))
    assert measured.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(measured[key] - value) < 1e-6, key
    # The plan is varied enough to be a real check, not zeros everywhere.
    assert sum(1 for value in expected.values() if value) >= len(expected) - 2
