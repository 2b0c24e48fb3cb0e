"""What a role may do, read from a synthesized CloudFormation template.

A role's grants are the Allow statements of every AWS::IAM::Policy attached to it (CDK's
DefaultPolicy and any other) plus its inline `Policies`. Managed policies are refused: their
content is not in the template, so the contract could not be checked.

Intrinsic functions are resolved as CloudFormation would for one stack in one account and region
(`Ref`, `Fn::GetAtt ... Arn`, `Fn::Join`, `Fn::Sub`); anything else fails loudly. Conditions are
not evaluated: a conditional Allow counts as granting (the tests say so where it matters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateReadError(Exception):
    """The template holds something this reader cannot resolve or attribute."""


@cache
def _pattern(wildcard: str) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters (including `/` and `:`), `?` one character;
    # everything else literal (fnmatch would read `[...]` as a character class).
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile("".join(parts), re.DOTALL)


def iam_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM wildcard matching; actions compare case-insensitively, resources case-sensitively."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return _pattern(pattern).fullmatch(value) is not None


@dataclass(frozen=True)
class Grant:
    """One Allow statement of a role's policies, resolved."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditional: bool
    source: str  # the policy's logical id, for messages

    def allows_action(self, action: str) -> bool:
        return any(iam_match(p, action, case_sensitive=False) for p in self.actions)

    def allows(self, action: str, resource: str) -> bool:
        return self.allows_action(action) and any(iam_match(r, resource) for r in self.resources)


@dataclass
class StackTemplate:
    """One synthesized stack, resolved in the account and region it deploys to."""

    name: str
    template: Mapping[str, Any]
    account_id: str
    region: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template["Resources"]
        return resources

    # --- intrinsic functions -----------------------------------------------------------------

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.name,
        }.get(name)

    def _physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        properties = resource.get("Properties", {})
        name_property = {
            "AWS::IAM::Role": "RoleName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::Events::EventBus": "Name",
            "AWS::Events::Rule": "Name",
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
        }.get(resource["Type"])
        value = properties.get(name_property) if name_property else None
        # CloudFormation generates a name when none is given; the logical id stands in for it,
        # which never matches a name the code addresses (as in AWS, where it is random).
        return str(self.resolve(value)) if value is not None else f"{self.name}-{logical_id}"

    def _arn_of(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self._physical_name(logical_id)
        own = f"{self.region}:{self.account_id}"
        arns = {
            "AWS::IAM::Role": f"arn:aws:iam::{self.account_id}:role/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{own}:function:{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{own}:event-bus/{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{own}:table/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{own}:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{own}:log-group:{name}:*",
            "AWS::SNS::Topic": f"arn:aws:sns:{own}:{name}",
            "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{own}:deliverystream/{name}",
            # A key's id is random; the logical id stands in for it, as for unnamed resources.
            "AWS::KMS::Key": f"arn:aws:kms:{own}:key/{name}",
        }
        if kind not in arns:
            raise TemplateReadError(f"{self.name}: no ARN model for {logical_id} ({kind})")
        return arns[kind]

    def _ref(self, name: str) -> str:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {}).get(name)
        if declared is not None:
            if "Default" not in declared:
                raise TemplateReadError(f"{self.name}: parameter {name} has no value or default")
            return str(declared["Default"])
        if name in self.resources:
            # Ref of a topic is its ARN; of the other modelled types, the physical name.
            if self.resources[name]["Type"] == "AWS::SNS::Topic":
                return self._arn_of(name)
            return self._physical_name(name)
        raise TemplateReadError(f"{self.name}: Ref to unknown {name!r}")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable in variables:
                return str(self.resolve(variables[variable]))
            if variable.endswith(".Arn"):
                return self._arn_of(variable.removesuffix(".Arn"))
            return self._ref(variable)

        return _SUB_VARIABLE.sub(replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) != 1:
            return {key: self.resolve(item) for key, item in value.items()}
        [(function, argument)] = value.items()
        if function == "Ref":
            return self._ref(str(argument))
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".")
            if attribute != "Arn":
                raise TemplateReadError(f"{self.name}: GetAtt {logical_id}.{attribute}")
            return self._arn_of(logical_id)
        if function == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(self.resolve(item)) for item in items)
        if function == "Fn::Sub":
            if isinstance(argument, str):
                return self._sub(argument, {})
            text, variables = argument
            return self._sub(str(text), variables)
        if function.startswith("Fn::"):
            raise TemplateReadError(f"{self.name}: cannot resolve {function}")
        return {function: self.resolve(argument)}

    # --- roles and their grants ----------------------------------------------------------------

    def _resources_of_type(self, kind: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        return ((lid, r) for lid, r in self.resources.items() if r["Type"] == kind)

    def function_role(self, function_name: str) -> str:
        """The logical id of the role the function named `function_name` runs as."""
        for logical_id, function in self._resources_of_type("AWS::Lambda::Function"):
            properties = function.get("Properties", {})
            if self.resolve(properties.get("FunctionName")) != function_name:
                continue
            role = properties["Role"]
            if not (isinstance(role, Mapping) and "Fn::GetAtt" in role):
                raise TemplateReadError(
                    f"{self.name}: {function_name} ({logical_id}) runs as {role!r}, "
                    "not a role of this template"
                )
            role_id: str = role["Fn::GetAtt"][0]
            return role_id
        raise TemplateReadError(f"{self.name}: no Lambda function named {function_name!r}")

    def function_environment(self, function_name: str) -> dict[str, str]:
        for _, function in self._resources_of_type("AWS::Lambda::Function"):
            properties = function.get("Properties", {})
            if self.resolve(properties.get("FunctionName")) == function_name:
                variables = properties.get("Environment", {}).get("Variables", {})
                return {key: str(self.resolve(value)) for key, value in variables.items()}
        raise TemplateReadError(f"{self.name}: no Lambda function named {function_name!r}")

    def role_named(self, role_name: str) -> str:
        for logical_id, role in self._resources_of_type("AWS::IAM::Role"):
            if self.resolve(role.get("Properties", {}).get("RoleName")) == role_name:
                return logical_id
        raise TemplateReadError(f"{self.name}: no IAM role named {role_name!r}")

    def _functions_of_role(self, role_logical_id: str) -> dict[str, Mapping[str, Any]]:
        """Physical name -> properties of the functions that run as this role."""
        return {
            self._physical_name(logical_id): function.get("Properties", {})
            for logical_id, function in self._resources_of_type("AWS::Lambda::Function")
            if function.get("Properties", {}).get("Role")
            == {"Fn::GetAtt": [role_logical_id, "Arn"]}
        }

    def has_sqs_event_source(self, role_logical_id: str) -> bool:
        """Whether a function running as this role is fed by an SQS event source mapping."""
        functions = self._functions_of_role(role_logical_id)
        return any(
            str(self.resolve(mapping.get("Properties", {}).get("EventSourceArn", ""))).startswith(
                "arn:aws:sqs:"
            )
            and self.resolve(mapping["Properties"].get("FunctionName")) in functions
            for _, mapping in self._resources_of_type("AWS::Lambda::EventSourceMapping")
        )

    def has_sqs_failure_target(self, role_logical_id: str) -> bool:
        """Whether a function running as this role sends failed asynchronous invocations to SQS
        (a dead-letter queue, or an SQS destination of its EventInvokeConfig)."""
        functions = self._functions_of_role(role_logical_id)
        targets = [
            properties.get("DeadLetterConfig", {}).get("TargetArn")
            for properties in functions.values()
        ]
        for _, config in self._resources_of_type("AWS::Lambda::EventInvokeConfig"):
            properties = config.get("Properties", {})
            if self.resolve(properties.get("FunctionName")) in functions:
                destinations = properties.get("DestinationConfig", {})
                targets.extend(
                    destinations.get(kind, {}).get("Destination")
                    for kind in ("OnFailure", "OnSuccess")
                )
        return any(
            str(self.resolve(target)).startswith("arn:aws:sqs:")
            for target in targets
            if target is not None
        )

    def grants(self, role_logical_id: str) -> list[Grant]:
        role = self.resources[role_logical_id]
        properties = role.get("Properties", {})
        if properties.get("ManagedPolicyArns"):
            raise TemplateReadError(
                f"{self.name}: {role_logical_id} has managed policies "
                f"{properties['ManagedPolicyArns']}; their actions are not in the template"
            )
        documents = [
            (f"{role_logical_id}.{policy['PolicyName']}", policy["PolicyDocument"])
            for policy in properties.get("Policies", [])
        ]
        for logical_id, policy in self._resources_of_type("AWS::IAM::Policy"):
            policy_properties = policy.get("Properties", {})
            if {"Ref": role_logical_id} in policy_properties.get("Roles", []):
                documents.append((logical_id, policy_properties["PolicyDocument"]))
        grants: list[Grant] = []
        for source, document in documents:
            for statement in self.resolve(document)["Statement"]:
                if statement.get("Effect") != "Allow":
                    continue
                if "NotAction" in statement or "NotResource" in statement:
                    raise TemplateReadError(f"{source}: NotAction/NotResource is not modelled")
                grants.append(
                    Grant(
                        actions=_as_tuple(statement["Action"]),
                        resources=_as_tuple(statement["Resource"]),
                        conditional="Condition" in statement,
                        source=source,
                    )
                )
        return grants


def _as_tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(item) for item in value)


@dataclass(frozen=True)
class ContractTemplates:
    hub: StackTemplate
    org: StackTemplate
    spoke: StackTemplate
    spoke_project: str

    def by_unit(self, unit: str) -> StackTemplate:
        templates: dict[str, StackTemplate] = {
            "hub": self.hub,
            "org": self.org,
            "spoke": self.spoke,
        }
        return templates[unit]
