"""Puts this folder on sys.path (pytest's prepend import mode inserts a conftest's folder), so
the tests of the unit folders below (ingest/, refresh/, platform_health/, dashboard_publisher/,
runtime/) import hub_stack_support and hub_runtime_support by name; and gives the runtime tests
of every hub function the same hub on moto (`hub`, `enrolled_hub`)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    BETA_PROD_ACCOUNT,
    NOW,
    OFFBOARDED_ACCOUNT,
    REGION,
    TABLE_NAME,
    Hub,
    create_history_stream,
    create_hub_table,
)
from moto import mock_aws

from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState


@pytest.fixture
def hub() -> Iterator[Hub]:
    """An empty hub table in moto, and a store on it whose clock is NOW."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        client = session.client("dynamodb")
        create_hub_table(client)
        sleeps: list[float] = []
        store = HubStore(TABLE_NAME, dynamodb_client=client, sleep=sleeps.append, clock=lambda: NOW)
        yield Hub(session, client, store, sleeps, create_history_stream(session))


@pytest.fixture
def enrolled_hub(hub: Hub) -> Hub:
    """Two enrolled spokes (alpha/dev, beta/prod) and one offboarded former alpha/dev spoke."""
    hub.store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED, project_name="alpha", environment="dev"
    )
    hub.store.registry.set_spoke_state(
        BETA_PROD_ACCOUNT, SpokeState.ENROLLED, project_name="beta", environment="prod"
    )
    hub.store.registry.set_spoke_state(
        OFFBOARDED_ACCOUNT,
        SpokeState.OFFBOARDED,
        reason="account closed",
        project_name="alpha",
        environment="dev",
    )
    return hub
