"""The encrypted SNS topic alerts and alarms go to, in the hub and in the org stack.

- Encrypted with a customer-managed KMS key (rotated yearly): the AWS-managed `aws/sns` key's
  policy cannot be extended, so CloudWatch alarms could not publish to a topic using it
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-actions-sns-encrypted).
- The topic policy admits only the stack's own publishers: CloudWatch alarms of this account
  (`aws:SourceAccount`) and the roles named by the stack (the hub's ingest function). A Deny
  statement refuses `sns:Publish` to every other principal that is not an AWS service, so even
  an administrator of the account cannot publish a forged alert. Subscribing stays with IAM in
  the account (users attach their own subscribers), and only TLS is accepted.
- The config's subscriptions (`notifications.subscriptions`) are created with the topic.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.alert_model import AlertSubscription

_PROTOCOLS = {
    "email": sns.SubscriptionProtocol.EMAIL,
    "email-json": sns.SubscriptionProtocol.EMAIL_JSON,
    "https": sns.SubscriptionProtocol.HTTPS,
    "sqs": sns.SubscriptionProtocol.SQS,
    "lambda": sns.SubscriptionProtocol.LAMBDA,
    "sms": sns.SubscriptionProtocol.SMS,
}
# What a publisher of an encrypted topic needs on its key: SNS asks KMS for a data key on the
# publisher's behalf (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html). Named
# exactly, not `kms:GenerateDataKey*` as the CDK's grantPublish writes it.
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


class AlertTopic(Construct):
    """A KMS-encrypted topic that only the given roles and this account's alarms may publish to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_name: str,
        display_name: str,
        subscriptions: Sequence[AlertSubscription],
        publisher_roles: Sequence[iam.IRole] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the {topic_name} SNS topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        alarms_of_this_account = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                f"{stack.account}:alarm:*"
            },
        }
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccountPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=list(PUBLISHER_KEY_ACTIONS),
                resources=["*"],  # in a key policy, "*" is this key
                conditions=alarms_of_this_account,
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=display_name,
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms_of_this_account,
            )
        )
        role_arns = [role.role_arn for role in publisher_roles]
        if role_arns:
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="HubPublishers",
                    principals=[iam.ArnPrincipal(arn) for arn in role_arns],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                )
            )
        deny_conditions: dict[str, dict[str, object]] = {
            "Bool": {"aws:PrincipalIsAWSService": "false"}
        }
        if role_arns:
            deny_conditions["StringNotEquals"] = {"aws:PrincipalArn": role_arns}
        # A Deny, so the wildcard principal grants nothing: it narrows who may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheseRolesPublish",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=deny_conditions,
            )
        )
        for role in publisher_roles:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(PUBLISHER_KEY_ACTIONS), resources=[self.key.key_arn]
                )
            )
        for index, subscription in enumerate(subscriptions):
            sns.Subscription(
                self,
                f"Subscription{index}",
                topic=self.topic,
                protocol=_PROTOCOLS[subscription.protocol],
                endpoint=subscription.endpoint,
            )
