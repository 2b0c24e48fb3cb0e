from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from operator_cli_support import NOW, REGION, FakeTime, Hub, create_hub_table, fill_known_hub

import contracts
from cli import hub_connection
from hub_stack.runtime.store import HubStore


@pytest.fixture
def empty_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """The hub table (no item) in moto. Every DynamoDB operation the CLI makes is recorded,
    through a botocore before-call hook on the session the CLI opens."""
    operations: list[str] = []
    real_open_session = hub_connection.open_session

    def recording_open_session(*arguments: Any) -> hub_connection.HubSession:
        session = real_open_session(*arguments)

        def record(model: Any, **_: Any) -> None:
            operations.append(model.name)

        session.events.register("before-call.dynamodb", record)
        return session

    monkeypatch.setattr(hub_connection, "open_session", recording_open_session)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_hub_table(session.client("dynamodb"), contracts.HUB_TABLE_NAME)
        time = FakeTime()
        store = HubStore(contracts.HUB_TABLE_NAME, session, clock=lambda: NOW)
        yield Hub(session, store, time, operations)


@pytest.fixture
def hub(empty_hub: Hub) -> Hub:
    """The hub with the known spokes, datapoints and quarantined events of operator_cli_support."""
    fill_known_hub(empty_hub.store)
    return empty_hub
