"""Reading synthesized CloudFormation in the CDK tests of every stack (hub, spoke, org)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def render(value: Any) -> Any:
    """Fn::Sub/Join/Ref/GetAtt to strings: `${AWS::Partition}`, `${Param}`, `<Logical.Attr>`."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Fn::Sub" and isinstance(argument, str):
            return argument
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
        if key == "Ref":
            return f"${{{argument}}}"
        if key == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_attached_to_role(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """The rendered statements of every AWS::IAM::Policy attached to the role."""
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return [render(statement) for statement in statements]


def actions_by_resource(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            granted.setdefault(str(resource), set()).update(as_list(statement["Action"]))
    return granted
