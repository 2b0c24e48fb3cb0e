"""EventBridge delivery for the sandbox, at moto's backend seam.

moto gaps this module fills (docs/architecture.md §6), by replacing `moto.events.models.Rule.send_to_targets`:

- A rule with a Lambda target makes moto raise NotImplementedError. Here the target function runs
  through the sandbox's `LambdaRuntime` (queued, as EventBridge invokes asynchronously).
- Bus policies are not enforced by moto. Here a delivery to another account's bus is dropped unless
  the receiving bus's policy admits the sender (`sandbox.bus_policy`), as AWS would drop it.
- moto re-puts a forwarded event as the receiver, rewriting `account`. Here the sender's `account`
  is kept, which is what the hub's ingest authenticates.
- moto formats events for SQS targets with a default input template that drops `account` (and
  other envelope fields). AWS delivers the whole event; here the whole event is sent.
- moto ignores a rule's DISABLED state. Here disabled rules deliver nothing.
- moto matches a rule without an event pattern (a schedule rule) against every event put on its
  bus (it reads "no pattern" as "match everything"), so the reconcile and sweep schedules ran
  on every event, and a hub schedule on the default bus ran on each of the original sample's
  events. In AWS a schedule rule only fires on its schedule: here it never matches a put event,
  and the sandbox runs schedules by invoking their functions.
- moto accepts any number of targets per rule. Here `PutTargets` beyond EventBridge's hard limit of
  5 targets per rule fails with LimitExceededException, as in AWS.

Because the seam is the backend, it works for in-process clients (`mock_aws`) and for clients of a
served moto endpoint in the same process alike. Matching stays moto's own
`EventPattern.matches_event`, which is faithful.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError
from moto.events.models import EventsBackend, Rule, events_backends
from moto.organizations.models import organizations_backends
from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn

from contracts import MAX_TARGETS_PER_RULE
from sandbox.bus_policy import permits_put_events
from sandbox.lambda_runtime import LambdaRuntime
from sandbox.moto_patching import MotoPatches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DroppedDelivery:
    rule_arn: str
    target_arn: str
    event_id: str
    reason: str


@dataclass
class DeliveryLog:
    """What the sandbox did with events: deliveries made and deliveries dropped, with reasons."""

    delivered: int = 0
    dropped: list[DroppedDelivery] = field(default_factory=list)


def organization_id_of(account_id: str) -> str | None:
    """The organization moto has the account in, or None when it is outside any organization."""
    master = organizations_backends.master_accounts.get(account_id)
    if master is not None:
        master_id, partition = master
        organization = organizations_backends[master_id][partition].org
        return organization.id if organization else None
    backend = organizations_backends[account_id]["aws"]
    return backend.org.id if backend.org else None


def _aws_event_time(event: dict[str, Any]) -> dict[str, Any]:
    # moto keeps `time` as epoch seconds; AWS delivers ISO 8601 with a Z suffix.
    delivered = copy.deepcopy(event)
    if isinstance(delivered.get("time"), int | float):
        delivered["time"] = datetime.fromtimestamp(delivered["time"], UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return delivered


class LimitExceededException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


@dataclass
class EventDelivery:
    runtime: LambdaRuntime
    log: DeliveryLog = field(default_factory=DeliveryLog)

    def send_to_targets(self, rule: Rule, event: Any) -> None:
        if rule.state == "DISABLED" or not rule.event_pattern.matches_event(event):
            return
        if rule.scheduled_expression and not rule.event_pattern.dump():
            # A schedule rule only runs on its schedule, never on events put on the bus.
            return
        for target in rule.targets:
            self._deliver(rule, target, event)

    def _deliver(self, rule: Rule, target: dict[str, Any], event: Any) -> None:
        arn = parse_arn(target["Arn"])
        if arn.service == "lambda":
            function = lambda_backends[arn.account][arn.region].get_function(target["Arn"])
            self.runtime.invoke_async(function, _aws_event_time(event))
            self.log.delivered += 1
        elif arn.service == "events" and arn.resource_type == "event-bus":
            self._deliver_to_bus(rule, target, event)
        elif arn.service == "sqs":
            # The whole event, as EventBridge sends it (a constant `Input` replaces it).
            body = target.get("Input") or json.dumps(_aws_event_time(event))
            sqs_backends[arn.account][arn.region].send_message(
                arn.resource_id,
                body,
                group_id=target.get("SqsParameters", {}).get("MessageGroupId"),
            )
            self.log.delivered += 1
        else:
            # CloudWatch Logs and archives: moto's own delivery is faithful enough.
            single_target_rule = copy.copy(rule)
            single_target_rule.targets = [target]
            _MOTO_SEND_TO_TARGETS(single_target_rule, copy.deepcopy(event))
            self.log.delivered += 1

    def _drop(self, rule: Rule, target: dict[str, Any], event: dict[str, Any], reason: str) -> None:
        logger.info("sandbox: dropped event %s at %s: %s", event.get("id"), target["Arn"], reason)
        self.log.dropped.append(
            DroppedDelivery(rule.arn, target["Arn"], str(event.get("id")), reason)
        )

    def _deliver_to_bus(self, rule: Rule, target: dict[str, Any], event: Any) -> None:
        arn = parse_arn(target["Arn"])
        sender_account = rule.account_id
        receiving_backend: EventsBackend = events_backends[arn.account][arn.region]
        bus = receiving_backend.event_buses.get(arn.resource_id)
        if bus is None:
            self._drop(rule, target, event, f"bus {target['Arn']} does not exist")
            return
        if arn.account != sender_account and not permits_put_events(
            bus.policy, sender_account, organization_id_of(sender_account)
        ):
            self._drop(
                rule,
                target,
                event,
                f"the policy of {target['Arn']} does not admit account {sender_account}",
            )
            return
        forwarded = copy.deepcopy(event)
        # The sender's `account` and `region` are kept: that is what AWS delivers (an event's
        # envelope names where it was put), and what ingest checks a v2 Region against.
        self.log.delivered += 1
        for receiving_rule in list(bus.rules.values()):
            receiving_rule.send_to_targets(forwarded)


# moto's own delivery, which the sandbox keeps for the targets it leaves to moto (not a patch's
# memory: `patched_event_delivery` restores through MotoPatches).
_MOTO_SEND_TO_TARGETS = Rule.send_to_targets


@contextmanager
def patched_event_delivery(delivery: EventDelivery) -> Iterator[EventDelivery]:
    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        delivery.send_to_targets(self, original_event)

    def put_targets(
        self: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict[str, Any]]
    ) -> None:
        bus = self._get_event_bus(self._normalize_event_bus_arn(event_bus_arn))
        rule = bus.rules.get(name)
        if rule is not None:
            target_ids = {existing["Id"] for existing in rule.targets} | {t["Id"] for t in targets}
            if len(target_ids) > MAX_TARGETS_PER_RULE:
                raise LimitExceededException(
                    f"The requested resource exceeds the maximum number allowed: rule {name} would "
                    f"have {len(target_ids)} targets (limit {MAX_TARGETS_PER_RULE})."
                )
        patches.original(EventsBackend, "put_targets")(self, name, event_bus_arn, targets)

    patches = MotoPatches(
        [(Rule, "send_to_targets", send_to_targets), (EventsBackend, "put_targets", put_targets)]
    )
    with patches.applied():
        yield delivery
