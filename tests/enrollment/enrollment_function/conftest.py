from __future__ import annotations

from collections.abc import Iterator

import pytest
from enrollment_support import SimulatedOrganization, build_simulated_organization
from moto import mock_aws

from sandbox import moto_stacksets
from sandbox.lambda_runtime import patched_lambda_invoke


@pytest.fixture(params=["organization", "per-account"])
def any_mode_org(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatedOrganization]:
    """The organization with the hub bus policy in each mode."""
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        org = build_simulated_organization(request.param, monkeypatch)
        with patched_lambda_invoke(org.runtime):
            yield org


@pytest.fixture
def org(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatedOrganization]:
    """The organization with the default (organization) hub bus policy mode."""
    with mock_aws(), moto_stacksets.service_managed_stacksets():
        organization = build_simulated_organization("organization", monkeypatch)
        with patched_lambda_invoke(organization.runtime):
            yield organization
