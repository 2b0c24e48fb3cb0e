"""CDK assertions on what the hub template leaves to its deployers: the outputs the CLI and
enrollment read, and no CDK bootstrap check."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from hub_template_support import organization_hub_template

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def template() -> Template:
    return organization_hub_template()


def test_outputs_for_the_cli_and_enrollment_exist_without_exports(template: Template) -> None:
    outputs = template.find_outputs("*")
    expected = {
        "TableName",
        "HubBusArn",
        "HubBusName",
        "IngestQueueUrl",
        "DeadLetterQueueUrl",
        "RefreshFunctionName",
        "ConnectionFunctionName",
        "EnrollmentRoleArn",
    }
    assert expected <= set(outputs)
    assert all("Export" not in outputs[name] for name in expected)
    table_id = next(iter(template.find_resources("AWS::DynamoDB::Table")))
    assert outputs["TableName"]["Value"] == {"Ref": table_id}


def test_synth_writes_no_bootstrap_version_parameter(template: Template) -> None:
    # The sandbox deploys this template into moto, which has no CDK bootstrap SSM parameter.
    assert "BootstrapVersion" not in template.to_json().get("Parameters", {})
    assert "CheckBootstrapVersion" not in template.to_json().get("Rules", {})
