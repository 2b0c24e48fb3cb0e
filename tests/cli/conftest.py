from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from operator_cli_support import (
    NOW,
    REGION,
    FakeTime,
    Hub,
    create_hub_table,
    fill_known_hub,
    known_datapoints,
    upload_history,
)

import contracts
from cli import hub_connection
from config.loader import load_config
from contracts import history_table
from hub_stack.runtime.store import HubStore


@pytest.fixture
def empty_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hub]:
    """The hub table (no item) and its empty history bucket in moto. Every DynamoDB operation
    the CLI makes is recorded, through a botocore before-call hook on the session the CLI opens."""
    operations: list[str] = []
    real_open_session = hub_connection.open_session

    def recording_open_session(*arguments: Any) -> hub_connection.HubSession:
        session = real_open_session(*arguments)

        def record(model: Any, **_: Any) -> None:
            operations.append(model.name)

        session.events.register("before-call.dynamodb", record)
        return session

    monkeypatch.setattr(hub_connection, "open_session", recording_open_session)
    # The duckdb engine's download cache: per test, never the developer's home.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_hub_table(session.client("dynamodb"), contracts.HUB_TABLE_NAME)
        # The hub stack's history bucket (hub_stack.history_query reads it).
        session.client("s3").create_bucket(
            Bucket=history_table.history_bucket_name(load_config().hub.account_id, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        time = FakeTime()
        store = HubStore(contracts.HUB_TABLE_NAME, session, clock=lambda: NOW)
        yield Hub(session, store, time, operations)


@pytest.fixture
def hub(empty_hub: Hub) -> Hub:
    """The hub with the known spokes, datapoints and quarantined events of operator_cli_support;
    the datapoints' history is Parquet in the history bucket, where the query layer reads it."""
    fill_known_hub(empty_hub.store)
    bucket = history_table.history_bucket_name(load_config().hub.account_id, REGION)
    upload_history(empty_hub.session.client("s3"), bucket, known_datapoints())
    return empty_hub
