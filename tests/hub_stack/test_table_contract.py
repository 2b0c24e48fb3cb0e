"""The hub table that tests and benchmarks create through the API is the one the stack creates."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import contracts
from config.loader import load_config
from hub_stack import table_design


def test_create_table_request_matches_the_synthesized_hub_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDK_VALIDATION", "false")
    from hub_stack.stack import HubStack

    app = cdk.App()
    stack = HubStack(app, "TableContract", config=load_config())
    [table] = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table").values()
    synthesized = table["Properties"]
    request = table_design.create_table_request(contracts.HUB_TABLE_NAME)

    assert synthesized["TableName"] == request["TableName"]
    assert synthesized["BillingMode"] == request["BillingMode"]
    assert sorted(synthesized["AttributeDefinitions"], key=str) == sorted(
        request["AttributeDefinitions"], key=str
    )
    assert synthesized["KeySchema"] == request["KeySchema"]
    # No index: history (and the sample's MetricName/ExtractionDate pattern) is the Glue table's.
    assert "GlobalSecondaryIndexes" not in synthesized
    assert "GlobalSecondaryIndexes" not in request
    assert synthesized["TimeToLiveSpecification"] == {
        "AttributeName": table_design.TTL_ATTRIBUTE,
        "Enabled": True,
    }


def test_latest_items_of_a_project_spread_over_its_shards_and_stay_put() -> None:
    """The per-spoke latest item's partition comes from the spoke (account, region), never from
    the project alone: a project's burst lands on every shard, which a project read queries."""
    spokes = [(f"{100000000000 + n}", region) for n in range(200) for region in ("eu-west-1",)]
    partitions = {
        table_design.latest_key("alpha", "dev", account, region)[table_design.PARTITION_KEY]
        for account, region in spokes
    }
    assert partitions == set(table_design.latest_partition_keys("alpha"))
