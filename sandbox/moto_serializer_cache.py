"""moto cost fill: its response serializer looks up every member's key afresh, per record.

moto 5.2.5 serializes a response by walking the operation's output shape: for each member of
each structure it builds an `AttributePickerContext` (joining the key path) and asks six alias
providers (explicit, shape name, none, shape prefix, class prefix, model name) which keys of the
Python value may hold the member, then tries them in order. The answer depends only on the
member's shape, its parent structure, its name and the value's type, yet it is recomputed for
every member of every record of every response: a SageMaker `Search` page of 92 training jobs
(about 96 members each, most absent) costs about 40 ms of CPU in the serializer alone, the bulk of
a sandbox extraction (docs/architecture.md §6).

`cached_member_keys()` keeps that answer per (member shape, parent shape, name) for plain `dict`
values, the values moto's models hand the serializer for SageMaker, SSM and most JSON services,
and looks the keys up in the dict in the same order; a structure's members are walked from a plan
made once per structure shape, and an absent or None member costs a dict lookup rather than
moto's two calls that end in doing nothing. The serialized body is byte for byte what moto's own
lookup produces (`tests/sandbox/test_moto_serializer_cache.py` compares both on the sandbox's own
responses); anything the memo cannot prove equal goes through moto's code unchanged: values that
are not exactly `dict` (model objects may carry a per-instance `Meta` of explicit aliases),
pickers other than moto's default, responses with key-path transformers (their result depends on
the path, not only on the member), dotted keys (moto reads them as paths), and the structures of
REST serializers, whose member step may bind a member to a header or the status code.

Botocore shapes are built once per service model (moto caches the models) and a structure's
member shapes are built once per structure, so the shapes used as keys are stable for the
process's life; the memo holds them, which keeps them from being collected and their ids reused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from moto.core.model import Shape, StructureShape
from moto.core.serialize import AttributePickerContext, ResponseSerializer, XFormedAttributePicker

from sandbox.moto_patching import MotoPatches

# Not patched: moto's member step, which the plan may stand in for only where a serializer class
# (a REST one) has not overridden it.
_MOTO_SERIALIZE_MEMBER = ResponseSerializer._serialize_structure_member
# (member shape, its parent structure or None, member name) -> the keys moto would try, in order.
_MEMBER_KEYS: dict[tuple[Shape, Any, str], tuple[str, ...] | None] = {}
# structure shape -> (member name, member shape, keys) for each member, in the shape's order.
_STRUCTURE_PLANS: dict[Shape, tuple[tuple[str, Shape, tuple[str, ...]], ...] | None] = {}


def _memoizable(serializer: ResponseSerializer, value: Any) -> bool:
    picker = serializer._value_picker
    return (
        type(value) is dict
        and type(picker) is XFormedAttributePicker
        and not picker.response_transformers
    )


def _member_keys(
    serializer: ResponseSerializer, value: dict[str, Any], key: str, shape: Shape
) -> tuple[str, ...] | None:
    """The keys moto's picker tries for this member of a dict, or None when one is dotted (moto
    reads a dotted key as a path into nested values: that stays moto's)."""
    memo_key = (shape, getattr(shape, "parent", None), key)
    if memo_key not in _MEMBER_KEYS:
        context = AttributePickerContext(
            obj=value,
            key=key,
            shape=shape,
            operation_model=serializer.operation_model,
            service_model=serializer.operation_model.service_model,
            key_path=".".join(serializer.path),
        )
        keys = tuple(serializer._value_picker.get_possible_keys(context))
        _MEMBER_KEYS[memo_key] = None if any("." in each for each in keys) else keys
    return _MEMBER_KEYS[memo_key]


def _pick(value: dict[str, Any], keys: tuple[str, ...]) -> Any:
    # moto's `get_value` on a dict is `value[key]`, a missing key meaning "try the next alias".
    for each in keys:
        if each in value:
            return value[each]
    return None


def _get_value(self: ResponseSerializer, value: Any, key: str, shape: Shape) -> Any:
    if not _memoizable(self, value):
        return PATCHES.original(ResponseSerializer, "get_value")(self, value, key, shape)
    keys = _member_keys(self, value, key, shape)
    if keys is None:
        return PATCHES.original(ResponseSerializer, "get_value")(self, value, key, shape)
    return _pick(value, keys)


def _structure_plan(
    serializer: ResponseSerializer, value: dict[str, Any], shape: StructureShape
) -> tuple[tuple[str, Shape, tuple[str, ...]], ...] | None:
    if shape not in _STRUCTURE_PLANS:
        plan = []
        for member_key, member_shape in shape.members.items():
            member_shape.parent = shape  # type: ignore[attr-defined]
            keys = _member_keys(serializer, value, member_key, member_shape)
            if keys is None:
                _STRUCTURE_PLANS[shape] = None
                break
            plan.append((member_key, member_shape, keys))
        else:
            _STRUCTURE_PLANS[shape] = tuple(plan)
    return _STRUCTURE_PLANS[shape]


def _serialize_type_structure(
    self: ResponseSerializer, serialized: Any, value: Any, shape: StructureShape, key: str
) -> None:
    """moto's `_serialize_type_structure`, with each member's keys taken from the structure's
    plan, and absent or None members skipped without a call (moto's member step does nothing
    for them either)."""
    if value is None:
        return
    plan = (
        _structure_plan(self, value, shape)
        if _memoizable(self, value)
        and type(self)._serialize_structure_member is _MOTO_SERIALIZE_MEMBER
        else None
    )
    if plan is None:
        PATCHES.original(ResponseSerializer, "_serialize_type_structure")(
            self, serialized, value, shape, key
        )
        return
    wrapper: Any = self.MAP_TYPE() if key else serialized
    for member_key, member_shape, keys in plan:
        member_shape.parent = shape  # type: ignore[attr-defined]
        member_value = _pick(value, keys)
        if member_value is not None:
            self._serialize(wrapper, member_value, member_shape, member_key)
    if key:
        self._default_serialize(serialized, wrapper, shape, key)


PATCHES = MotoPatches(
    [
        (ResponseSerializer, "get_value", _get_value),
        (ResponseSerializer, "_serialize_type_structure", _serialize_type_structure),
    ]
)


def cached_member_keys() -> AbstractContextManager[None]:
    """Serialize moto's responses with the member-key memo for the block (unless installed)."""
    return PATCHES.applied()
