"""The real synthesized hub template, deployed into moto through CloudFormation as `cdk deploy` would."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from sandbox_deploy_support import HUB_ACCOUNT, hub_config, session, synth_hub_assembly

import contracts
from app import HUB_STACK_ID
from contracts.history_table import COLUMN_NAMES, GLUE_DATABASE_NAME, GLUE_TABLE_NAME
from hub_stack import table_design
from hub_stack.ingest.infrastructure import INGEST_MEMORY_MB
from sandbox.cdk_assets import zip_directory
from sandbox.cfn_deploy import (
    DeployedStack,
    StackDeploymentError,
    delete_stack,
    deploy_cdk_stack,
    deploy_template,
)
from sandbox.lambda_runtime import LambdaRuntime
from sandbox.sqs_pollers import SqsPollers, patched_event_source_mappings

ORGANIZATION_ID = "o-a1b2c3d4e5"


@pytest.fixture(scope="module")
def hub_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_hub_assembly(hub_config(ORGANIZATION_ID), tmp_path_factory.mktemp("hub"))


@pytest.fixture
def pollers() -> Iterator[SqsPollers]:
    with mock_aws():
        sqs_pollers = SqsPollers(LambdaRuntime())
        with patched_event_source_mappings(sqs_pollers):
            yield sqs_pollers


def _deploy(hub_assembly: Path) -> DeployedStack:
    return deploy_cdk_stack(hub_assembly, HUB_STACK_ID, session=session(HUB_ACCOUNT))


def test_hub_bus_carries_the_organization_statement_and_routes_metrics_to_the_queue(
    hub_assembly: Path, pollers: SqsPollers
) -> None:
    deployed = _deploy(hub_assembly)
    assert deployed.status == "CREATE_COMPLETE"
    events = session(HUB_ACCOUNT).client("events")

    bus = events.describe_event_bus(Name=contracts.HUB_BUS_NAME)
    assert deployed.outputs["HubBusArn"] == bus["Arn"]
    [statement] = json.loads(bus["Policy"])["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}

    rules = events.list_rules(EventBusName=contracts.HUB_BUS_NAME)["Rules"]
    [metric_rule] = [r for r in rules if "metric_extractor" in r.get("EventPattern", "")]
    [target] = events.list_targets_by_rule(
        Rule=metric_rule["Name"], EventBusName=contracts.HUB_BUS_NAME
    )["Targets"]
    sqs = session(HUB_ACCOUNT).client("sqs")
    queue = sqs.get_queue_attributes(
        QueueUrl=deployed.outputs["IngestQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert target["Arn"] == queue["QueueArn"]
    dead_letter_arn = sqs.get_queue_attributes(
        QueueUrl=deployed.outputs["DeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"] == dead_letter_arn
    # The queue policy (a resource type moto skips) admits exactly this rule.
    [allow] = [s for s in json.loads(queue["Policy"])["Statement"] if s["Effect"] == "Allow"]
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == metric_rule["Arn"]


def test_hub_table_has_no_index_and_the_retention_ttl_and_history_storage_deploys(
    hub_assembly: Path, pollers: SqsPollers
) -> None:
    deployed = _deploy(hub_assembly)
    dynamodb = session(HUB_ACCOUNT).client("dynamodb")
    table = dynamodb.describe_table(TableName=deployed.outputs["TableName"])["Table"]
    assert not table.get("GlobalSecondaryIndexes")  # history is the Glue table's
    glue = session(HUB_ACCOUNT).client("glue")
    columns = glue.get_table(DatabaseName=GLUE_DATABASE_NAME, Name=GLUE_TABLE_NAME)["Table"]
    assert [c["Name"] for c in columns["StorageDescriptor"]["Columns"]] == list(COLUMN_NAMES)
    firehose = session(HUB_ACCOUNT).client("firehose")
    stream = firehose.describe_delivery_stream(
        DeliveryStreamName=deployed.outputs["HistoryDeliveryStreamName"]
    )["DeliveryStreamDescription"]
    assert stream["DeliveryStreamStatus"] == "ACTIVE"
    ttl = dynamodb.describe_time_to_live(TableName=deployed.outputs["TableName"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": table_design.TTL_ATTRIBUTE,
    }


def test_hub_functions_keep_handler_environment_and_sizing_and_the_mapping_is_polled(
    hub_assembly: Path, pollers: SqsPollers
) -> None:
    deployed = _deploy(hub_assembly)
    lambda_client = session(HUB_ACCOUNT).client("lambda")
    functions = {f["FunctionName"]: f for f in lambda_client.list_functions()["Functions"]}
    ingest = functions[contracts.HUB_INGEST_FUNCTION_NAME]
    assert ingest["Handler"] == "hub_stack.ingest.runtime.ingest.handler"
    assert ingest["Environment"]["Variables"]["TABLE_NAME"] == deployed.outputs["TableName"]
    assert (ingest["Timeout"], ingest["MemorySize"]) == (60, INGEST_MEMORY_MB)
    assert ":role/" in ingest["Role"]
    refresh = functions[contracts.HUB_REFRESH_FUNCTION_NAME]
    assert refresh["Handler"] == "hub_stack.refresh.runtime.refresh.handler"
    assert refresh["Environment"]["Variables"]["HUB_BUS_NAME"] == contracts.HUB_BUS_NAME
    connection = functions[contracts.HUB_CONNECTION_FUNCTION_NAME]
    assert connection["Handler"] == "enrollment.connection.runtime.connection.handler"
    assert connection["Environment"]["Variables"]["ORGANIZATION_ID"] == ORGANIZATION_ID

    [mapping] = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionArn"] == ingest["FunctionArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert [m.function_arn for m in pollers.mappings.values()] == [ingest["FunctionArn"]], (
        "the mapping CloudFormation created is adopted by the sandbox's SQS pollers"
    )
    assert set(deployed.outputs) >= {
        "RefreshFunctionName",
        "ConnectionFunctionName",
        "EnrollmentRoleArn",
    }


def test_lambda_assets_are_uploaded_where_the_template_reads_them(
    hub_assembly: Path, pollers: SqsPollers
) -> None:
    _deploy(hub_assembly)
    template = json.loads((hub_assembly / f"{HUB_STACK_ID}.template.json").read_text())
    [ingest] = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["FunctionName"] == contracts.HUB_INGEST_FUNCTION_NAME
    ]
    code = ingest["Properties"]["Code"]
    body = session(HUB_ACCOUNT).client("s3").get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])
    names = zipfile.ZipFile(io.BytesIO(body["Body"].read())).namelist()
    assert "hub_stack/ingest/runtime/ingest.py" in names


def test_folder_zips_are_reproducible(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.py").write_text("x = 1\n")
    (tmp_path / "a.py").write_text("a = 1\n")
    first = zip_directory(tmp_path)
    (tmp_path / "a.py").touch()  # a newer mtime must not change the archive
    assert zip_directory(tmp_path) == first
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["a.py", "b/x.py"]


def test_redeploy_updates_in_place_and_delete_removes_all_but_retained_resources(
    hub_assembly: Path, pollers: SqsPollers
) -> None:
    first = _deploy(hub_assembly)
    again = _deploy(hub_assembly)
    assert (again.stack_id, again.status) == (first.stack_id, "UPDATE_COMPLETE")
    hub = session(HUB_ACCOUNT)
    assert [b["Name"] for b in hub.client("events").list_event_buses()["EventBuses"]].count(
        contracts.HUB_BUS_NAME
    ) == 1

    assert delete_stack(hub, HUB_STACK_ID) is True
    assert contracts.HUB_BUS_NAME not in [
        b["Name"] for b in hub.client("events").list_event_buses()["EventBuses"]
    ]
    assert hub.client("lambda").list_functions()["Functions"] == []
    # DeletionPolicy Retain: the table (and its history) outlives the stack, as in AWS.
    assert first.outputs["TableName"] in hub.client("dynamodb").list_tables()["TableNames"]
    assert delete_stack(hub, HUB_STACK_ID) is False

    # As in AWS, the retained, named table and history buckets block a new stack until an
    # operator removes them.
    history_bucket = first.outputs["HistoryBucketName"]
    assert history_bucket in [b["Name"] for b in hub.client("s3").list_buckets()["Buckets"]]
    with pytest.raises(StackDeploymentError) as raised:
        _deploy(hub_assembly)
    assert "AWS::DynamoDB::Table" in str(raised.value) or "AWS::S3::Bucket" in str(raised.value)
    dynamodb = hub.client("dynamodb")
    dynamodb.update_table(TableName=first.outputs["TableName"], DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=first.outputs["TableName"])
    for bucket in hub.client("s3").list_buckets()["Buckets"]:
        if bucket["Name"].startswith(("dsdash-history-", "dsdash-athena-results-")):
            hub.client("s3").delete_bucket(Bucket=bucket["Name"])
    redeployed = _deploy(hub_assembly)
    assert redeployed.status == "CREATE_COMPLETE"
    assert redeployed.stack_id != first.stack_id


def test_a_resource_moto_cannot_create_fails_the_stack_naming_it() -> None:
    template = {
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Mystery": {"Type": "AWS::Nowhere::Thing", "Properties": {}},
        }
    }
    with mock_aws():
        hub = session(HUB_ACCOUNT)
        with pytest.raises(StackDeploymentError) as raised:
            deploy_template(json.dumps(template), "broken", session=hub)
        assert "Mystery (AWS::Nowhere::Thing)" in str(raised.value)
        stack = hub.client("cloudformation").describe_stacks(StackName="broken")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_FAILED"
        assert "AWS::Nowhere::Thing" in stack["StackStatusReason"]


def test_gap_handlers_create_resources_moto_lacks_from_the_template_properties() -> None:
    inner = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    template = {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "dsdash"}},
            "Grant": {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "StatementId": "hub",
                    "Action": "events:PutEvents",
                    "Principal": "222222222222",
                },
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {"EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["x"]}},
            },
            "Unnamed": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Value": "v"},
            },
            "Spokes": {
                "Type": "AWS::CloudFormation::StackSet",
                "Properties": {
                    "StackSetName": "spokes",
                    "PermissionModel": "SERVICE_MANAGED",
                    "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
                    "Capabilities": ["CAPABILITY_NAMED_IAM"],
                    "TemplateBody": json.dumps(inner),
                    "Parameters": [{"ParameterKey": "Environment", "ParameterValue": "dev"}],
                },
            },
        },
        "Outputs": {
            "Parameter": {"Value": {"Ref": "Unnamed"}},
            "BusName": {"Value": {"Ref": "Bus"}},
            "StackSetId": {"Value": {"Ref": "Spokes"}},
        },
    }
    with mock_aws():
        account = session(HUB_ACCOUNT)
        deployed = deploy_template(json.dumps(template), "gaps", session=account)
        assert deployed.outputs["BusName"] == "dsdash"
        assert (
            account.client("ssm").get_parameter(Name=deployed.outputs["Parameter"])["Parameter"][
                "Value"
            ]
            == "v"
        )
        [statement] = json.loads(
            account.client("events").describe_event_bus(Name="dsdash")["Policy"]
        )["Statement"]
        assert (statement["Sid"], statement["Principal"]) == (
            "hub",
            {"AWS": "arn:aws:iam::222222222222:root"},
        )
        stack_set = account.client("cloudformation").describe_stack_set(StackSetName="spokes")[
            "StackSet"
        ]
        assert stack_set["StackSetId"] == deployed.outputs["StackSetId"]
        assert stack_set["AutoDeployment"] == {
            "Enabled": True,
            "RetainStacksOnAccountRemoval": False,
        }
        assert stack_set["Parameters"] == [{"ParameterKey": "Environment", "ParameterValue": "dev"}]

        delete_stack(account, "gaps")
        assert "Policy" not in account.client("events").describe_event_bus(Name="default")
        statuses = [
            s["Status"] for s in account.client("cloudformation").list_stack_sets()["Summaries"]
        ]
        assert statuses == ["DELETED"]
