"""Every IAM policy document of a synthesized template, with its intrinsics rendered to ARNs.

parliament checks each action against the resource ARN formats of the IAM definitions, so a
`{"Fn::GetAtt": ["Queue", "Arn"]}` must become an ARN of the queue's shape
(`arn:aws:sqs:eu-west-1:111111111111:<name>`), not an opaque string. Resources are rendered from
their type; pseudo parameters and template parameters from fixed sample values. Anything the
renderer does not know becomes `UNRESOLVED(...)`, which parliament reports, so a new intrinsic
shape fails the gate instead of passing unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PARTITION = "aws"
REGION = "eu-west-1"
ACCOUNT = "111111111111"

_PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
    "AWS::NoValue": "",
}

# What `Fn::GetAtt [X, Arn]` (and Ref, for the types whose Ref is an ARN) returns, by type.
_ARN_OF_TYPE = {
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{name}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{name}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{name}",
    "AWS::Events::EventBus": "arn:{p}:events:{r}:{a}:event-bus/{name}",
    "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{name}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{name}",
    "AWS::S3::Bucket": "arn:{p}:s3:::{name}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{name}:*",
    "AWS::CloudFormation::StackSet": "arn:{p}:cloudformation:{r}:{a}:stackset/{name}:id",
    "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{name}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:{p}:firehose:{r}:{a}:deliverystream/{name}",
}
_REF_IS_ARN = {"AWS::SNS::Topic", "AWS::IAM::ManagedPolicy"}


@dataclass(frozen=True)
class PolicyDocument:
    """One policy: where it is (`template`, logical id, which property) and its rendered JSON."""

    template: str
    logical_id: str
    resource_type: str
    kind: str  # "identity", "trust" or "resource"
    document: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.template}:{self.logical_id} ({self.kind})"


class IntrinsicRenderer:
    def __init__(self, template: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.parameters: Mapping[str, Any] = template.get("Parameters", {})

    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.render(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = (
                    argument if isinstance(argument, list) else argument.split(".", 1)
                )
                return self._get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.render(part)) for part in parts)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Select":
                index, items = argument
                return self.render(items)[int(self.render(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.render(text)).split(separator)
            if key == "Fn::If":
                return self.render(argument[1])
            if key.startswith("Fn::"):
                return f"UNRESOLVED({key})"
        return {key: self.render(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        rendered = {name: self.render(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in rendered:
                return str(rendered[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _ref(self, name: str) -> Any:
        if name in _PSEUDO:
            return _PSEUDO[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            return parameter.get("Default", f"parameter-{name.lower()}")
        resource = self.resources.get(name)
        if resource is None:
            return f"UNRESOLVED(Ref {name})"
        if resource["Type"] in _REF_IS_ARN:
            return self._arn(name, resource["Type"])
        if resource["Type"] == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self._name(name)}"
        return self._name(name)

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.resources.get(logical_id)
        if resource is None:
            return f"UNRESOLVED(GetAtt {logical_id}.{attribute})"
        if attribute == "Arn":
            return self._arn(logical_id, resource["Type"])
        if attribute == "QueueName":
            return self._name(logical_id)
        return f"{self._name(logical_id)}-{attribute.lower()}"

    def _arn(self, logical_id: str, resource_type: str) -> str:
        shape = _ARN_OF_TYPE.get(resource_type)
        if shape is None:
            return f"UNRESOLVED(Arn of {resource_type})"
        return shape.format(p=PARTITION, r=REGION, a=ACCOUNT, name=self._name(logical_id))

    def _name(self, logical_id: str) -> str:
        properties = self.resources[logical_id].get("Properties", {})
        for key in (
            "QueueName",
            "TableName",
            "Name",
            "FunctionName",
            "RoleName",
            "BucketName",
            "TopicName",
            "LogGroupName",
            "StackSetName",
            "DeliveryStreamName",
        ):
            if isinstance(properties.get(key), str):
                return str(properties[key])
            if key in properties:
                rendered = self.render(properties[key])
                if isinstance(rendered, str):
                    return rendered
        return logical_id.lower()


def policy_documents(template_name: str, template: Mapping[str, Any]) -> Iterator[PolicyDocument]:
    """Every policy document the template declares: identity policies (IAM policies, inline
    role policies, managed policies), role trust policies and resource policies."""
    renderer = IntrinsicRenderer(template)
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = resource["Type"]
        properties = resource.get("Properties", {})

        def found(
            kind: str,
            document: Any,
            logical_id: str = logical_id,
            resource_type: str = resource_type,
        ) -> PolicyDocument:
            return PolicyDocument(
                template_name, logical_id, resource_type, kind, renderer.render(document)
            )

        if resource_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield found("identity", properties["PolicyDocument"])
        elif resource_type == "AWS::IAM::Role":
            yield found("trust", properties["AssumeRolePolicyDocument"])
            for inline in properties.get("Policies", []):
                yield found("identity", inline["PolicyDocument"])
        elif resource_type in (
            "AWS::S3::BucketPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
        ):
            yield found("resource", properties["PolicyDocument"])
        elif resource_type == "AWS::Events::EventBusPolicy":
            statement = properties.get("Statement")
            if statement is not None:
                yield found("resource", {"Version": "2012-10-17", "Statement": [statement]})


def embedded_stackset_templates(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The spoke templates a StackSet carries in its TemplateBody, by StackSet logical id."""
    embedded = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] == "AWS::CloudFormation::StackSet":
            body = resource["Properties"]["TemplateBody"]
            embedded[logical_id] = json.loads(body) if isinstance(body, str) else body
    return embedded
