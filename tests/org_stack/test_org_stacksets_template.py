"""CDK assertions on the StackSets and the code they deploy: one definition per project without
instances, its spoke template and parameters, and the org-readable artifact buckets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match, Template
from org_stack_support import (
    HUB_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    ORGANIZATION_ID,
    REGIONS,
    SynthesizedOrg,
    org_config,
    render,
)
from org_template_support import organization_org_template, synthesized_organization

import app as dsdash_app
from config.model import DsdashConfig
from enrollment.placement.stackset_names import stackset_name
from org_stack.artifact_buckets import artifact_bucket_name, build_spoke_code_artifacts
from spoke_stackset.stack import synthesize_spoke_template

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return org_config()


@pytest.fixture(scope="module")
def synthesized() -> SynthesizedOrg:
    return synthesized_organization()


@pytest.fixture(scope="module")
def org() -> Template:
    return organization_org_template()


def test_one_service_managed_stackset_per_project_without_instances(
    config: DsdashConfig, org: Template
) -> None:
    org.resource_count_is("AWS::CloudFormation::StackSet", len(config.projects))
    for project in config.projects:
        org.has_resource_properties(
            "AWS::CloudFormation::StackSet",
            {
                "StackSetName": stackset_name(project),
                "PermissionModel": "SERVICE_MANAGED",
                "AutoDeployment": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
                "ManagedExecution": {"Active": True},
                "Capabilities": ["CAPABILITY_NAMED_IAM"],
                "CallAs": "SELF",
                "OperationPreferences": {
                    "RegionConcurrencyType": "PARALLEL",
                    "MaxConcurrentPercentage": 25,
                    "FailureTolerancePercentage": 10,
                },
                # The reconciler owns the instances; the template owns the definition.
                "StackInstancesGroup": Match.absent(),
                "TemplateURL": Match.absent(),
            },
        )


def test_stackset_template_is_the_projects_spoke_template(
    config: DsdashConfig, org: Template, tmp_path: Path
) -> None:
    for project in config.projects:
        (stack_set,) = org.find_resources(
            "AWS::CloudFormation::StackSet",
            {"Properties": {"StackSetName": stackset_name(project)}},
        ).values()
        body = stack_set["Properties"]["TemplateBody"]
        separately = synthesize_spoke_template(
            config, project, outdir=tmp_path / project, builtin_validation=False
        )
        assert json.loads(body) == separately.template


def test_stackset_parameters_point_at_the_hub_and_the_uploaded_code(
    config: DsdashConfig, org: Template
) -> None:
    artifacts = build_spoke_code_artifacts()
    for project in config.projects:
        (stack_set,) = org.find_resources(
            "AWS::CloudFormation::StackSet",
            {"Properties": {"StackSetName": stackset_name(project)}},
        ).values()
        parameters = {
            p["ParameterKey"]: p["ParameterValue"] for p in stack_set["Properties"]["Parameters"]
        }
        assert parameters == {
            "ProjectName": project,
            "HubAccountId": HUB_ACCOUNT,
            "HubRegion": "eu-central-1",
            "HubName": config.hub.name,
            "CodeBucketPrefix": f"dsdash-artifacts-{MANAGEMENT_ACCOUNT}",
            "ExtractorCodeKey": artifacts.extractor.key,
            "ConnectionCodeKey": artifacts.connection.key,
        }
        # Environment is left to the template default and the reconciler's overrides.
        assert "Environment" not in parameters


# --- artifact buckets -----------------------------------------------------------------------------


@pytest.mark.parametrize("region", REGIONS)
def test_artifact_bucket_is_private_versioned_encrypted_and_org_readable(
    synthesized: SynthesizedOrg, region: str
) -> None:
    template = synthesized.template(dsdash_app.artifact_stack_id(region))
    bucket_id, _ = next(
        iter(
            template.find_resources(
                "AWS::S3::Bucket",
                {"Properties": {"BucketName": artifact_bucket_name(MANAGEMENT_ACCOUNT, region)}},
            ).items()
        )
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": artifact_bucket_name(MANAGEMENT_ACCOUNT, region),
            "VersioningConfiguration": {"Status": "Enabled"},
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
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifact-bucket/"}),
        },
    )
    (policy,) = template.find_resources(
        "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket_id}}}
    ).values()
    statements = render(policy["Properties"]["PolicyDocument"]["Statement"])
    assert {
        "Sid": "OrganizationMembersReadSpokeCode",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"<{bucket_id}.Arn>/spoke-code/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}},
    } in statements
    assert {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Resource": [f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"],
    } in statements
    # Nothing else is allowed to principals outside the account.
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allowed) == 1


@pytest.mark.parametrize("region", REGIONS)
def test_spoke_code_is_uploaded_without_pruning_older_versions(
    synthesized: SynthesizedOrg, region: str
) -> None:
    template = synthesized.template(dsdash_app.artifact_stack_id(region))
    template.has_resource_properties(
        "Custom::CDKBucketDeployment",
        {"DestinationBucketKeyPrefix": "spoke-code/", "Prune": False, "RetainOnDelete": True},
    )
