"""Contracts that spokes, the hub, enrollment and users depend on (docs/architecture.md §4).

Everything here is stable: event sources and detail types, bus names, SSM parameter paths and the
JSON Schemas of the metric and refresh events. Runtime packages import this module, so it must stay
free of AWS clients and heavy imports.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Final

# Event identity. v1 (the sample's) and v2 metric events share source and detail-type; the
# detail's SchemaVersion tells them apart.
METRIC_EVENT_SOURCE: Final = "metric_extractor"
METRIC_EVENT_DETAIL_TYPE: Final = "metric_extractor"
REFRESH_EVENT_SOURCE: Final = "metric_fetch"
REFRESH_EVENT_DETAIL_TYPE: Final = "metric_fetch"
METRIC_EVENT_SCHEMA_VERSION: Final = 2

# Dedicated buses, so we never rewrite the account's default bus policy.
HUB_BUS_NAME: Final = "dsdash-hub"
SPOKE_BUS_NAME: Final = "dsdash"
# The hub's on-demand refresh topic: spoke stacks in the organization subscribe their extractor
# to it, so reaching a spoke costs the hub no per-spoke rule (docs/architecture.md §7).
REFRESH_TOPIC_NAME: Final = "dsdash-refresh"

# EventBridge limits (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html).
PUT_EVENTS_MAX_ENTRIES: Final = 10
PUT_EVENTS_MAX_ENTRY_BYTES: Final = 256 * 1024
MAX_TARGETS_PER_RULE: Final = 5
DEFAULT_RULES_PER_BUS_QUOTA: Final = 300
BUS_POLICY_MAX_CHARS: Final = 10_240

# The longest string (value or key) a metric event's detail may carry, Metadata included. The hub
# quarantines an event holding a longer one; the spoke truncates (values) or drops (keys) the
# Metadata fields that exceed it before sending, so one verbose field never costs a whole event.
# The schemas' own limits (dimension values 256, error messages 1024) are stricter where they apply.
EVENT_MAX_STRING_CHARS: Final = 1024
# The numbers the hub can store (DynamoDB's number type): 0, or a magnitude in this range. The
# spoke reports a value outside it as an error instead of sending an event the hub must refuse.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number
EVENT_NUMBER_MIN_MAGNITUDE: Final = Decimal("1E-130")
EVENT_NUMBER_MAX_MAGNITUDE: Final = Decimal("9.9999999999999999999999999999999999999E+125")

# Names the connection actions give to what they manage, and the stacks grant IAM on. Defined once:
# if the IAM prefix and the runtime's names drift, AWS answers AccessDenied and moto would not.
REFRESH_FANOUT_RULE_PREFIX: Final = "dsdash-refresh-fanout-"
FORWARD_METRICS_RULE_PREFIX: Final = "dsdash-forward-metrics-to-"
ORGANIZATION_STATEMENT_ID: Final = "dsdash-organization"
ACCOUNT_STATEMENT_ID_PREFIX: Final = "dsdash-account-"

# Identifier syntax, checked alike by every unit (`runtime_common.identifiers`) and by the spoke
# template's parameters (AllowedPattern). `[0-9]`, not `\d`: Python's `\d` also matches non-ASCII
# digits. The event schemas spell the account id the same way (a test keeps them equal).
ACCOUNT_ID_PATTERN: Final = r"^[0-9]{12}$"
REGION_NAME_PATTERN: Final = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"

# SSM parameter layout.
MONITORS_PREFIX: Final = "/monitors/"
MONITORED_PROJECTS_PREFIX: Final = "/monitored_projects/"


def monitor_parameter_name(hub_name: str) -> str:
    """The spoke-side parameter that names its hub; its value is the hub account id."""
    return f"{MONITORS_PREFIX}{hub_name}"


def monitored_account_parameter_name(project: str, environment: str, account_id: str) -> str:
    """The hub-side parameter for one enrolled spoke account; its value is the account id."""
    return f"{MONITORED_PROJECTS_PREFIX}{project}/{environment}/{account_id}"


def hub_bus_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:events:{region}:{account_id}:event-bus/{HUB_BUS_NAME}"


def refresh_topic_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:sns:{region}:{account_id}:{REFRESH_TOPIC_NAME}"


def spoke_bus_arn(partition: str, region: str, account_id: str) -> str:
    return f"arn:{partition}:events:{region}:{account_id}:event-bus/{SPOKE_BUS_NAME}"


SCHEMA_FILES: Final = {
    "metric-event-v1": "metric_event_v1.schema.json",
    "metric-event-v2": "metric_event_v2.schema.json",
    "refresh-event": "refresh_event.schema.json",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return one of the checked-in event schemas by its short name (see SCHEMA_FILES)."""
    try:
        file_name = SCHEMA_FILES[name]
    except KeyError:
        raise KeyError(
            f"unknown schema {name!r}; known: {', '.join(sorted(SCHEMA_FILES))}"
        ) from None
    text = resources.files(__package__).joinpath(file_name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# Names our stacks give to resources other units address by name. IAM names are global per
# account, so the ones a per-region spoke stack creates carry the region.
HUB_INGEST_FUNCTION_NAME: Final = "dsdash-hub-ingest"
HUB_REFRESH_FUNCTION_NAME: Final = "dsdash-hub-refresh"
HUB_CONNECTION_FUNCTION_NAME: Final = "dsdash-hub-connection"
SPOKE_EXTRACTOR_FUNCTION_NAME: Final = "dsdash-spoke-extractor"
SPOKE_CONNECTION_FUNCTION_NAME: Final = "dsdash-spoke-connection"
# A spoke is stale when it sent no data for more than this many refresh periods: `dsdash status`
# and the hub's platform-health function (its SpokesStale metric) judge alike.
STALE_AFTER_REFRESH_PERIODS: Final = 2

# Alerts (docs/architecture.md §7, "Alerts"): the hub's platform-health function and the topics
# notifications go to (the org stack's carries the enrollment failure alarm).
HUB_HEALTH_FUNCTION_NAME: Final = "dsdash-hub-health"
HUB_ALERT_TOPIC_NAME: Final = "dsdash-hub-alerts"
ORG_ALERT_TOPIC_NAME: Final = "dsdash-org-alerts"

# The hub table has a fixed name: the enrollment function (org stack account) and the CLI address
# it across accounts, where CloudFormation exports cannot reach.
HUB_TABLE_NAME: Final = "dsdash-hub-metrics"

# Org stack functions (in the management account, or the StackSets delegated administrator).
ORG_RECONCILER_FUNCTION_NAME: Final = "dsdash-org-reconciler"
ORG_ENROLLMENT_FUNCTION_NAME: Final = "dsdash-org-enrollment"
# Delegated mode: the bus in the delegated administrator's account that receives the lifecycle
# events the management account forwards (its policy admits only the management account).
ORG_LIFECYCLE_BUS_NAME: Final = "dsdash-org-lifecycle"

# The org stack's enrollment function runs as this role; the hub and spoke enrollment roles
# trust exactly it, in the org stack's account.
ENROLLMENT_FUNCTION_ROLE_NAME: Final = "dsdash-org-enrollment"
HUB_ENROLLMENT_ROLE_NAME: Final = "dsdash-hub-enrollment"
HUB_REFRESH_FORWARDER_ROLE_NAME: Final = "dsdash-hub-refresh-forwarder"


def spoke_enrollment_role_name(region: str) -> str:
    return f"dsdash-spoke-enrollment-{region}"


def spoke_metric_forwarder_role_name(region: str) -> str:
    return f"dsdash-spoke-metric-forwarder-{region}"
