"""First end-to-end proof: the real hub template plus the real ingest handler, in the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from moto import mock_aws
from sandbox_deploy_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    MANAGEMENT_ACCOUNT,
    hub_config,
    session,
    synth_hub_assembly,
)

import contracts
from app import HUB_STACK_ID
from hub_stack.runtime.store import HubStore
from sandbox.cfn_deploy import deploy_cdk_stack
from sandbox.event_delivery import EventDelivery, patched_event_delivery
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke
from sandbox.sqs_pollers import SqsPollers, patched_event_source_mappings

SAMPLE_EVENT = Path(__file__).parent.parent / "events" / "hub_metric_event_v2.json"


def test_a_metric_event_from_an_enrolled_spoke_is_stored_by_the_deployed_hub(
    tmp_path: Path,
) -> None:
    with mock_aws():
        organizations = session(MANAGEMENT_ACCOUNT).client("organizations")
        organization_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
        spoke = organizations.create_account(AccountName="alpha-dev", Email="a@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        assembly = synth_hub_assembly(hub_config(organization_id), tmp_path / "assembly")

        runtime = LambdaRuntime()
        pollers = SqsPollers(runtime)
        with (
            patched_lambda_invoke(runtime),
            patched_event_delivery(EventDelivery(runtime)),
            patched_event_source_mappings(pollers),
        ):
            hub = deploy_cdk_stack(assembly, HUB_STACK_ID, session=session(HUB_ACCOUNT))
            store = HubStore(hub.outputs["TableName"], session(HUB_ACCOUNT))
            store.registry.set_spoke_state(
                spoke, "enrolled", project_name="alpha", environment="dev"
            )

            spoke_events = session(spoke).client("events")
            spoke_events.create_event_bus(Name=contracts.SPOKE_BUS_NAME)
            spoke_events.put_rule(
                Name="to-hub",
                EventBusName=contracts.SPOKE_BUS_NAME,
                EventPattern=json.dumps({"source": [contracts.METRIC_EVENT_SOURCE]}),
            )
            spoke_events.put_targets(
                Rule="to-hub",
                EventBusName=contracts.SPOKE_BUS_NAME,
                Targets=[{"Id": "hub", "Arn": hub.outputs["HubBusArn"]}],
            )
            detail = json.loads(SAMPLE_EVENT.read_text())["detail"]
            detail.update(
                AccountId=spoke,
                ProjectName="alpha",
                Environment="dev",
                Region=HUB_REGION,
                ExtractionDate=datetime.now(UTC).isoformat(),
            )
            response = spoke_events.put_events(
                Entries=[
                    {
                        "Source": contracts.METRIC_EVENT_SOURCE,
                        "DetailType": contracts.METRIC_EVENT_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "EventBusName": contracts.SPOKE_BUS_NAME,
                    }
                ]
            )
            assert response["FailedEntryCount"] == 0
            while runtime.pending or pollers.drain():
                runtime.drain()

        stored = {
            (d.metric_name, float(d.value), d.account_id) for d in store.latest_values("alpha")
        }
        sent = {(m["MetricName"], float(m["MetricValue"]), spoke) for m in detail["Metrics"]}
        assert stored == sent
        assert [r.succeeded for r in runtime.history] == [True]
