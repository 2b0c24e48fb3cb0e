"""The hub's single DynamoDB table: key layout shared by the CDK stack, the runtime and the CLI.

One table serves every access pattern of docs/architecture.md §4 with Query, never Scan:

| pattern                                   | key condition                                    |
|-------------------------------------------|--------------------------------------------------|
| latest values of a project                | PK = LATEST#<project>#<shard> for each of LATEST_SHARDS shards; one item per spoke (environment, account, region) holding every series' latest value |
| latest values of everything               | LATEST_SHARDS Queries per project (cost ∝ number of spokes, not history) |
| spoke registry and freshness              | PK = SPOKE (one item per account); ingest reads only the senders of a batch (BatchGetItem) |
| quarantined events                        | PK = QUARANTINE#<yyyy-mm-dd>, SK = <received-at>#<SQS message id> |
| alert state of a project                  | PK = ALERT#<project>, SK = <alert>#<env>#<account>#<region>#<dims> |
| alert notifications of a day              | PK = ALERTLOG#<yyyy-mm-dd>, SK = <at>#<project>#<alert>#<account>#<region>#<dims>#<state> |

History is not in this table: it is Parquet in the history bucket, described by the Glue table of
`contracts.history_table`, which also serves the sample's (MetricName, ExtractionDate) access
pattern (docs/architecture.md §7, "Hub data plane (issue 10)").

Why a sharded project key for latest values: `dsdash query --latest`, the dashboard and alerts
read a whole project's latest values, so the key must be addressable by project; but one key per
project would take a refresh burst of a large project (2,000 spokes in a minute) on one partition.
The shard is a stable hash of (account, region), so a spoke's item never moves, a project's burst
spreads over LATEST_SHARDS partitions, and a project read is LATEST_SHARDS Queries.

Project and environment names are restricted by the config schema to `[a-z0-9-]`, and metric
names to `[A-Za-z0-9_]`, so `#` is a safe separator. Dimension keys are canonicalised (sorted
`name=value` joined by `,`; `-` when there are none).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

PARTITION_KEY: Final = "PK"
SORT_KEY: Final = "SK"
TTL_ATTRIBUTE: Final = "ExpiresAt"

# Partitions a project's latest items are spread over (see the module docstring). Each partition
# takes 1,000 write units a second; at about 3 units per spoke item, 8 shards absorb a burst of
# ~2,600 spokes a second in one project. Changing it re-homes every latest item: it is a constant.
LATEST_SHARDS: Final = 8

SPOKE_REGISTRY_PARTITION: Final = "SPOKE"
NO_DIMENSIONS: Final = "-"


def dimension_key(dimensions: Mapping[str, str]) -> str:
    if not dimensions:
        return NO_DIMENSIONS
    return ",".join(f"{name}={dimensions[name]}" for name in sorted(dimensions))


def series_name(metric_name: str, dimensions: Mapping[str, str]) -> str:
    """A series within one spoke's latest item: `<metric>#<dims>` (the item holds the rest)."""
    return f"{metric_name}#{dimension_key(dimensions)}"


def latest_shard(account_id: str, region: str) -> int:
    """Stable across processes and Python versions (not `hash()`, which is salted per process)."""
    digest = hashlib.sha256(f"{account_id}#{region}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % LATEST_SHARDS


def latest_partition_key(project: str, shard: int) -> str:
    return f"LATEST#{project}#{shard}"


def latest_partition_keys(project: str) -> list[str]:
    """Every partition holding a project's latest items: what a project read queries."""
    return [latest_partition_key(project, shard) for shard in range(LATEST_SHARDS)]


def latest_sort_key(environment: str, account_id: str, region: str) -> str:
    """One item per spoke: environment, account and region (each region's stack extracts its own
    values)."""
    return f"{environment}#{account_id}#{region}"


def latest_key(project: str, environment: str, account_id: str, region: str) -> dict[str, str]:
    return {
        PARTITION_KEY: latest_partition_key(project, latest_shard(account_id, region)),
        SORT_KEY: latest_sort_key(environment, account_id, region),
    }


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
            {"AttributeName": name, "AttributeType": string} for name in (PARTITION_KEY, SORT_KEY)
        ],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
    }


def create_table(client: Any, table_name: str) -> None:
    """Create the table and its TTL through the DynamoDB API (tests and benchmarks)."""
    client.create_table(**create_table_request(table_name))
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
