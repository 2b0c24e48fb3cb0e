"""Shared by the sandbox deployment tests: a synthesized hub cloud assembly and sandbox sessions."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import boto3

from app import HUB_STACK_ID
from cdk_support.synthesis import dsdash_stack_synthesizer
from config.model import (
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)
from hub_stack.stack import HubStack
from sandbox.credentials import account_credentials

HUB_ACCOUNT = "111111111111"
HUB_REGION = "eu-west-1"
MANAGEMENT_ACCOUNT = "999999999999"


def hub_config(organization_id: str = "o-a1b2c3d4e5") -> DsdashConfig:
    return DsdashConfig(
        hub=HubSettings(
            name="CentralHub", account_id=HUB_ACCOUNT, region=HUB_REGION, bus_policy="organization"
        ),
        organization=OrganizationSettings(
            id=organization_id, management_account_id=MANAGEMENT_ACCOUNT, regions=(HUB_REGION,)
        ),
        refresh_schedule="rate(1 hour)",
        retention_days=400,
        event_version=2,
        projects={
            "alpha": ProjectSettings(
                name="alpha",
                environments=("dev", "prod"),
                metrics=(MetricSelection("NumberEndPointsInService"),),
            )
        },
    )


def synth_hub_assembly(config: DsdashConfig, outdir: Path) -> Path:
    """Synthesize the real hub stack into a cloud assembly (CDK validation off, as in unit tests)."""
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    HubStack(app, HUB_STACK_ID, config=config, synthesizer=dsdash_stack_synthesizer())
    app.synth()
    return outdir


def session(account_id: str, region: str = HUB_REGION) -> boto3.Session:
    return account_credentials(account_id, region).session(region)
