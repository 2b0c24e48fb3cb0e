"""Refresh at scale: what the hub holds per spoke, and how far one on-demand refresh reaches.

- `hub_resources_per_spoke` (scheduled path): in the sandbox, the real hub and org stacks are
  deployed and spokes enrolled through the real reconciler, StackSet auto-deployment and
  enrollment (the rollout of `bench.enrollment_scale`). The hub account's resources on the
  scheduled path are counted from what is deployed before and after the rollout: EventBridge
  rules with a schedule or a spoke-bus target, their spoke-bus targets, and EventBridge
  Scheduler schedules. Each spoke's own schedules are counted too, in the spoke accounts.
- `on_demand_reach`: on moto, the hub refresh topic with 10,000 spoke subscriptions (created
  directly in the spokes' accounts, as their stacks do), and the real `emit_refresh` with a
  project scope. The sandbox's SNS delivery (`sandbox.sns_delivery`, which fills moto's
  cross-account gap) hands each subscribed extractor the SNS event; instead of running 10,000
  extractors, each event is read by the extractor's own scope check
  (`spoke_stackset.extractor.runtime.refresh_request`). Reach is the number of spokes the refresh was
  delivered to; `on_demand_extractions` those whose scope check said "extract".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from moto import mock_aws
from moto.sns.models import sns_backends

from bench.call_counting import count_all_calls
from bench.support import BenchmarkResult, stopwatch
from contracts import HUB_BUS_NAME, REFRESH_TOPIC_NAME
from hub_stack.refresh.runtime.refresh import emit_refresh
from sandbox.lambda_runtime import LambdaRuntime
from sandbox.sns_delivery import SnsDelivery, patched_sns_delivery
from spoke_stackset.extractor.runtime.refresh_request import refresh_request_of

REGION: Final = "eu-west-1"
HUB_ACCOUNT: Final = "111111111111"
FULL_REACH_SPOKES: Final = 10_000
QUICK_REACH_SPOKES: Final = 500
# SNS: subscriptions per topic (https://docs.aws.amazon.com/general/latest/gr/sns.html).
SUBSCRIPTIONS_PER_TOPIC_QUOTA: Final = 12_500_000
PROJECT: Final = "fraud"


def spoke_account(index: int) -> str:
    return f"{400000000000 + index:012d}"


def spoke_environment(index: int) -> str:
    return "prod" if index % 2 else "dev"


@dataclass
class RecordingDelivery(SnsDelivery):
    """Hands each subscribed extractor's event to the extractor's own scope check."""

    delivered_to: list[str] = field(default_factory=list)
    extracting: list[str] = field(default_factory=list)

    def deliver_to_function(self, function_arn: str, event: dict[str, Any]) -> None:
        account = function_arn.split(":")[4]
        index = int(account) - 400000000000
        self.delivered_to.append(account)
        why_not = refresh_request_of(event).out_of_scope(
            project=PROJECT, environment=spoke_environment(index), account_id=lambda: account
        )
        if why_not is None:
            self.extracting.append(account)


def on_demand_reach(spokes: int, scope: dict[str, str]) -> dict[str, Any]:
    with mock_aws():
        hub = boto3.Session(region_name=REGION)
        hub.client("events").create_event_bus(Name=HUB_BUS_NAME)
        topic_arn = hub.client("sns").create_topic(Name=REFRESH_TOPIC_NAME)["TopicArn"]
        for index in range(spokes):
            account = spoke_account(index)
            # What each spoke stack's AWS::SNS::Subscription does, in its own account.
            sns_backends[account][REGION].subscribe(
                topic_arn,
                f"arn:aws:lambda:{REGION}:{account}:function:dsdash-spoke-extractor",
                "lambda",
            )
        delivery = RecordingDelivery(LambdaRuntime())
        with (
            patched_sns_delivery(delivery),
            stopwatch() as watch,
            count_all_calls(hub) as calls,
        ):
            emit_refresh(hub, HUB_BUS_NAME, scope, topic_arn=topic_arn)
    return {
        "reach": len(set(delivery.delivered_to)),
        "extractions": len(set(delivery.extracting)),
        "hub_calls": calls.total(),
        "hub_call_names": dict(calls.calls),
        "seconds": watch.seconds,
    }


def run(*, quick: bool = False) -> BenchmarkResult:
    # Imported here: the rollout deploys the CDK app, which the reach measurement does not need.
    from bench.enrollment_rollout import rollout

    result = BenchmarkResult(
        name="refresh",
        title="Refresh: hub resources per spoke (scheduled) and on-demand reach",
    )
    spokes = QUICK_REACH_SPOKES if quick else FULL_REACH_SPOKES
    reach = on_demand_reach(spokes, {"ProjectName": PROJECT})
    one = on_demand_reach(min(spokes, 50), {"AccountId": spoke_account(7)})
    section = result.section(f"On demand, {spokes:,} spokes subscribed to the hub refresh topic")
    section.add(
        "spokes reached by a project-scoped refresh",
        reach["reach"],
        f"{reach['extractions']:,} extract (in scope); hub calls {reach['hub_call_names']}; "
        f"{reach['seconds']:.1f} s",
    )
    section.add(
        "account-scoped refresh: spokes that extract",
        one["extractions"],
        f"of {one['reach']} reached; the others' extractor returns at its scope check",
    )
    section.add(
        "quota named for this route",
        SUBSCRIPTIONS_PER_TOPIC_QUOTA,
        "SNS subscriptions per topic (no rule, target or filter policy per spoke in the hub)",
    )
    result.figures["on_demand_spokes"] = spokes
    result.figures["on_demand_reach"] = reach["reach"]
    result.figures["on_demand_extractions"] = reach["extractions"]
    result.figures["on_demand_hub_calls"] = reach["hub_calls"]
    result.figures["on_demand_account_scope_extractions"] = one["extractions"]
    result.figures["on_demand_quota_subscriptions_per_topic"] = SUBSCRIPTIONS_PER_TOPIC_QUOTA

    if quick:
        result.notes.append(
            "hub_resources_per_spoke: full mode only (it deploys the app into the sandbox)"
        )
        return result
    measured = rollout(quick=quick)
    scheduled = result.section(
        f"Scheduled path, before and after enrolling {measured['enrolled']} spokes (sandbox)"
    )
    per_spoke = (
        (measured["hub_scheduled_after"] - measured["hub_scheduled_before"]) / measured["enrolled"]
        if measured["enrolled"]
        else None
    )
    scheduled.add(
        "hub resources per spoke",
        per_spoke,
        f"{measured['hub_scheduled_before']} before, {measured['hub_scheduled_after']} after",
    )
    scheduled.add(
        "spoke schedules per enrolled spoke",
        measured["spoke_schedules"] / measured["enrolled"] if measured["enrolled"] else None,
        "each spoke's own, with a flexible window",
    )
    result.figures["hub_resources_per_spoke"] = per_spoke
    result.figures["hub_scheduled_resources_before"] = measured["hub_scheduled_before"]
    result.figures["hub_scheduled_resources_after"] = measured["hub_scheduled_after"]
    result.figures["spoke_schedules"] = measured["spoke_schedules"]
    return result
