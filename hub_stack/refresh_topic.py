"""The hub refresh topic: one Publish reaches every spoke of the organization (docs/architecture.md §7).

Spoke stacks subscribe their extractor to it (spoke_stackset/extractor/refresh_triggers.py), so the
hub keeps no per-spoke rule, target or subscription list of its own, and its cost does not grow
with spokes: SNS allows 12,500,000 subscriptions per topic. Subscriptions carry no filter policy:
SNS allows 200 filter policies per topic by default, which would be a per-spoke limit again; the
extractor applies the refresh scope (spoke_stackset/extractor/runtime/refresh_request.py).

Who may subscribe: principals of the organization only (`aws:PrincipalOrgID`), with the
`lambda` protocol. Who may publish: the hub's refresh function, through its IAM role.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

import contracts


class RefreshTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, organization_id: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=contracts.REFRESH_TOPIC_NAME,
            display_name="dsdash refresh requests to spokes",
            enforce_ssl=True,
        )
        # A wildcard principal is only ever paired with the organization condition.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationSpokesSubscribeTheirExtractor",
                principals=[iam.AnyPrincipal()],
                actions=["sns:Subscribe"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {
                        "aws:PrincipalOrgID": organization_id,
                        "sns:Protocol": "lambda",
                    }
                },
            )
        )

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        self.topic.grant_publish(grantee)


__all__ = ["RefreshTopic"]
