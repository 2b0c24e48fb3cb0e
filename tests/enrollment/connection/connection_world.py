"""A hub and many spokes, each in its own moto account, connected by the real connection actions
(the connection-on-moto tests share it).

Accounts are reached the way the enrollment function reaches them: STS AssumeRole, then a session
built from the returned credentials (moto scopes every call to that account).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import botocore.session

from contracts import HUB_BUS_NAME, SPOKE_BUS_NAME
from enrollment.connection.runtime.connection import (
    ConnectionReport,
    ConnectionSettings,
    connect_forwarding_rules,
    grant_put_events,
)

HUB = "111111111111"
REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
ORGANIZATION_ID = "o-abcdef1234"
HUB_FORWARDER_ROLE = f"arn:aws:iam::{HUB}:role/dsdash-hub-refresh-forwarder"
HUB_BUS_ARN = f"arn:aws:events:{REGION}:{HUB}:event-bus/{HUB_BUS_NAME}"
SHARED_MODEL_LOADER = botocore.loaders.create_loader()


def spoke_account(number: int) -> str:
    return f"2000000{number:05d}"


def spoke_bus(account: str, region: str = REGION) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{SPOKE_BUS_NAME}"


class Organization:
    """A hub and its spokes on moto, with the SSM parameters enrollment would write."""

    def __init__(
        self,
        *,
        bus_policy_mode: str = "organization",
        spoke_regions: tuple[str, ...] = (REGION,),
    ) -> None:
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self.spoke_regions = spoke_regions
        self.spokes: list[str] = []
        self.hub_settings = ConnectionSettings(
            unit="hub",
            bus_name=HUB_BUS_NAME,
            forwarder_role_arn=HUB_FORWARDER_ROLE,
            bus_policy_mode=bus_policy_mode,  # type: ignore[arg-type]
            organization_id=ORGANIZATION_ID,
            spoke_regions=spoke_regions,
        )
        self.hub_session = self.session(HUB)
        self.hub_session.client("events").create_event_bus(Name=HUB_BUS_NAME)

    def session(self, account: str, region: str = REGION) -> boto3.Session:
        if (account, region) not in self._sessions:
            credentials = boto3.client("sts", region_name=REGION).assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/dsdash-test", RoleSessionName="dsdash-test"
            )["Credentials"]
            botocore_session = botocore.session.get_session()
            # Sessions share one model loader: parsing the service JSON once per account would
            # make 60 spokes take minutes.
            botocore_session.register_component("data_loader", SHARED_MODEL_LOADER)
            botocore_session.set_credentials(
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
            )
            self._sessions[account, region] = boto3.Session(
                botocore_session=botocore_session, region_name=region
            )
        return self._sessions[account, region]

    def spoke_settings(self, account: str, region: str = REGION) -> ConnectionSettings:
        return ConnectionSettings(
            unit="spoke",
            bus_name=SPOKE_BUS_NAME,
            forwarder_role_arn=f"arn:aws:iam::{account}:role/dsdash-spoke-metric-forwarder-{region}",
            hub_region=REGION,
        )

    def add_spokes(self, count: int) -> list[str]:
        """Deploy `count` more spokes and write the parameters enrollment would write."""
        added = [spoke_account(len(self.spokes) + index + 1) for index in range(count)]
        for account in added:
            for region in self.spoke_regions:
                spoke = self.session(account, region)
                spoke.client("events").create_event_bus(Name=SPOKE_BUS_NAME)
                spoke.client("ssm").put_parameter(
                    Name="/monitors/central", Value=HUB, Type="String"
                )
            project = f"Project{int(account) % 3}"
            self.hub_session.client("ssm").put_parameter(
                Name=f"/monitored_projects/{project}/dev/{account}", Value=account, Type="String"
            )
        self.spokes.extend(added)
        return added

    def forget_spoke(self, account: str) -> None:
        """What offboarding does before Disconnect: delete the hub's parameter."""
        project = f"Project{int(account) % 3}"
        self.hub_session.client("ssm").delete_parameter(
            Name=f"/monitored_projects/{project}/dev/{account}"
        )
        self.spokes.remove(account)

    def connect_all(self) -> list[ConnectionReport]:
        """The enrollment order: EBPut hub, EBPut spokes, EBRule spokes, EBRule hub."""
        reports = [grant_put_events(self.hub_session, self.hub_settings)]
        for account, region in self.spoke_units():
            reports.append(
                grant_put_events(
                    self.session(account, region), self.spoke_settings(account, region)
                )
            )
        for account, region in self.spoke_units():
            reports.append(
                connect_forwarding_rules(
                    self.session(account, region), self.spoke_settings(account, region)
                )
            )
        reports.append(connect_forwarding_rules(self.hub_session, self.hub_settings))
        return reports

    def spoke_units(self) -> Iterator[tuple[str, str]]:
        for account in self.spokes:
            for region in self.spoke_regions:
                yield account, region

    def snapshot(self, account: str, bus_name: str, region: str = REGION) -> dict[str, Any]:
        """Everything EventBridge says about the bus: description, rules, targets."""
        events = self.session(account, region).client("events")
        description: dict[str, Any] = dict(events.describe_event_bus(Name=bus_name))
        description.pop("ResponseMetadata")
        rules: dict[str, Any] = {}
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus_name):
            for rule in page["Rules"]:
                targets = [
                    target
                    for target_page in events.get_paginator("list_targets_by_rule").paginate(
                        Rule=rule["Name"], EventBusName=bus_name
                    )
                    for target in target_page["Targets"]
                ]
                rules[rule["Name"]] = {"rule": rule, "targets": targets}
        return {"bus": description, "rules": rules}

    def hub_snapshot(self) -> dict[str, Any]:
        return self.snapshot(HUB, HUB_BUS_NAME)

    def spoke_snapshot(self, account: str, region: str = REGION) -> dict[str, Any]:
        return self.snapshot(account, SPOKE_BUS_NAME, region)


def statements(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    policy = snapshot["bus"].get("Policy")
    return json.loads(policy)["Statement"] if policy else []


def fanout_rules(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        name: rule
        for name, rule in snapshot["rules"].items()
        if name.startswith("dsdash-refresh-fanout-")
    }


def fanout_target_arns(snapshot: dict[str, Any]) -> list[str]:
    return sorted(
        target["Arn"] for rule in fanout_rules(snapshot).values() for target in rule["targets"]
    )
