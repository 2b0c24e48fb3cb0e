"""CDK assertions on the hub template's history storage (docs/architecture.md §7, "Hub data
plane (issue 10)"): the buckets, the Glue table, the Athena workgroup, the Firehose stream
and who may write to them."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template
from hub_stack_support import (
    HUB_ACCOUNT,
    HUB_REGION,
    actions_by_resource,
    render,
    role_logical_id_of_function,
    statements_attached_to_role,
)
from hub_template_support import (
    organization_hub_template,
    per_account_hub_template,
    single_resource,
)

import contracts
from contracts import history_table

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


@pytest.fixture(scope="module")
def per_account_template() -> Template:
    return per_account_hub_template()


def _history_bucket_id(template: Template) -> str:
    name = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    bucket_id, _ = single_resource(template, "AWS::S3::Bucket", {"BucketName": name})
    return bucket_id


@pytest.mark.parametrize(
    ("bucket_name", "expiry_days"),
    [
        (history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION), 400),
        (history_table.athena_results_bucket_name(HUB_ACCOUNT, HUB_REGION), 7),
    ],
)
def test_history_and_results_buckets_are_private_encrypted_tls_only_and_expire(
    template: Template, bucket_name: str, expiry_days: int
) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "BucketName": bucket_name,
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "LifecycleConfiguration": {
                        "Rules": Match.array_with(
                            [
                                Match.object_like(
                                    {"ExpirationInDays": expiry_days, "Status": "Enabled"}
                                )
                            ]
                        )
                    },
                }
            ),
        },
    )
    bucket_id, _ = single_resource(template, "AWS::S3::Bucket", {"BucketName": bucket_name})
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_history_retention_follows_the_config(per_account_template: Template) -> None:
    # retention_days is 30 in this config: the history bucket's objects expire with it.
    template = per_account_template
    bucket_id = _history_bucket_id(template)
    bucket = template.find_resources("AWS::S3::Bucket")[bucket_id]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [rule["ExpirationInDays"] for rule in rules] == [30]


def test_glue_table_is_the_contract_columns_partition_and_projection(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Glue::Database",
        {
            "DatabaseInput": {
                "Name": history_table.GLUE_DATABASE_NAME,
                "Description": Match.any_value(),
            }
        },
    )
    (table,) = template.find_resources("AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    assert table["Properties"]["DatabaseName"] == history_table.GLUE_DATABASE_NAME
    assert table_input["Name"] == history_table.GLUE_TABLE_NAME
    storage = table_input["StorageDescriptor"]
    # The columns, in file order, and the partition key are the contract's (the files' schema
    # and the reader's SQL derive from the same definition).
    assert storage["Columns"] == history_table.glue_columns()
    assert table_input["PartitionKeys"] == history_table.glue_partition_keys()
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    bucket = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    rendered_parameters = render(table_input["Parameters"])
    assert rendered_parameters == history_table.partition_projection_parameters(bucket)
    assert storage["Location"] == f"s3://{bucket}/history/"
    assert rendered_parameters["projection.enabled"] == "true"
    assert not template.find_resources("AWS::Glue::Crawler")


def test_athena_workgroup_enforces_encrypted_results_in_its_own_bucket(template: Template) -> None:
    results = history_table.athena_results_bucket_name(HUB_ACCOUNT, HUB_REGION)
    (workgroup,) = template.find_resources("AWS::Athena::WorkGroup").values()
    configuration = render(workgroup["Properties"]["WorkGroupConfiguration"])
    assert workgroup["Properties"]["Name"] == history_table.ATHENA_WORKGROUP_NAME
    assert configuration["EnforceWorkGroupConfiguration"] is True
    result = configuration["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    results_id, _ = single_resource(template, "AWS::S3::Bucket", {"BucketName": results})
    assert result["OutputLocation"] == f"s3://{results}/results/"
    assert template.find_resources("AWS::S3::Bucket")[results_id]


def test_delivery_stream_converts_json_to_parquet_with_the_glue_table(template: Template) -> None:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    properties = stream["Properties"]
    assert properties["DeliveryStreamName"] == history_table.HISTORY_DELIVERY_STREAM_NAME
    destination = render(properties["ExtendedS3DestinationConfiguration"])
    assert destination["Prefix"] == "history/dt=!{timestamp:yyyy-MM-dd}/"
    assert destination["ErrorOutputPrefix"].startswith("errors/")
    conversion = destination["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "OpenXJsonSerDe" in conversion["InputFormatConfiguration"]["Deserializer"]
    assert conversion["OutputFormatConfiguration"]["Serializer"]["ParquetSerDe"] == {
        "Compression": "SNAPPY"
    }
    schema = conversion["SchemaConfiguration"]
    assert (schema["DatabaseName"], schema["TableName"]) == (
        history_table.GLUE_DATABASE_NAME,
        history_table.GLUE_TABLE_NAME,
    )
    assert destination["BucketARN"] == f"<{_history_bucket_id(template)}.Arn>"
    assert schema["RoleARN"] == destination["RoleARN"]


def test_delivery_role_reads_the_one_glue_table_and_writes_two_prefixes(template: Template) -> None:
    (stream,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    role_id = stream["Properties"]["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    bucket = history_table.history_bucket_name(HUB_ACCOUNT, HUB_REGION)
    glue_resources = {
        r for r, actions in granted.items() if any(a.startswith("glue:") for a in actions)
    }
    assert {r.rsplit(":", 1)[-1] for r in glue_resources} == {
        "catalog",
        f"database/{history_table.GLUE_DATABASE_NAME}",
        f"table/{history_table.GLUE_DATABASE_NAME}/{history_table.GLUE_TABLE_NAME}",
    }
    for resource in glue_resources:
        assert granted[resource] <= {
            "glue:GetTable",
            "glue:GetTableVersion",
            "glue:GetTableVersions",
        }
    object_grants = {r for r, actions in granted.items() if "s3:PutObject" in actions}
    assert object_grants == {
        f"arn:${{AWS::Partition}}:s3:::{bucket}/history/*",
        f"arn:${{AWS::Partition}}:s3:::{bucket}/errors/*",
    }
    every_action = {a for actions in granted.values() for a in actions}
    assert not any(a.endswith("*") for a in every_action), every_action


def test_ingest_function_may_put_records_on_the_history_stream_only(template: Template) -> None:
    role_id = role_logical_id_of_function(template, contracts.HUB_INGEST_FUNCTION_NAME)
    granted = actions_by_resource(statements_attached_to_role(template, role_id))
    (stream_id,) = template.find_resources("AWS::KinesisFirehose::DeliveryStream")
    firehose_grants = {
        r: a for r, a in granted.items() if any(x.startswith("firehose:") for x in a)
    }
    assert firehose_grants == {f"<{stream_id}.Arn>": {"firehose:PutRecordBatch"}}
