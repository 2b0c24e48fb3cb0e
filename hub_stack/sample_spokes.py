"""The hub's door for the original sample's spokes: a rule on the account's default bus.

The sample's spokes forward their `metric_extractor` events to the hub account's *default* bus
(the sample's connection function grants each spoke PutEvents there and points a forwarding rule
at it). With `hub.accept_sample_spokes: true` this rule sends those events to the same ingest
queue as the `dsdash-hub` bus's metric rule, so they are validated, authenticated and stored or
quarantined like any other (docs/architecture.md §7, "Spokes of the original sample").

Nothing else on the default bus is touched: the stack adds this one rule and no bus policy. Who
may put events on the default bus stays the operator's decision (the sample's EBPut statements).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

import contracts

SAMPLE_SPOKE_RULE_NAME: Final = "dsdash-sample-spoke-metrics"
SAMPLE_SPOKE_RULE_RETRY_ATTEMPTS: Final = 8


def sample_spoke_metric_rule(
    scope: Construct, *, ingest_queue: sqs.IQueue, dead_letter_queue: sqs.IQueue
) -> events.Rule:
    """The default-bus rule; like the hub bus's rule, what it cannot deliver goes to the DLQ."""
    return events.Rule(
        scope,
        "SampleSpokeMetricEventsToIngestQueue",
        # No event_bus: the account's default bus, where the sample's spokes send.
        rule_name=SAMPLE_SPOKE_RULE_NAME,
        description=(
            "Metric events of the original sample's spokes (default bus), to the ingest queue "
            "(hub.accept_sample_spokes)"
        ),
        event_pattern=events.EventPattern(
            source=[contracts.METRIC_EVENT_SOURCE],
            detail_type=[contracts.METRIC_EVENT_DETAIL_TYPE],
        ),
        targets=[
            targets.SqsQueue(
                ingest_queue,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=SAMPLE_SPOKE_RULE_RETRY_ATTEMPTS,
            )
        ],
    )
