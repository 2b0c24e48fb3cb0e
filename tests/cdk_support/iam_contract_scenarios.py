"""The code paths the IAM contract exercises, per function, on moto.

Each scenario runs real handlers with the environment the synthesized template gives the
function, under an `ApiCallRecorder`. They aim at breadth of API use (every branch that calls AWS
differently), not at asserting behaviour: the unit test folders do that.

- hub: ingest (stored, replayed, quarantined, freshness with errors, an alert firing and
  recovering), refresh (schedule, scoped), platform health;
- spoke: the extractor with every metric of the project that has the most, on a seeded spoke;
- organization (tests/enrollment's SimulatedOrganization: management, hub, spokes): enrollment
  by StackInstance event, replay, new account + asynchronous reconcile, operator enroll and
  offboard, DELETE, MoveAccount and CloseAccount offboarding, the sweep; the hub and spoke
  connection functions (EBPut, EBRule, Disconnect) run as moto Lambda functions under it; then
  the reconciler directly, for its create, update and delete branches.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from enrollment_support import (
    ENVIRONMENT_TAG,
    PROJECT,
    PROJECT_TAG,
    REGION,
    SimulatedOrganization,
    build_simulated_organization,
    load_event,
)
from hub_runtime_support import (
    ALPHA_DEV_ACCOUNT,
    create_history_stream,
    create_hub_table,
    sqs_batch,
    sqs_record,
    v1_event,
    v2_event,
    with_envelope,
)
from iam_contract_calls import ApiCallRecorder
from iam_contract_grants import StackTemplate
from moto import mock_aws

from contracts import (
    HUB_ALERT_TOPIC_NAME,
    HUB_BUS_NAME,
    HUB_HEALTH_FUNCTION_NAME,
    HUB_INGEST_FUNCTION_NAME,
    HUB_REFRESH_FUNCTION_NAME,
    HUB_TABLE_NAME,
    ORG_ENROLLMENT_FUNCTION_NAME,
    ORG_RECONCILER_FUNCTION_NAME,
    REFRESH_TOPIC_NAME,
    SPOKE_EXTRACTOR_FUNCTION_NAME,
)
from enrollment.enrollment_function.runtime.handler import handler as enrollment_handler
from hub_stack.ingest.runtime import ingest
from hub_stack.platform_health.runtime import platform_health
from hub_stack.refresh.runtime import refresh
from hub_stack.runtime.store import HubStore
from hub_stack.spoke_registry.records import SpokeState
from org_stack.reconciler.runtime.handler import handler as reconciler_handler
from runtime_common.timestamps import format_timestamp
from sandbox import moto_stacksets
from sandbox.lambda_runtime import patched_lambda_invoke
from sandbox.moto_sagemaker_search import paginated_search
from sandbox.seed import plan_spoke_activity, seed_spoke_activity
from spoke_stackset.extractor.runtime import extractor

# The process's own credentials (tests/conftest.py) are moto's default account.
MOTO_DEFAULT_ACCOUNT = "123456789012"
# An enrolled churn-prediction/prod spoke: the example config has alerts for it.
CHURN_PROD_ACCOUNT = "555555555555"


@dataclass
class ScenarioAccounts:
    """moto account id -> the account id the templates use for the same role in the design."""

    aliases: dict[str, str] = field(default_factory=dict)


@contextmanager
def _function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        yield


@contextmanager
def fake_aws_environment() -> Iterator[None]:
    """tests/conftest.py's safety net, for fixtures wider than one test."""
    with _function_environment(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
    ):
        yield


# --- hub -------------------------------------------------------------------------------------


def _hub_with_alpha_dev_enrolled(environment: Mapping[str, str]) -> tuple[boto3.Session, HubStore]:
    """The hub table and history stream the hub functions read and write (inside `mock_aws`),
    with alpha/dev's spoke enrolled."""
    session = boto3.Session(region_name=REGION)
    create_hub_table(session.client("dynamodb"), environment["TABLE_NAME"])
    # The history delivery stream, named by the contract as the stack names it.
    create_history_stream(session)
    store = HubStore(environment["TABLE_NAME"], session=session)
    store.registry.set_spoke_state(
        ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED, project_name="alpha", environment="dev"
    )
    return session, store


def exercise_hub_ingest(recorder: ApiCallRecorder, hub: StackTemplate) -> None:
    environment = hub.function_environment(HUB_INGEST_FUNCTION_NAME)
    with mock_aws(), _function_environment(environment):
        session, store = _hub_with_alpha_dev_enrolled(environment)
        # Recent events: older than the retention they would be quarantined, not stored.
        extracted = datetime.now(UTC) - timedelta(hours=1)
        batch = sqs_batch(
            [
                sqs_record(v2_event(ExtractionDate=format_timestamp(extracted)), "v2"),
                sqs_record(v1_event(ExtractionDate=format_timestamp(extracted)), "v1"),
                sqs_record(v2_event(ProjectName="beta"), "spoofed"),
                sqs_record("not json", "garbage"),
            ]
        )
        with recorder.acting_as(HUB_INGEST_FUNCTION_NAME):
            ingest.handler(batch, None)
            ingest.handler(batch, None)  # a redelivery: the conditional writes that lose
        # An alert of the example config (churn-prediction/prod approval-backlog) fires, then
        # recovers: the alert state writes and the topic's Publish.
        store.registry.set_spoke_state(
            CHURN_PROD_ACCOUNT,
            SpokeState.ENROLLED,
            project_name="churn-prediction",
            environment="prod",
        )
        topic_arn = session.client("sns").create_topic(Name=HUB_ALERT_TOPIC_NAME)["TopicArn"]
        backlog = [
            sqs_record(_churn_backlog_event(extracted - timedelta(minutes=minutes), pending), name)
            for minutes, pending, name in ((20, 9, "breach"), (10, 0, "recovery"))
        ]
        with (
            _function_environment({"ALERT_TOPIC_ARN": topic_arn}),
            recorder.acting_as(HUB_INGEST_FUNCTION_NAME),
        ):
            ingest.handler(sqs_batch(backlog), None)


def _churn_backlog_event(extracted: datetime, pending: int) -> dict[str, Any]:
    event = v2_event(
        ProjectName="churn-prediction",
        Environment="prod",
        AccountId=CHURN_PROD_ACCOUNT,
        ExtractionDate=format_timestamp(extracted),
        Metrics=[
            {
                "MetricName": "ModelPackagesPendingApproval",
                "MetricValue": pending,
                "Unit": "Count",
                "Dimensions": {},
                "Metadata": {},
            }
        ],
    )
    return with_envelope(event, account=CHURN_PROD_ACCOUNT)


def exercise_hub_health(recorder: ApiCallRecorder, hub: StackTemplate) -> None:
    environment = hub.function_environment(HUB_HEALTH_FUNCTION_NAME)
    with mock_aws(), _function_environment(environment):
        _, store = _hub_with_alpha_dev_enrolled(environment)
        store.registry.set_spoke_state(CHURN_PROD_ACCOUNT, SpokeState.FAILED, reason="EBPut failed")
        with recorder.acting_as(HUB_HEALTH_FUNCTION_NAME):
            platform_health.handler({}, None)


def exercise_hub_dashboard_publisher(recorder: ApiCallRecorder, hub: StackTemplate) -> None:
    """The publisher's first run (no page yet: it renders, reading through Athena as deployed),
    then a run that finds the page current. moto's Athena runs no SQL and answers empty results:
    the calls are the ones a deployed hub makes."""
    from contracts.dashboard_page import DASHBOARD_PUBLISHER_FUNCTION_NAME
    from hub_stack.dashboard_publisher.runtime import publisher

    environment = hub.function_environment(DASHBOARD_PUBLISHER_FUNCTION_NAME)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        create_hub_table(session.client("dynamodb"), environment["TABLE_NAME"])
        # The template's bucket name is a Ref; here the contract's name, which the stack uses.
        bucket = "dsdash-dashboard-iam-contract"
        session.client("s3").create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        session.client("athena").create_work_group(Name="dsdash")
        HubStore(environment["TABLE_NAME"], session=session).registry.set_spoke_state(
            ALPHA_DEV_ACCOUNT, SpokeState.ENROLLED, project_name="alpha", environment="dev"
        )
        environment = {**environment, "DASHBOARD_BUCKET": bucket}
        with (
            _function_environment(environment),
            recorder.acting_as(DASHBOARD_PUBLISHER_FUNCTION_NAME),
        ):
            publisher.handler({}, None)
            publisher.handler({}, None)


def exercise_hub_refresh(recorder: ApiCallRecorder, hub: StackTemplate) -> None:
    environment = hub.function_environment(HUB_REFRESH_FUNCTION_NAME)
    assert "REFRESH_TOPIC_ARN" in environment, "organization mode publishes to the refresh topic"
    with mock_aws():
        boto3.client("events", region_name=REGION).create_event_bus(Name=HUB_BUS_NAME)
        # The template's value is a Ref to the topic; here the topic moto created.
        topic = boto3.client("sns", region_name=REGION).create_topic(Name=REFRESH_TOPIC_NAME)
        environment = {**environment, "REFRESH_TOPIC_ARN": topic["TopicArn"]}
        with _function_environment(environment), recorder.acting_as(HUB_REFRESH_FUNCTION_NAME):
            refresh.handler(None, None)
            refresh.handler({"ProjectName": "fraud-detection", "Environment": "prod"}, None)


# --- spoke -------------------------------------------------------------------------------------


def exercise_spoke_extractor(recorder: ApiCallRecorder, spoke: StackTemplate) -> None:
    environment = spoke.function_environment(SPOKE_EXTRACTOR_FUNCTION_NAME)
    with mock_aws(), paginated_search(), _function_environment(environment):
        session = boto3.Session(region_name=REGION)
        session.client("events").create_event_bus(Name=environment["SPOKE_BUS_NAME"])
        plan = plan_spoke_activity(MOTO_DEFAULT_ACCOUNT, REGION, seed=7, job_name_prefix="fraud-")
        seed_spoke_activity(session, plan, datetime.now(UTC))
        refresh_event = {"detail": {"RefreshId": "iam-contract"}}
        with recorder.acting_as(SPOKE_EXTRACTOR_FUNCTION_NAME):
            # No Lambda context: the extractor then asks STS who it is, as in the sandbox.
            extractor.handler(refresh_event, None)


# --- organization ------------------------------------------------------------------------------


def _handle(org: SimulatedOrganization, event: Mapping[str, Any]) -> dict[str, Any]:
    return enrollment_handler(event, None, session=org.management, sleep=org.sleeps.append)


def _account_event(file_name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(file_name))
    event["detail"]["requestParameters"].update(changes)
    return event


def exercise_organization(
    recorder: ApiCallRecorder,
    *,
    hub_account_id: str,
    management_account_id: str,
    spoke_account_id: str,
) -> ScenarioAccounts:
    """Enrollment (with the connection functions and a reconcile under it), then the reconciler."""
    accounts = ScenarioAccounts()
    with (
        mock_aws(),
        moto_stacksets.service_managed_stacksets(),
        pytest.MonkeyPatch.context() as patch,
    ):
        org = build_simulated_organization("organization", patch)
        accounts.aliases[org.hub_account_id] = hub_account_id
        accounts.aliases[org.management_account_id] = management_account_id
        with patched_lambda_invoke(org.runtime):
            first, second, third = org.spokes
            newcomer = org.create_account("newcomer", org.ou_ids["prod"])
            for spoke in (first, second, third, newcomer):
                accounts.aliases[spoke] = spoke_account_id
            creation = copy.deepcopy(load_event("org_CreateAccountResult.json"))
            creation["detail"]["serviceEventDetails"]["createAccountStatus"]["accountId"] = newcomer

            # Built before acting: the helper reads the StackSet with the test's own keys.
            created = {spoke: org.stack_instance_event(spoke) for spoke in org.spokes}
            deleted = org.stack_instance_event(third, action="DELETE")

            managed = copy.deepcopy(load_event("controltower_CreateManagedAccount.json"))
            status = managed["detail"]["serviceEventDetails"]["createManagedAccountStatus"]
            status["account"]["accountId"] = newcomer
            status["organizationalUnit"]["organizationalUnitId"] = org.ou_ids["prod"]

            with recorder.acting_as(ORG_ENROLLMENT_FUNCTION_NAME):
                for event in created.values():
                    _handle(org, event)
                _handle(org, created[first])  # a replay: nothing to change
                _handle(org, creation)  # not a spoke yet: left to the reconciler's own rule
                _handle(org, managed)  # Control Tower's: pending, and a reconcile started
                org.runtime.drain()  # the reconcile it started (this account only)
            org.deploy_spoke_stack(newcomer)
            with recorder.acting_as(ORG_ENROLLMENT_FUNCTION_NAME):
                _handle(
                    org,
                    {
                        "dsdash": "enroll",
                        "account_id": newcomer,
                        "project": PROJECT,
                        "environment": "prod",
                    },
                )
                _handle(org, {"dsdash": "offboard", "account_id": newcomer, "reason": "contract"})
                _handle(org, deleted)
            org.move_account(second, org.root_id)
            with recorder.acting_as(ORG_ENROLLMENT_FUNCTION_NAME):
                _handle(
                    org,
                    _account_event(
                        "org_MoveAccount.json",
                        accountId=second,
                        sourceParentId=org.ou_ids["dev"],
                        destinationParentId=org.root_id,
                    ),
                )
                _handle(org, _account_event("org_CloseAccount.json", accountId=first))
            # A failed spoke, so the sweep has something to look at (it walks the tree).
            HubStore(HUB_TABLE_NAME, org.hub).registry.set_spoke_state(second, SpokeState.FAILED)
            with recorder.acting_as(ORG_ENROLLMENT_FUNCTION_NAME):
                _handle(org, {"dsdash": "sweep"})

            # The reconciler directly: an environment changes (update), one goes (delete).
            organizations = org.management.client("organizations", region_name="us-east-1")
            organizations.tag_resource(
                ResourceId=org.ou_ids["dev"], Tags=[{"Key": ENVIRONMENT_TAG, "Value": "prod"}]
            )
            with recorder.acting_as(ORG_RECONCILER_FUNCTION_NAME):
                reconciler_handler(None, None, session=org.management, sleep=lambda _: None)
                # An event about one account: that account's path and instances only.
                reconciler_handler(
                    _account_event(
                        "org_MoveAccount.json",
                        accountId=third,
                        sourceParentId=org.root_id,
                        destinationParentId=org.ou_ids["prod"],
                    ),
                    None,
                    session=org.management,
                    sleep=lambda _: None,
                )
            organizations.untag_resource(ResourceId=org.ou_ids["prod"], TagKeys=[PROJECT_TAG])
            with recorder.acting_as(ORG_RECONCILER_FUNCTION_NAME):
                reconciler_handler(None, None, session=org.management, sleep=lambda _: None)
    return accounts
