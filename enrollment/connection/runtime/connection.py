"""The connection actions, deployed as a Lambda in the hub and in every spoke (docs/architecture.md §1, §4).

Payloads: `{"action": "EBPut"}`, `{"action": "EBRule"}`, `{"action": "Disconnect", "account":
"<12 digits>"}`. Anything else is refused; there is no default action.

- EBPut grants events:PutEvents on our bus to the peers read from SSM: the hub admits its spokes
  (one `aws:PrincipalOrgID` statement, or one statement per account), a spoke admits its hub(s).
- EBRule creates the forwarding rules: spoke -> hub for metric events, and in the hub, with
  `REFRESH_FANOUT=bus-rules` (per-account mode), fan-out rules to every spoke bus for refresh
  events (see `forwarding_rules`). With `REFRESH_FANOUT=topic` (organization mode, set by the hub
  stack) spokes receive refreshes from the hub refresh topic they subscribe to, so the hub's
  EBRule keeps no per-spoke rule: it only deletes fan-out rules left from the bus-rules route.

Cost per action, whatever the number of spokes, in organization mode: hub EBPut reads no
parameter (its one statement names the organization, not the spokes) and hub EBRule lists our
rule prefix once (docs/architecture.md §7). Per-account mode reads every peer, and is bounded by
the bus policy size (about 50 spokes) anyway.
- Disconnect removes exactly one account's statement and targets, and nothing else. In the hub
  a removed target leaves a free slot in its fan-out rule; the next EBRule fills it or, when
  rules are surplus, repacks and deletes them. Disconnect does not read SSM: the enrollment
  function deletes the account's parameters first, otherwise the next EBPut/EBRule reconnects it.
  In organization mode the hub's policy has no per-account statement to remove; an account that
  leaves the organization loses access by the condition itself.

Every action is idempotent and returns a `ConnectionReport` of what it changed; a second run
reports no change. Quotas (bus policy size, rules per bus) are checked before the first write.

Code that already holds a session for the account (tests, the sandbox, the CLI) calls
`grant_put_events`, `connect_forwarding_rules`, `disconnect_account` or `run_action` directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import boto3
from aws_lambda_powertools import Logger

from contracts import (
    DEFAULT_RULES_PER_BUS_QUOTA,
    MAX_TARGETS_PER_RULE,
    hub_bus_arn,
    spoke_bus_arn,
)
from enrollment.connection.runtime.bus_policy import (
    ORGANIZATION_STATEMENT_SID,
    PolicyChanges,
    Statement,
    account_statement,
    account_statement_sid,
    current_statements,
    describe_bus,
    organization_statement,
    reconcile_statements,
    remove_statement,
)
from enrollment.connection.runtime.connection_errors import (
    InvalidAccountId,
    InvalidConnectionSettings,
    UnknownConnectionAction,
)
from enrollment.connection.runtime.forwarding_rules import (
    FANOUT_RULE_PREFIX,
    FORWARD_RULE_PREFIX,
    RuleChanges,
    delete_rule_with_targets,
    forward_rule_name,
    hub_fanout_rules,
    read_bus_rules,
    reconcile_rules,
    remove_account_targets,
    spoke_bus_target_id,
    spoke_forward_rules,
)
from enrollment.connection.runtime.ssm_topology import (
    read_hub_accounts,
    read_spoke_accounts,
    validate_account_id,
)
from runtime_common.aws import client
from runtime_common.identifiers import is_account_id, region_name, region_names
from runtime_common.settings import from_variable, one_of, read_settings, whole_number

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_events import EventBridgeClient

logger = Logger(service="dsdash-connection")

Unit = Literal["hub", "spoke"]
# Same values as config.model.BusPolicyMode; not imported so the Lambda asset needs no config.
BusPolicyMode = Literal["organization", "per-account"]
ActionName = Literal["EBPut", "EBRule", "Disconnect"]
# How the hub's refresh reaches spokes; see the module docstring.
RefreshFanout = Literal["topic", "bus-rules"]

VALID_ACTIONS: Final[tuple[ActionName, ...]] = ("EBPut", "EBRule", "Disconnect")
UNITS: Final[tuple[Unit, ...]] = ("hub", "spoke")
BUS_POLICY_MODES: Final[tuple[BusPolicyMode, ...]] = ("organization", "per-account")
REFRESH_FANOUTS: Final[tuple[RefreshFanout, ...]] = ("topic", "bus-rules")


def _positive_whole_number(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise ValueError(f"{text!r} must be positive")
    return value


# The account is checked apart, by the one account-id check (runtime_common.identifiers).
ROLE_ARN_PATTERN: Final = re.compile(r"^arn:[a-z-]+:iam::(?P<account>[^:]*):role/[\w+=,.@/-]+$")
ORGANIZATION_ID_PATTERN: Final = re.compile(r"^o-[a-z0-9]{10,32}$")


def _role_arn(text: str) -> str:
    match = ROLE_ARN_PATTERN.match(text)
    if match is None or not is_account_id(match["account"]):
        raise ValueError(f"{text!r} is not an IAM role ARN")
    return text


def _organization_id(text: str) -> str:
    if not ORGANIZATION_ID_PATTERN.match(text):
        raise ValueError(f"{text!r} is not an organization id (o-...)")
    return text


@dataclass(frozen=True)
class ConnectionSettings:
    """What the function needs to know about where it runs, from its environment
    (`runtime_common.settings`; the hub and spoke stacks write it with `environment_of`)."""

    unit: Unit = from_variable("DSDASH_UNIT", parse=one_of(UNITS))
    bus_name: str = from_variable("BUS_NAME")
    forwarder_role_arn: str = from_variable("FORWARDER_ROLE_ARN", parse=_role_arn)
    # hub only
    bus_policy_mode: BusPolicyMode = from_variable(
        "BUS_POLICY_MODE", parse=one_of(BUS_POLICY_MODES), default="organization"
    )
    organization_id: str | None = from_variable(
        "ORGANIZATION_ID", parse=_organization_id, default=None
    )
    spoke_regions: tuple[str, ...] = from_variable("SPOKE_REGIONS", parse=region_names, default=())
    # spoke only
    hub_region: str | None = from_variable("HUB_REGION", parse=region_name, default=None)
    # Adjustable in Service Quotas; after an increase, set `hub.rules_per_bus_quota` in the
    # config and deploy: the hub stack passes it as RULES_PER_BUS_QUOTA.
    rules_per_bus_quota: int = from_variable(
        "RULES_PER_BUS_QUOTA", parse=_positive_whole_number, default=DEFAULT_RULES_PER_BUS_QUOTA
    )
    # hub only: how refresh events reach spokes (REFRESH_FANOUT).
    refresh_fanout: RefreshFanout = from_variable(
        "REFRESH_FANOUT", parse=one_of(REFRESH_FANOUTS), default="bus-rules"
    )

    def __post_init__(self) -> None:
        # What one unit needs and the other does not; each value's own form is its parser's.
        if self.unit == "hub":
            if self.bus_policy_mode == "organization" and not self.organization_id:
                raise InvalidConnectionSettings(
                    "ORGANIZATION_ID", "is not set, which the organization bus policy mode needs"
                )
            if not self.spoke_regions:
                raise InvalidConnectionSettings("SPOKE_REGIONS", "is empty in the hub")
        elif not self.hub_region:
            raise InvalidConnectionSettings("HUB_REGION", "is not set in a spoke")


@dataclass(frozen=True)
class ConnectionRequest:
    action: ActionName
    account: str | None = None


@dataclass(frozen=True)
class ConnectionReport:
    """What one action changed. Statements are named by Sid, rules by name, targets as
    "<rule>/<target id>". `peers` are the accounts the action connected (EBPut, EBRule) or
    disconnected (Disconnect)."""

    action: ActionName
    unit: Unit
    bus_name: str
    peers: tuple[str, ...] = ()
    statements_added: tuple[str, ...] = ()
    statements_updated: tuple[str, ...] = ()
    statements_removed: tuple[str, ...] = ()
    rules_created: tuple[str, ...] = ()
    rules_updated: tuple[str, ...] = ()
    rules_deleted: tuple[str, ...] = ()
    targets_put: tuple[str, ...] = ()
    targets_removed: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(
            (
                self.statements_added,
                self.statements_updated,
                self.statements_removed,
                self.rules_created,
                self.rules_updated,
                self.rules_deleted,
                self.targets_put,
                self.targets_removed,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: lists instead of tuples, plus `changed`."""
        document: dict[str, Any] = {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }
        document["changed"] = self.changed
        return document


def parse_request(payload: Any) -> ConnectionRequest:
    """Validate the payload's action (and account for Disconnect) before anything else runs."""
    valid = ", ".join(VALID_ACTIONS)
    if not isinstance(payload, Mapping):
        raise UnknownConnectionAction(
            f"connection payload must be an object with an 'action' ({valid}); got {payload!r}"
        )
    action = payload.get("action")
    if action is None:
        raise UnknownConnectionAction(
            f"connection payload {dict(payload)!r} has no 'action'; valid actions: {valid}"
        )
    if action not in VALID_ACTIONS:
        raise UnknownConnectionAction(
            f"unknown connection action {action!r}; valid actions: {valid}"
        )
    if action == "Disconnect":
        account = payload.get("account")
        if not isinstance(account, str):
            raise InvalidAccountId(
                f"Disconnect needs 'account', a 12-digit account id as a string; got {account!r}"
            )
        return ConnectionRequest(
            action="Disconnect", account=validate_account_id(account, what="Disconnect account")
        )
    return ConnectionRequest(action=cast(ActionName, action))


def grant_put_events(
    session: boto3.Session | None, settings: ConnectionSettings
) -> ConnectionReport:
    """EBPut: make our bus policy admit exactly our peers; keep statements that are not ours."""
    events: EventBridgeClient = client(session, "events")
    organization_mode = settings.unit == "hub" and settings.bus_policy_mode == "organization"
    if organization_mode:
        # The one statement names the organization, not the spokes: reading every
        # /monitored_projects parameter here made each enrollment cost O(spokes) calls.
        peers: tuple[str, ...] = ()
    elif settings.unit == "hub":
        peers = read_spoke_accounts(session).accounts
    else:
        peers = read_hub_accounts(session).accounts
    bus = describe_bus(events, settings.bus_name)

    desired: dict[str, Statement]
    if organization_mode:
        organization_id = cast(str, settings.organization_id)
        desired = {ORGANIZATION_STATEMENT_SID: organization_statement(bus, organization_id)}
        purpose = f"the accounts of organization {organization_id}"
    else:
        desired = {
            account_statement_sid(account): account_statement(bus, account) for account in peers
        }
        kind = "spoke" if settings.unit == "hub" else "hub"
        purpose = f"{len(peers)} {kind} account(s), one statement per account,"
    changes = reconcile_statements(events, bus, desired, purpose=purpose)
    return _report("EBPut", settings, peers, policy=changes)


def connect_forwarding_rules(
    session: boto3.Session | None, settings: ConnectionSettings
) -> ConnectionReport:
    """EBRule: spoke -> hub metric forwarding, or hub -> spokes refresh fan-out."""
    events: EventBridgeClient = client(session, "events")
    if settings.unit == "hub" and settings.refresh_fanout == "topic":
        return _retire_fanout_rules(events, settings)
    if settings.unit == "hub":
        peers = read_spoke_accounts(session).accounts
        bus = describe_bus(events, settings.bus_name)
        targets = [
            {
                "Id": spoke_bus_target_id(account, region),
                "Arn": spoke_bus_arn(bus.partition, region, account),
                "RoleArn": settings.forwarder_role_arn,
            }
            for account in peers
            for region in sorted(settings.spoke_regions)
        ]
        bus_rules = read_bus_rules(events, bus.name, FANOUT_RULE_PREFIX)
        desired = hub_fanout_rules(
            bus_rules=bus_rules, hub_account_id=bus.account_id, spoke_bus_targets=targets
        )
        purpose = (
            f"fanning out refresh events to {len(targets)} spoke bus(es) ({len(peers)} "
            f"account(s) x {len(settings.spoke_regions)} region(s), at most "
            f"{MAX_TARGETS_PER_RULE} per rule)"
        )
    else:
        peers = read_hub_accounts(session).accounts
        bus = describe_bus(events, settings.bus_name)
        hub_region = cast(str, settings.hub_region)
        bus_rules = read_bus_rules(events, bus.name, FORWARD_RULE_PREFIX)
        desired = spoke_forward_rules(
            spoke_account_id=bus.account_id,
            hub_accounts=peers,
            hub_bus_arn_for={hub: hub_bus_arn(bus.partition, hub_region, hub) for hub in peers},
            forwarder_role_arn=settings.forwarder_role_arn,
        )
        purpose = f"forwarding metric events to {len(peers)} hub(s)"
    changes = reconcile_rules(
        events,
        bus_name=bus.name,
        bus_rules=bus_rules,
        desired=desired,
        rules_per_bus_quota=settings.rules_per_bus_quota,
        purpose=purpose,
    )
    return _report("EBRule", settings, peers, rules=changes)


def _retire_fanout_rules(
    events: EventBridgeClient, settings: ConnectionSettings
) -> ConnectionReport:
    """Hub EBRule on the topic route: spokes subscribe to the hub refresh topic themselves, so
    no rule is per spoke. Fan-out rules left from the bus-rules route would refresh their spokes
    twice; they are emptied and deleted. One ListRules call when there are none."""
    rules = read_bus_rules(events, settings.bus_name, FANOUT_RULE_PREFIX, name_prefix=True)
    changes = RuleChanges()
    for name in sorted(rules.owned):
        retired = delete_rule_with_targets(
            events, bus_name=settings.bus_name, rule=rules.owned[name]
        )
        changes.deleted.extend(retired.deleted)
        changes.targets_removed.extend(retired.targets_removed)
    return _report("EBRule", settings, (), rules=changes)


def disconnect_account(
    session: boto3.Session | None, settings: ConnectionSettings, account_id: str
) -> ConnectionReport:
    """Disconnect: remove `account_id`'s permission statement and its rule targets only.

    Hub: its spoke-bus targets leave the fan-out rules (the rules stay; EBRule repacks).
    Spoke (`account_id` is a hub): its forwarding rule is deleted.
    """
    validate_account_id(account_id, what="Disconnect account")
    events: EventBridgeClient = client(session, "events")
    bus = describe_bus(events, settings.bus_name)

    sid = account_statement_sid(account_id)
    statement_present = any(stmt.get("Sid") == sid for stmt in current_statements(bus))
    removed = (sid,) if statement_present and remove_statement(events, bus.name, sid) else ()

    if settings.unit == "hub":
        bus_rules = read_bus_rules(events, bus.name, FANOUT_RULE_PREFIX)
        rule_changes = remove_account_targets(
            events, bus_name=bus.name, bus_rules=bus_rules, account_id=account_id
        )
    else:
        bus_rules = read_bus_rules(events, bus.name, FORWARD_RULE_PREFIX)
        forward_rule = bus_rules.owned.get(forward_rule_name(account_id))
        rule_changes = (
            delete_rule_with_targets(events, bus_name=bus.name, rule=forward_rule)
            if forward_rule is not None
            else RuleChanges()
        )
    return _report(
        "Disconnect",
        settings,
        (account_id,),
        policy=PolicyChanges(removed=removed),
        rules=rule_changes,
    )


def run_action(
    session: boto3.Session | None, settings: ConnectionSettings, payload: Any
) -> ConnectionReport:
    """Validate `payload` and run its action."""
    request = parse_request(payload)
    if request.action == "EBPut":
        return grant_put_events(session, settings)
    if request.action == "EBRule":
        return connect_forwarding_rules(session, settings)
    return disconnect_account(session, settings, cast(str, request.account))


def handler(event: Any, context: LambdaContext | None) -> dict[str, Any]:
    """Lambda entry point; returns the report as a dict. Errors propagate, so the caller
    (the enrollment function) sees a failed invocation with the reason."""
    parse_request(event)  # a bad payload is reported before the settings are even read
    settings = read_settings(ConnectionSettings, os.environ, error=InvalidConnectionSettings)
    report = run_action(None, settings, event)
    logger.info("connection action finished", extra={"report": report.to_dict()})
    return report.to_dict()


def _report(
    action: ActionName,
    settings: ConnectionSettings,
    peers: tuple[str, ...],
    *,
    policy: PolicyChanges | None = None,
    rules: RuleChanges | None = None,
) -> ConnectionReport:
    policy = policy or PolicyChanges()
    rules = rules or RuleChanges()
    return ConnectionReport(
        action=action,
        unit=settings.unit,
        bus_name=settings.bus_name,
        peers=peers,
        statements_added=policy.added,
        statements_updated=policy.updated,
        statements_removed=policy.removed,
        rules_created=tuple(rules.created),
        rules_updated=tuple(rules.updated),
        rules_deleted=tuple(rules.deleted),
        targets_put=tuple(rules.targets_put),
        targets_removed=tuple(rules.targets_removed),
    )
