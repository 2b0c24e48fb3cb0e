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
    [index] = synthesized["GlobalSecondaryIndexes"]
    [expected_index] = request["GlobalSecondaryIndexes"]
    assert {key: index[key] for key in ("IndexName", "KeySchema", "Projection")} == expected_index
    assert synthesized["TimeToLiveSpecification"] == {
        "AttributeName": table_design.TTL_ATTRIBUTE,
        "Enabled": True,
    }
