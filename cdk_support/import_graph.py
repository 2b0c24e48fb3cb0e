"""The first-party import graph, read from the source with `ast` (nothing is imported or run).

Read once per process (cached): a synth or a test run sees the source as it was when first read.

Two users: the Lambda asset builder ships the import closure of a handler
(`cdk_support.lambda_asset`), and `tests/test_layers.py` checks that imports run one way
(docs/architecture.md §3, "Layers").

Every import statement counts wherever it stands (module level, in a function, under `try`),
because any of them may run. Imports under `if TYPE_CHECKING:` never run: they are reported with
`type_checking_only=True`, which the asset builder leaves out and the layer test keeps.

`from package import name` is an import of the module `package.name` when such a module exists,
and of `package` otherwise. Importing `a.b.c` also runs the `__init__` of `a` and `a.b`, so the
closure holds every enclosing package.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

REPOSITORY_ROOT: Final = Path(__file__).resolve().parent.parent
# Folders at the repository root that hold no first-party importable code.
_NOT_SOURCE: Final = frozenset({"tests", "node_modules", "build", "cdk.out", "docs", "__pycache__"})

# A module that imports plugins by listing a package says so with this module-level name.
DISCOVERY_MARKER: Final = "IMPORTS_EVERY_MODULE_OF"


@dataclass(frozen=True)
class ModuleImport:
    """`importer` (file `path`, line `line`) imports the first-party module `imported`."""

    importer: str
    imported: str
    path: Path
    line: int
    type_checking_only: bool
    # Found by the module listing its package at run time (see DISCOVERY_MARKER), not by an
    # import statement: a plugin registry and its plugins, a circle by design.
    discovered: bool = False

    def where(self, root: Path = REPOSITORY_ROOT) -> str:
        return f"{self.path.relative_to(root).as_posix()}:{self.line}"


@cache
def first_party_modules(root: Path = REPOSITORY_ROOT) -> dict[str, Path]:
    """Every first-party module name (packages by their `__init__.py`) and its file."""
    modules: dict[str, Path] = {}
    for path in sorted(root.glob("*.py")):
        modules[path.stem] = path
    for package_init in sorted(root.glob("*/__init__.py")):
        package_root = package_init.parent
        if package_root.name in _NOT_SOURCE or package_root.name.startswith("."):
            continue
        for path in sorted(package_root.rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            if "__pycache__" in relative.parts:
                continue
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            modules[".".join(parts)] = path
    return modules


@cache
def imports_of(module: str, root: Path = REPOSITORY_ROOT) -> tuple[ModuleImport, ...]:
    """The first-party imports `module`'s file makes, in source order."""
    modules = first_party_modules(root)
    path = modules[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict[tuple[str, int], ModuleImport] = {}
    for node, type_checking_only in _import_nodes(tree, inside_type_checking=False):
        for target in _targets(node, module, is_package, modules):
            found.setdefault(
                (target, node.lineno),
                ModuleImport(module, target, path, node.lineno, type_checking_only),
            )
    discovering = _discovered_package(tree)
    if discovering is not None:
        package, line = discovering
        for plugin in sorted(modules):
            if plugin.rpartition(".")[0] == package and plugin != module:
                found.setdefault(
                    (plugin, line), ModuleImport(module, plugin, path, line, False, discovered=True)
                )
    return tuple(found.values())


def _discovered_package(tree: ast.Module) -> tuple[str, int] | None:
    """The package a module imports every module of at run time, declared by a module-level
    `IMPORTS_EVERY_MODULE_OF = "<package>"` (ast cannot follow importlib), with its line."""
    for statement in tree.body:
        target: ast.expr | None = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign):
            target = statement.target
        if (
            isinstance(target, ast.Name)
            and target.id == DISCOVERY_MARKER
            and isinstance(statement, ast.Assign | ast.AnnAssign)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        ):
            return statement.value.value, statement.lineno
    return None


@cache
def third_party_imports_of(module: str, root: Path = REPOSITORY_ROOT) -> frozenset[str]:
    """Top-level names of the non-first-party, non-standard-library modules `module` imports
    when it runs (TYPE_CHECKING imports left out)."""
    modules = first_party_modules(root)
    path = modules[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node, type_checking_only in _import_nodes(tree, inside_type_checking=False):
        if type_checking_only or (isinstance(node, ast.ImportFrom) and node.level):
            continue
        imported = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
        names.update(name.split(".")[0] for name in imported)
    return frozenset(
        name
        for name in names
        if name not in _top_level_names(modules)
        and name not in sys.stdlib_module_names
        and name != "__future__"
    )


def enclosing_packages(module: str) -> Iterator[str]:
    """`a.b.c` -> `a`, `a.b`: the packages whose `__init__` importing `module` runs."""
    parts = module.split(".")
    for length in range(1, len(parts)):
        yield ".".join(parts[:length])


def import_closure(roots: Iterable[str], root: Path = REPOSITORY_ROOT) -> frozenset[str]:
    """Every first-party module importing `roots` runs: their imports (not TYPE_CHECKING ones),
    transitively, with every enclosing package."""
    modules = first_party_modules(root)
    pending = list(roots)
    closure: set[str] = set()
    while pending:
        module = pending.pop()
        if module in closure:
            continue
        if module not in modules:
            raise KeyError(f"{module!r} is not a first-party module under {root}")
        closure.add(module)
        pending.extend(package for package in enclosing_packages(module) if package in modules)
        pending.extend(
            found.imported for found in imports_of(module, root) if not found.type_checking_only
        )
    return frozenset(closure)


def _import_nodes(
    node: ast.AST, *, inside_type_checking: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, inside_type_checking
        elif isinstance(child, ast.If) and _is_type_checking_test(child.test):
            for statement in child.body:
                yield from _import_nodes_of_statement(statement, inside_type_checking=True)
            for statement in child.orelse:
                yield from _import_nodes_of_statement(statement, inside_type_checking=False)
        else:
            yield from _import_nodes(child, inside_type_checking=inside_type_checking)


def _import_nodes_of_statement(
    statement: ast.stmt, *, inside_type_checking: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    if isinstance(statement, ast.Import | ast.ImportFrom):
        yield statement, inside_type_checking
    else:
        yield from _import_nodes(statement, inside_type_checking=inside_type_checking)


def _is_type_checking_test(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: dict[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in _top_level_names(modules):
                yield _known(alias.name, modules)
        return
    if node.level:
        package_parts = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = package_parts[: len(package_parts) - (node.level - 1)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    if base.split(".")[0] not in _top_level_names(modules):
        return
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        yield candidate if candidate in modules else _known(base, modules)


def _known(name: str, modules: dict[str, Path]) -> str:
    """`name`, or its longest prefix that is a module (an attribute import of a module)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    if not parts:
        raise KeyError(f"import of {name!r} names no first-party module")
    return ".".join(parts)


def _top_level_names(modules: dict[str, Path]) -> frozenset[str]:
    return frozenset(name.split(".")[0] for name in modules)
