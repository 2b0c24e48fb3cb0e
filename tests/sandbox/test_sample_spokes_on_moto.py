"""End to end on moto: spokes wired the original sample's way report to a deployed dsdash hub.

The sample's wiring, as its connection function and README leave it (aws-samples/ds-dashboard):
- in the hub, `/monitored_projects/<Project>/<env>` lists the spoke account ids, and the hub's
  *default* bus grants each of them PutEvents (its EBPut: one statement per account);
- in the spoke, `/monitors/<HubName>` holds the hub account id, and a rule on the spoke's default
  bus forwards `metric_extractor` events to the hub's default bus (its EBRule);
- the spoke's extractor puts one event per metric on its own default bus.

The real hub template is deployed, the sample's spokes are registered by `dsdash adopt`'s code,
and every event travels through the sandbox's event delivery (bus policies enforced) and SQS
pollers to the real ingest handler.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from sandbox_deploy_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    MANAGEMENT_ACCOUNT,
    hub_config,
    session,
    synth_hub_assembly,
)

from app import HUB_STACK_ID
from cli.sample_adoption import plan_adoption, read_sample_parameters, register_spokes
from config.model import DsdashConfig, MetricSelection, ProjectSettings
from hub_stack.runtime.store import HubStore
from sandbox.cfn_deploy import deploy_cdk_stack
from sandbox.event_delivery import EventDelivery, patched_event_delivery
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke
from sandbox.sqs_pollers import SqsPollers, patched_event_source_mappings

pytestmark = pytest.mark.slow

SAMPLE_ENTRIES = Path(__file__).parent.parent / "events" / "sample_put_events_entries.json"
# The sample's own names: its README's hub name, and its connection function's rule name.
SAMPLE_HUB_NAME = "TestHub"
SAMPLE_PROJECT = "Project1"


def sample_hub_config(organization_id: str, *, accept_sample_spokes: bool) -> DsdashConfig:
    config = hub_config(organization_id)
    return dataclasses.replace(
        config,
        hub=dataclasses.replace(config.hub, accept_sample_spokes=accept_sample_spokes),
        projects={
            "fraud-detection": ProjectSettings(
                name="fraud-detection",
                environments=("dev", "prod"),
                metrics=(MetricSelection("NumberEndPointsInService"),),
                aliases=(SAMPLE_PROJECT,),
            )
        },
    )


def wire_the_samples_way(sessions: Mapping[str, boto3.Session], spokes: list[str]) -> None:
    """The sample's SSM parameters, EBPut grants and forwarding rules, hub and spokes."""
    hub_ssm = sessions[HUB_ACCOUNT].client("ssm")
    hub_ssm.put_parameter(
        Name=f"/monitored_projects/{SAMPLE_PROJECT}/dev", Value=",".join(spokes), Type="String"
    )
    hub_events = sessions[HUB_ACCOUNT].client("events")
    for spoke in spokes:
        hub_events.put_permission(
            EventBusName="default", Action="events:PutEvents", Principal=spoke, StatementId=spoke
        )
        sessions[spoke].client("ssm").put_parameter(
            Name=f"/monitors/{SAMPLE_HUB_NAME}", Value=HUB_ACCOUNT, Type="String"
        )
        spoke_events = sessions[spoke].client("events")
        rule_name = f"forwardTo{HUB_ACCOUNT}MetricValues"
        spoke_events.put_rule(
            Name=rule_name,
            EventPattern=json.dumps(
                {"source": ["metric_extractor"], "detail-type": ["metric_extractor"]}
            ),
            State="ENABLED",
        )
        spoke_events.put_targets(
            Rule=rule_name,
            Targets=[
                {
                    "Id": f"{HUB_ACCOUNT}-bus",
                    "Arn": f"arn:aws:events:{HUB_REGION}:{HUB_ACCOUNT}:event-bus/default",
                }
            ],
        )


def extract_the_samples_way(
    spoke_session: boto3.Session, extracted_at: datetime
) -> list[dict[str, Any]]:
    """The sample's four metric events, put on the spoke's default bus one by one; the
    fixture's ExtractionDate is replaced by `extracted_at` in the sample's own naive format,
    so the hub's retention check sees a fresh extraction."""
    naive = extracted_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    client = spoke_session.client("events")
    details = []
    for entry in json.loads(SAMPLE_ENTRIES.read_text(encoding="utf-8")):
        detail = json.loads(entry["Detail"])
        detail["ExtractionDate"] = naive
        response = client.put_events(Entries=[{**entry, "Detail": json.dumps(detail)}])
        assert response["FailedEntryCount"] == 0
        details.append(detail)
    return details


@pytest.mark.parametrize("accept_sample_spokes", [True, False], ids=["accepted", "off"])
def test_spokes_wired_the_samples_way_report_to_a_dsdash_hub(
    tmp_path: Path, accept_sample_spokes: bool
) -> None:
    with mock_aws():
        organizations = session(MANAGEMENT_ACCOUNT).client("organizations")
        organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        spokes = [
            organizations.create_account(AccountName=name, Email=f"{name}@example.com")[
                "CreateAccountStatus"
            ]["AccountId"]
            for name in ("sample-dev-a", "sample-dev-b")
        ]
        config = sample_hub_config(organization_id, accept_sample_spokes=accept_sample_spokes)
        assembly = synth_hub_assembly(config, tmp_path / "assembly")

        runtime = LambdaRuntime()
        pollers = SqsPollers(runtime)
        delivery = EventDelivery(runtime)
        with (
            patched_lambda_invoke(runtime),
            patched_event_delivery(delivery),
            patched_event_source_mappings(pollers),
        ):
            sessions = {account: session(account) for account in (HUB_ACCOUNT, *spokes)}
            hub = deploy_cdk_stack(assembly, HUB_STACK_ID, session=sessions[HUB_ACCOUNT])
            store = HubStore(hub.outputs["TableName"], sessions[HUB_ACCOUNT])
            wire_the_samples_way(sessions, spokes)

            plan = plan_adoption(read_sample_parameters(sessions[HUB_ACCOUNT]), config, {})
            assert plan.problems == ()
            assert register_spokes(store, plan.to_register) == 2

            extracted_at = datetime.now(UTC).replace(tzinfo=None)
            sent = {
                spoke: extract_the_samples_way(sessions[spoke], extracted_at) for spoke in spokes
            }
            while runtime.pending or pollers.drain():
                runtime.drain()

        # The events crossed to the hub's default bus either way: the sample's EBPut admits them.
        assert not delivery.log.dropped
        stored = store.latest_values("fraud-detection")
        if not accept_sample_spokes:
            # Off by default: no rule on the default bus, so ingest never runs and nothing is
            # stored or even quarantined.
            assert runtime.history == []
            assert stored == []
            assert store.quarantine.count() == 0
            return

        assert store.quarantine.count() == 0
        # Every datapoint, under the configured project, with the naive time read as UTC.
        expected_date = extracted_at.isoformat(timespec="milliseconds") + "Z"
        assert sorted(
            (d.account_id, d.environment, d.metric_name, d.value, d.extraction_date) for d in stored
        ) == sorted(
            (spoke, "dev", detail["MetricName"], int(detail["MetricValue"]), expected_date)
            for spoke, details in sent.items()
            for detail in details
        )
        assert len(stored) == 8
        assert runtime.history and all(invocation.succeeded for invocation in runtime.history)
        registry = {record.account_id: record for record in store.spokes_with_freshness()}
        for spoke in spokes:
            assert registry[spoke].last_extraction_date == expected_date
