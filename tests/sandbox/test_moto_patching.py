"""`MotoPatches` leaves every patched owner exactly as it found it."""

from __future__ import annotations

import types
from typing import Any

import pytest

from sandbox.moto_patching import MotoPatches


def _fresh_classes() -> tuple[Any, Any]:
    # New classes per test: a patch that failed to restore cannot leak into the next test.
    class Base:
        kind = "base"

        def greet(self) -> str:
            return "base"

    class Model(Base):
        @classmethod
        def create(cls, name: str) -> str:
            return f"{cls.__name__}:{name}"

        @staticmethod
        def helper() -> str:
            return "moto"

        @property
        def label(self) -> str:
            return "moto label"

    return Base, Model


def test_a_classmethod_comes_back_as_the_same_classmethod() -> None:
    _, model = _fresh_classes()
    raw = vars(model)["create"]

    def create(cls: type, name: str) -> str:
        # Calls through to moto's code, as the CloudFormation fills do.
        return "patched " + str(patches.original(model, "create").__func__(cls, name))

    patches = MotoPatches([(model, "create", classmethod(create))])
    patches.install()
    assert model.create("x") == "patched Model:x"
    assert patches.original(model, "create") is raw
    patches.uninstall()

    assert vars(model)["create"] is raw
    assert model.create("x") == "Model:x"


def test_staticmethod_and_property_are_restored_raw() -> None:
    _, model = _fresh_classes()
    static, prop = vars(model)["helper"], vars(model)["label"]
    patches = MotoPatches(
        [
            (model, "helper", staticmethod(lambda: "filled")),
            (model, "label", property(lambda self: "filled label")),
        ]
    )
    with patches.applied():
        assert model.helper() == "filled"
        assert model().label == "filled label"

    assert vars(model)["helper"] is static
    assert vars(model)["label"] is prop
    assert model().label == "moto label"


def test_an_inherited_attribute_is_deleted_again_not_copied_onto_the_subclass() -> None:
    base, model = _fresh_classes()
    base_greet = vars(base)["greet"]

    def greet(self: Any) -> str:
        return "filled " + str(patches.original(model, "greet")(self))

    patches = MotoPatches([(model, "greet", greet), (model, "kind", "filled")])
    patches.install()
    assert model().greet() == "filled base"
    assert patches.original(model, "greet") is base_greet
    assert model.kind == "filled"
    patches.uninstall()

    assert "greet" not in vars(model)
    assert "kind" not in vars(model)
    assert model().greet() == "base"
    assert vars(base)["greet"] is base_greet


def test_an_attribute_the_owner_did_not_have_is_removed_again() -> None:
    _, model = _fresh_classes()
    module = types.ModuleType("fake_moto_module")
    patches = MotoPatches(
        [(model, "physical_resource_id", property(lambda self: "name")), (module, "extra", 1)]
    )
    with patches.applied():
        assert model().physical_resource_id == "name"
        assert module.extra == 1
        with pytest.raises(AttributeError):
            patches.original(model, "physical_resource_id")

    assert not hasattr(model, "physical_resource_id")
    assert not hasattr(module, "extra")


def test_install_and_uninstall_are_idempotent() -> None:
    _, model = _fresh_classes()
    raw = vars(model)["create"]
    patches = MotoPatches([(model, "create", classmethod(lambda cls, name: "filled"))])

    patches.install()
    patches.install()  # a second install must not remember the replacement as the original
    assert patches.installed()
    assert patches.original(model, "create") is raw
    patches.uninstall()
    patches.uninstall()

    assert not patches.installed()
    assert vars(model)["create"] is raw
    with pytest.raises(LookupError):
        patches.original(model, "create")


def test_the_context_manager_nests_and_leaves_an_earlier_install_in_place() -> None:
    _, model = _fresh_classes()
    patches = MotoPatches([(model, "helper", staticmethod(lambda: "filled"))])

    with patches.applied():
        with patches.applied():
            assert model.helper() == "filled"
        assert patches.installed()  # the inner block did not remove the outer's fill
    assert not patches.installed()
    assert model.helper() == "moto"

    patches.install()  # a long-running sandbox's install outlives any block
    with patches.applied():
        pass
    assert patches.installed()
    patches.uninstall()


def test_fills_that_wrap_each_other_unwind_in_reverse() -> None:
    _, model = _fresh_classes()
    raw = vars(model)["helper"]
    first = MotoPatches([(model, "helper", staticmethod(lambda: "first"))])
    second = MotoPatches([(model, "helper", staticmethod(lambda: "second"))])

    with first.applied():
        with second.applied():
            assert model.helper() == "second"
            # The second fill calls through to what the first left, not to moto's own.
            assert second.original(model, "helper").__func__() == "first"
        assert model.helper() == "first"
    assert vars(model)["helper"] is raw


def test_the_same_attribute_twice_is_refused() -> None:
    _, model = _fresh_classes()
    with pytest.raises(ValueError, match="patched twice"):
        MotoPatches([(model, "helper", 1), (model, "helper", 2)])
