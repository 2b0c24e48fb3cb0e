"""The hub's single DynamoDB table: key layout shared by the CDK stack, the runtime and the CLI.

One table serves every access pattern of docs/architecture.md §4 with Query, never Scan:

| pattern                                   | key condition                                    |
|-------------------------------------------|--------------------------------------------------|
| history of one series                     | PK = SERIES#<project>#<env>#<metric>#<dims>, SK = <time>#<account>#<region> |
| latest values of a project                | PK = LATEST#<project> (one item per series, account and region)   |
| latest values of everything               | one Query per project (cost ∝ number of series, not history)      |
| spoke registry and freshness              | PK = SPOKE (one item per account)                                 |
| the sample's (MetricName, ExtractionDate) | GSI `ByMetricName`: MetricName, ExtractionDate                    |
| quarantined events                        | PK = QUARANTINE#<yyyy-mm-dd>, SK = <received-at>#<SQS message id> |
| alert state of a project                  | PK = ALERT#<project>, SK = <alert>#<env>#<account>#<region>#<dims> |
| alert notifications of a day              | PK = ALERTLOG#<yyyy-mm-dd>, SK = <at>#<project>#<alert>#<account>#<region>#<dims>#<state> |

Project and environment names are restricted by the config schema to `[a-z0-9-]`, and metric
names to `[A-Za-z0-9_]`, so `#` is a safe separator. Dimension keys are canonicalised (sorted
`name=value` joined by `,`; `-` when there are none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

PARTITION_KEY: Final = "PK"
SORT_KEY: Final = "SK"
TTL_ATTRIBUTE: Final = "ExpiresAt"

BY_METRIC_NAME_INDEX: Final = "ByMetricName"
BY_METRIC_NAME_PARTITION_KEY: Final = "MetricName"
BY_METRIC_NAME_SORT_KEY: Final = "ExtractionDate"

SPOKE_REGISTRY_PARTITION: Final = "SPOKE"
NO_DIMENSIONS: Final = "-"


def dimension_key(dimensions: Mapping[str, str]) -> str:
    if not dimensions:
        return NO_DIMENSIONS
    return ",".join(f"{name}={dimensions[name]}" for name in sorted(dimensions))


def series_partition_key(
    project: str, environment: str, metric_name: str, dimensions: Mapping[str, str]
) -> str:
    return f"SERIES#{project}#{environment}#{metric_name}#{dimension_key(dimensions)}"


def datapoint_sort_key(extraction_date: str, account_id: str, region: str) -> str:
    """History is ordered by time; account and region keep apart two spokes of one environment,
    and the regions of one spoke (each region's stack extracts its own values)."""
    return f"{extraction_date}#{account_id}#{region}"


def latest_partition_key(project: str) -> str:
    return f"LATEST#{project}"


def latest_sort_key(
    environment: str,
    metric_name: str,
    dimensions: Mapping[str, str],
    account_id: str,
    region: str,
) -> str:
    return f"{environment}#{metric_name}#{dimension_key(dimensions)}#{account_id}#{region}"


def spoke_sort_key(account_id: str) -> str:
    return account_id


def quarantine_partition_key(received_day: str) -> str:
    """`received_day` is the UTC date (YYYY-MM-DD) the hub received the event."""
    return f"QUARANTINE#{received_day}"


def quarantine_sort_key(received_at: str, message_id: str) -> str:
    """Keyed by the SQS message, not the event id: hostile events may share an event id, and a
    redelivered message must rewrite its own record rather than add another."""
    return f"{received_at}#{message_id}"


def alert_state_partition_key(project: str) -> str:
    return f"ALERT#{project}"


def alert_state_sort_key(
    alert_name: str,
    environment: str,
    account_id: str,
    region: str,
    dimensions: Mapping[str, str],
) -> str:
    """One state per alert, spoke, region and series. Alert names are `[a-z0-9-]`."""
    return f"{alert_name}#{environment}#{account_id}#{region}#{dimension_key(dimensions)}"


def alert_log_partition_key(day: str) -> str:
    """`day` is the UTC date (YYYY-MM-DD) of the extraction that changed the alert's state."""
    return f"ALERTLOG#{day}"


def alert_log_sort_key(at: str, state_sort_key: str, project: str, new_state: str) -> str:
    """Keyed by what changed (not when it was written), so a retried write rewrites one item."""
    return f"{at}#{project}#{state_sort_key}#{new_state}"


def create_table_request(table_name: str) -> dict[str, Any]:
    """The DynamoDB CreateTable request for this layout: what the hub stack's table is, for the
    places that create it without CloudFormation (tests, benchmarks). A test compares it with
    the synthesized template, so the two cannot drift."""
    string = "S"
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": string}
            for name in (
                PARTITION_KEY,
                SORT_KEY,
                BY_METRIC_NAME_PARTITION_KEY,
                BY_METRIC_NAME_SORT_KEY,
            )
        ],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_METRIC_NAME_INDEX,
                "KeySchema": [
                    {"AttributeName": BY_METRIC_NAME_PARTITION_KEY, "KeyType": "HASH"},
                    {"AttributeName": BY_METRIC_NAME_SORT_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def create_table(client: Any, table_name: str) -> None:
    """Create the table and its TTL through the DynamoDB API (tests and benchmarks)."""
    client.create_table(**create_table_request(table_name))
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
