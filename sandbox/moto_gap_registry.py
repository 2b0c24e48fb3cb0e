"""The registry of the sandbox's CloudFormation gap handlers, and what they share.

moto 5.2.5's CloudFormation skips the resource types it has no model for (`AWS::Events::
EventBusPolicy`, `AWS::SNS::Subscription`, the CDK's custom resources, ...) with a warning while the
stack still reports CREATE_COMPLETE. Each `sandbox.moto_*_gaps` module registers, with
`@gap_handler`, a `GapResource` that creates such a resource through moto's backends from its
resolved properties and deletes it with the stack; `@property_gap_fill` registers a fill for a
property moto ignores on a type it does support. `sandbox.moto_cloudformation_gaps` installs the
patches that consult both registries (docs/architecture.md §6).

This module imports no handler: the handler modules import it, and the installer imports them,
so imports run one way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException


class UnsupportedResourceTypeError(RuntimeError):
    """Neither moto nor the sandbox's gap handlers can create this resource type."""


class ResourceCreationError(RuntimeError):
    """One resource of a stack failed to create; names it, as CloudFormation's events do."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


class GapResource:
    """A resource moto's CloudFormation lacks, created through moto's backends.

    Duck-types the parts of moto's `CloudFormationModel` that its parser and stacks use (it does
    not subclass it: moto registers every subclass globally, and these fills must only exist
    while installed). Subclasses set `resource_type`, implement `create` and `delete`, and list
    their `GetAtt` attributes in `attributes`.
    """

    resource_type: ClassVar[str]
    # The property holding the resource's name, when the type has one (moto generates one else).
    name_property: ClassVar[str] = ""
    attributes: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self, physical_resource_id: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> None:
        self.physical_resource_id = physical_resource_id
        self.properties = dict(properties)
        self.account_id = account_id
        self.region = region

    # moto's CloudFormationModel interface ---------------------------------------------------

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.resource_type

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in cls.attributes

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GapResource:
        return cls.create(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GapResource,
        new_resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
    ) -> GapResource:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: Mapping[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name
        ).delete(account_id, region_name)

    def get_cfn_attribute(self, attribute: str) -> Any:
        if attribute not in self.attributes:
            raise UnformattedGetAttTemplateException()
        return getattr(self, self.attributes[attribute])

    def is_created(self) -> bool:
        return True

    # what subclasses implement ----------------------------------------------------------------

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


GAP_HANDLERS: dict[str, type[GapResource]] = {}


_Handler = TypeVar("_Handler", bound=type[GapResource])


def gap_handler(handler: _Handler) -> _Handler:
    """Register a handler for a resource type moto's CloudFormation lacks.

    One handler per type: a second one would silently replace the first, whichever module
    happened to be imported last (two SNS handlers once shadowed each other that way)."""
    registered = GAP_HANDLERS.get(handler.resource_type)
    if registered is not None and registered is not handler:
        raise ValueError(
            f"{handler.resource_type} already has a gap handler: "
            f"{registered.__module__}.{registered.__qualname__}"
        )
    GAP_HANDLERS[handler.resource_type] = handler
    return handler


PropertyFill = Callable[[Any, Mapping[str, Any], str, str], None]


PROPERTY_GAP_FILLS: dict[str, list[PropertyFill]] = {}


def property_gap_fill(resource_type: str) -> Callable[[PropertyFill], PropertyFill]:
    def register(fill: PropertyFill) -> PropertyFill:
        PROPERTY_GAP_FILLS.setdefault(resource_type, []).append(fill)
        return fill

    return register


def json_text(document: Any) -> str:
    """A policy or template document as JSON text: CloudFormation resolves either form."""
    return document if isinstance(document, str) else json.dumps(document)
