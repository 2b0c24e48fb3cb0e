"""A sandbox Lambda function behaves like one warm execution environment: its invocations share
its role's credentials, so a handler's warm clients (`runtime_common.aws.warm_client`) are made
once, as in AWS, while each function still acts as its own account; and the handlers' default
sessions share the sandbox's service models instead of re-reading them from disk."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from runtime_common.aws import warm_client
from sandbox.botocore_models import SHARED_MODEL_LOADER
from sandbox.credentials import account_credentials
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke
from sandbox.world import SandboxWorld

REGION = "eu-west-1"
HUB = "111111111111"
SPOKE = "222222222222"
SEEN: list[dict[str, Any]] = []


def warm_identity(event: Any, context: Any) -> dict[str, Any]:
    """The handler: which warm STS client it used, and who that client is."""
    sts = warm_client("sts")
    SEEN.append({"client": id(sts), "account": sts.get_caller_identity()["Account"]})
    return {"ok": True}


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    SEEN.clear()
    with mock_aws():
        runtime = LambdaRuntime(allowed_handler_prefixes=("test_lambda_execution_environment.",))
        with patched_lambda_invoke(runtime):
            yield runtime


def _function(account: str, name: str) -> boto3.Session:
    session = account_credentials(account, REGION).session(REGION)
    role = session.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "# the sandbox runs the installed source\n")
    session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="test_lambda_execution_environment.warm_identity",
        Code={"ZipFile": code.getvalue()},
    )
    return session


def test_invocations_of_a_function_reuse_its_warm_clients(runtime: LambdaRuntime) -> None:
    hub = _function(HUB, "ingest")
    spoke = _function(SPOKE, "extractor")
    for session, name in ((hub, "ingest"), (hub, "ingest"), (spoke, "extractor"), (hub, "ingest")):
        session.client("lambda").invoke(FunctionName=name, Payload=b"{}")

    first, second, other, third = SEEN
    assert first["client"] == second["client"] == third["client"]
    assert (first["account"], other["account"]) == (HUB, SPOKE)
    assert other["client"] != first["client"]  # another function: another environment


def test_sessions_inside_the_world_share_its_service_models() -> None:
    def loader() -> Any:
        return botocore.session.get_session().get_component("data_loader")

    # The suite shares the loader for the whole process (tests/conftest.py); this test looks at
    # what the world does on its own.
    SHARED_MODEL_LOADER.uninstall()
    try:
        with SandboxWorld():
            assert loader() is loader()
        assert loader() is not loader()
    finally:
        SHARED_MODEL_LOADER.install()


def test_sessions_do_not_grow_the_shared_loaders_search_paths() -> None:
    # Every boto3.Session appends boto3's data folder to its loader's search paths; on a shared
    # loader, one entry per session would make every model lookup walk a longer list.
    with SandboxWorld():
        for _ in range(5):
            boto3.Session(region_name="eu-west-1").client("sqs")
        paths = botocore.session.get_session().get_component("data_loader").search_paths
        assert len(paths) == len(set(paths)), paths
