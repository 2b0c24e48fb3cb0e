"""CDK assertions on where the org app puts its stacks: each stack in its account and region,
and the us-east-1 stack that forwards Organizations events to the home region."""

from __future__ import annotations

import json

import pytest
from org_stack_support import (
    HUB_ACCOUNT,
    MANAGEMENT_ACCOUNT,
    REGIONS,
    SynthesizedOrg,
    actions_by_resource,
    org_config,
    render,
    role_statements,
    synth_app,
)
from org_template_support import HOME_REGION, synthesized_organization

import app as dsdash_app
from config.model import DsdashConfig

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def config() -> DsdashConfig:
    return org_config()


@pytest.fixture(scope="module")
def synthesized() -> SynthesizedOrg:
    return synthesized_organization()


def test_app_places_every_stack_in_its_account_and_region(synthesized: SynthesizedOrg) -> None:
    manifest = json.loads((synthesized.assembly_directory / "manifest.json").read_text())
    environments = {
        stack_id: manifest["artifacts"][stack_id]["environment"]
        for stack_id in synthesized.stack_ids()
    }
    assert environments == {
        dsdash_app.HUB_STACK_ID: f"aws://{HUB_ACCOUNT}/eu-central-1",
        dsdash_app.ORG_STACK_ID: f"aws://{MANAGEMENT_ACCOUNT}/{HOME_REGION}",
        # Organizations events arrive in us-east-1 only: forwarded to the home region.
        dsdash_app.ORG_EVENTS_STACK_ID: f"aws://{MANAGEMENT_ACCOUNT}/us-east-1",
        **{
            dsdash_app.artifact_stack_id(region): f"aws://{MANAGEMENT_ACCOUNT}/{region}"
            for region in REGIONS
        },
    }
    # The code is uploaded before the StackSets that point at it.
    dependencies = set(manifest["artifacts"][dsdash_app.ORG_STACK_ID].get("dependencies", []))
    assert {dsdash_app.artifact_stack_id(region) for region in REGIONS} <= dependencies


def test_home_region_us_east_1_needs_no_forwarder(
    config: DsdashConfig, tmp_path_factory: pytest.TempPathFactory
) -> None:
    synthesized = synth_app(
        config,
        tmp_path_factory.mktemp("org-us-east-1"),
        context={dsdash_app.ORG_REGION_CONTEXT_KEY: "us-east-1"},
    )
    assert dsdash_app.ORG_EVENTS_STACK_ID not in synthesized.stack_ids()
    assert synthesized.stack(dsdash_app.ORG_STACK_ID).region == "us-east-1"


def test_us_east_1_forwards_organizations_events_to_the_home_region(
    synthesized: SynthesizedOrg,
) -> None:
    forwarder = synthesized.template(dsdash_app.ORG_EVENTS_STACK_ID)
    home_bus = (
        f"arn:${{AWS::Partition}}:events:{HOME_REGION}:{MANAGEMENT_ACCOUNT}:event-bus/default"
    )
    rules = forwarder.find_resources("AWS::Events::Rule")
    patterns = {json.dumps(rule["Properties"]["EventPattern"]["source"]) for rule in rules.values()}
    assert patterns == {'["aws.organizations"]', '["aws.controltower"]'}
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert render(target["Arn"]) == home_bus
        assert "RoleArn" in target
    (role_id,) = forwarder.find_resources("AWS::IAM::Role")
    assert actions_by_resource(role_statements(forwarder, role_id)) == {
        home_bus: {"events:PutEvents"}
    }
