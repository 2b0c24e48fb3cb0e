from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from spoke_runtime_support import REGION, TEST_METRICS, CapturedSpoke, create_captured_spoke

from metrics import registry


@pytest.fixture(autouse=True)
def test_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test metrics in a copy of the registry that is thrown away after the test,
    so the catalog's registry-wide tests never see them. The built-in catalog is not loaded:
    these tests are about the extractor, and must not depend on the real metrics."""
    monkeypatch.setattr(registry, "metric_module_names", lambda: ())
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    for metric_class in TEST_METRICS:
        registry.register_metric(metric_class)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def spoke(aws_credentials: None) -> Iterator[CapturedSpoke]:
    with mock_aws():
        yield create_captured_spoke(boto3.Session(region_name=REGION))
