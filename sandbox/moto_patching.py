"""Patch moto, remember what was there, restore it: the one implementation (docs/architecture.md §6).

Every sandbox gap fill replaces attributes of moto's classes or modules. `MotoPatches` holds the
(owner, attribute name, replacement) triples of one fill and installs them together:

- `install()` is idempotent. It remembers the RAW attribute from `owner.__dict__`, so a
  classmethod, staticmethod or property comes back exactly as it was (`getattr` would hand back a
  bound method or the property's value). An attribute the owner only inherited, or did not have,
  is deleted again on `uninstall()` rather than set, so the owner's own namespace ends as it began.
- `uninstall()` restores in reverse order, and does nothing when not installed.
- `original(owner, name)` is what the replacement replaced, for fills that call through to moto:
  the raw attribute (a classmethod's function is its `__func__`), or for an inherited one the raw
  attribute of the class it was inherited from.
- `applied()` installs for a block unless already installed, and then leaves it installed: a
  long-running sandbox installs a fill for its lifetime, and a block inside it must not remove it.

Fills that wrap each other (the StackSet ones patch the same response methods) are installed in
order and removed in reverse; each remembers what the previous one left.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

# Marks an attribute the owner did not hold in its own namespace: uninstall deletes it again.
_ABSENT: Final = object()


def _inherited(owner: Any, name: str) -> Any:
    """The raw attribute a class inherits under `name` (from the first base along its MRO)."""
    for base in getattr(owner, "__mro__", ())[1:]:
        if name in vars(base):
            return vars(base)[name]
    return _ABSENT


class MotoPatches:
    """One gap fill's attribute replacements, installed and uninstalled together."""

    def __init__(self, patches: Iterable[tuple[Any, str, Any]]) -> None:
        self._patches = tuple(patches)
        keys = [(owner, name) for owner, name, _ in self._patches]
        if len(set(keys)) != len(keys):
            raise ValueError("MotoPatches: an attribute is patched twice")
        # (owner, name) -> the raw attribute in owner.__dict__ before install, or _ABSENT.
        self._saved: dict[tuple[Any, str], Any] = {}
        # (owner, name) -> what the replacement calls through to (inherited if not own).
        self._originals: dict[tuple[Any, str], Any] = {}

    def installed(self) -> bool:
        return bool(self._saved)

    def install(self) -> None:
        if self._saved:
            return
        for owner, name, replacement in self._patches:
            own = vars(owner).get(name, _ABSENT)
            self._saved[owner, name] = own
            self._originals[owner, name] = own if own is not _ABSENT else _inherited(owner, name)
            setattr(owner, name, replacement)

    def uninstall(self) -> None:
        if not self._saved:
            return
        for owner, name, _ in reversed(self._patches):
            own = self._saved[owner, name]
            if own is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        self._saved.clear()
        self._originals.clear()

    def original(self, owner: Any, name: str) -> Any:
        """What `owner.name` was before install (raw: a classmethod stays a classmethod)."""
        try:
            found = self._originals[owner, name]
        except KeyError:
            raise LookupError(
                f"MotoPatches: {getattr(owner, '__name__', owner)}.{name} is not installed"
            ) from None
        if found is _ABSENT:
            raise AttributeError(f"{getattr(owner, '__name__', owner)} had no attribute {name!r}")
        return found

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Install for the block unless already installed (then leave it installed)."""
        if self.installed():
            yield
            return
        self.install()
        try:
            yield
        finally:
            self.uninstall()
