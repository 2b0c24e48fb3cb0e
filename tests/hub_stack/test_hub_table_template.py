"""CDK assertions on the hub template's table: its fixed name, its design (keys, TTL, no
index) and its protection against loss."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from hub_template_support import organization_hub_template

import contracts
from hub_stack import table_design

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


def test_table_is_on_demand_recoverable_protected_retained_with_ttl_and_no_index(
    template: Template,
) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BillingMode": "PAY_PER_REQUEST",
                    "DeletionProtectionEnabled": True,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "TimeToLiveSpecification": {
                        "AttributeName": table_design.TTL_ATTRIBUTE,
                        "Enabled": True,
                    },
                    "KeySchema": [
                        {"AttributeName": table_design.PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": table_design.SORT_KEY, "KeyType": "RANGE"},
                    ],
                }
            ),
        },
    )
    (table,) = template.find_resources("AWS::DynamoDB::Table").values()
    # History is Parquet (the Glue table serves the sample's MetricName/ExtractionDate pattern):
    # no index doubles every write any more.
    assert "GlobalSecondaryIndexes" not in table["Properties"]
    attribute_types = {
        a["AttributeName"]: a["AttributeType"] for a in table["Properties"]["AttributeDefinitions"]
    }
    assert attribute_types == {
        table_design.PARTITION_KEY: "S",
        table_design.SORT_KEY: "S",
    }


def test_table_has_the_fixed_name_enrollment_and_the_cli_address(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table", {"TableName": contracts.HUB_TABLE_NAME}
    )
