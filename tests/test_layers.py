"""Imports run one way: from a higher layer to a lower one, never back, and never in a circle
(docs/architecture.md §3, "Layers").

Every first-party module's imports are read from its source (`cdk_support.import_graph`: ast,
function-level and TYPE_CHECKING imports included), so a failure names the file and line of the
offending import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pytest

from cdk_support.import_graph import ModuleImport, first_party_modules, imports_of

# Bottom to top, as docs/architecture.md §3 lists them. A module belongs to the layer of its
# longest matching prefix; a unit's modules outside `runtime/` (its CDK code) are
# "infrastructure", its `runtime/` package, and the unit package's own `__init__` (which every
# runtime import runs), are "unit runtimes". The page (`dashboard/`) is a shared runtime below
# the hub's dashboard publisher unit, whose handler renders it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("contracts", ("contracts",)),
    ("runtime_common", ("runtime_common",)),
    ("metrics", ("metrics",)),
    ("config", ("config",)),
    ("unit runtimes", ("dashboard",)),
    ("shared infrastructure", ("cdk_support",)),
    ("unit infrastructure", ()),
    ("app", ("app",)),
    ("sandbox", ("sandbox",)),
    ("cli", ("cli",)),
    ("bench", ("bench",)),
)
# Modules of a unit that Lambda code imports though they sit beside the CDK code: plain code,
# no aws_cdk (the asset test proves they import without it): the hub table's layout and access.
UNIT_RUNTIME_MODULES: frozenset[str] = frozenset(
    {"hub_stack.table_design", "hub_stack.table_access"}
)
# Runtime code two units share, below both (docs/architecture.md §3): the placement policy and
# the Organizations reads the enrollment function and the reconciler apply (its CDK grants are
# `enrollment.placement.infrastructure`); the spoke registry the hub's runtimes and the enrollment
# function read and write; the hub's shared runtime (the table's items, which the ingest, health
# and publisher functions and the CLI read), the history reads (publisher and CLI), and the page
# the publisher renders (`dashboard`, which reads those two).
SHARED_UNIT_RUNTIME_PACKAGES: tuple[str, ...] = (
    "enrollment.placement",
    "hub_stack.spoke_registry",
    "hub_stack.runtime",
    "hub_stack.history_query",
    "dashboard",
)
# The hub's function units: each runtime reads the shared ones, never another function's.
HUB_FUNCTION_UNITS: tuple[str, ...] = (
    "hub_stack.ingest",
    "hub_stack.refresh",
    "hub_stack.platform_health",
    "hub_stack.dashboard_publisher",
)


_LAYER_INDEX = {name: index for index, (name, _) in enumerate(LAYERS)}
_FIRST_PARTY_MODULES = frozenset(first_party_modules())


def package_of(module: str) -> str:
    """The package a module counts in for the circle checks: its top-level package, except that
    a shared unit runtime package and a unit runtime module count on their own. They sit below
    the units that import them (a unit may compose another's construct while both read the
    shared runtime); an import from them back into their unit's package is still a circle."""
    for shared in (*SHARED_UNIT_RUNTIME_PACKAGES, *sorted(UNIT_RUNTIME_MODULES)):
        if module == shared or module.startswith(shared + "."):
            return shared
    return module.split(".", maxsplit=1)[0]


def layer_of(module: str) -> str:
    for name, prefix in sorted(
        ((layer, prefix) for layer, prefixes in LAYERS for prefix in prefixes),
        key=lambda item: -len(item[1]),
    ):
        if module == prefix or module.startswith(prefix + "."):
            return name
    parts = module.split(".")
    if module in UNIT_RUNTIME_MODULES or len(parts) == 1 or "runtime" in parts[1:]:
        # A unit's `runtime/`, or a function unit's (`enrollment.connection.runtime`).
        return "unit runtimes"
    if parts[-1] != "infrastructure" and any(
        module == package or module.startswith(package + ".")
        for package in SHARED_UNIT_RUNTIME_PACKAGES
    ):
        return "unit runtimes"
    if f"{module}.runtime" in _FIRST_PARTY_MODULES:
        # A function unit's own `__init__` (`enrollment.connection`), which its runtime imports run.
        return "unit runtimes"
    return "unit infrastructure"


@pytest.fixture(scope="module")
def all_imports() -> list[ModuleImport]:
    return [found for module in first_party_modules() for found in imports_of(module)]


def _describe(imports: Iterable[ModuleImport]) -> str:
    return "\n".join(
        f"  {found.where()}: {found.importer} ({layer_of(found.importer)}) imports "
        f"{found.imported} ({layer_of(found.imported)})"
        for found in imports
    )


def test_every_module_has_a_layer() -> None:
    # A new top-level package that is not a unit must be placed in LAYERS and in the document.
    unit_packages = {
        module.split(".")[0]
        for module in first_party_modules()
        if layer_of(module) in {"unit runtimes", "unit infrastructure"}
    }
    # `dashboard` is no unit: the page, a shared runtime below the publisher unit.
    assert unit_packages <= {
        "hub_stack",
        "spoke_stackset",
        "org_stack",
        "enrollment",
        "dashboard",
    }, unit_packages


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("contracts", "contracts"),
        ("runtime_common.settings", "runtime_common"),
        ("hub_stack", "unit runtimes"),
        ("hub_stack.table_design", "unit runtimes"),
        ("hub_stack.runtime.store", "unit runtimes"),
        ("hub_stack.table_access", "unit runtimes"),
        ("hub_stack.spoke_registry", "unit runtimes"),
        ("hub_stack.spoke_registry.registry", "unit runtimes"),
        ("hub_stack.stack", "unit infrastructure"),
        ("hub_stack.alerting", "unit infrastructure"),
        ("hub_stack.ingest", "unit runtimes"),
        ("hub_stack.ingest.runtime.ingest", "unit runtimes"),
        ("hub_stack.ingest.infrastructure", "unit infrastructure"),
        ("hub_stack.refresh.runtime.refresh", "unit runtimes"),
        ("hub_stack.refresh.infrastructure", "unit infrastructure"),
        ("hub_stack.platform_health.runtime.platform_health", "unit runtimes"),
        ("hub_stack.platform_health.infrastructure", "unit infrastructure"),
        ("hub_stack.dashboard_publisher.runtime.publisher", "unit runtimes"),
        ("hub_stack.dashboard_publisher.infrastructure", "unit infrastructure"),
        ("hub_stack.history_query.reads", "unit runtimes"),
        ("enrollment.connection", "unit runtimes"),
        ("enrollment.connection.runtime.connection", "unit runtimes"),
        ("enrollment.connection.infrastructure", "unit infrastructure"),
        ("enrollment.placement.policy", "unit runtimes"),
        ("enrollment.placement.infrastructure", "unit infrastructure"),
        ("org_stack.reconciler.runtime.handler", "unit runtimes"),
        ("org_stack.reconciler.infrastructure", "unit infrastructure"),
        ("org_stack.stack", "unit infrastructure"),
        ("cdk_support.lambda_asset", "shared infrastructure"),
        ("dashboard.html", "unit runtimes"),
        ("cli.main", "cli"),
    ],
)
def test_modules_fall_in_their_documented_layer(module: str, layer: str) -> None:
    assert layer_of(module) == layer


def test_the_enrollment_function_reaches_the_hub_table_only_through_the_spoke_registry(
    all_imports: list[ModuleImport],
) -> None:
    # The enrollment bundle carries the registry and the table's layout and access, never the
    # hub's runtimes (its store, ingest, alerts): docs/architecture.md §3.
    into_hub = [
        found
        for found in all_imports
        if found.importer.startswith("enrollment.") and found.imported.startswith("hub_stack")
    ]
    assert into_hub
    assert {package_of(found.imported) for found in into_hub} == {"hub_stack.spoke_registry"}, (
        _describe(into_hub)
    )


def test_the_hub_functions_meet_only_in_the_shared_runtimes(
    all_imports: list[ModuleImport],
) -> None:
    # A hub function's runtime reads the shared runtimes (the hub's, the registry, the history
    # reads, the page), never another function's; the shared runtimes import no function unit.
    def unit_of(module: str) -> str | None:
        return next(
            (
                unit
                for unit in HUB_FUNCTION_UNITS
                if module == unit or module.startswith(unit + ".")
            ),
            None,
        )

    crossing = [
        found
        for found in all_imports
        if layer_of(found.importer) == "unit runtimes"
        and unit_of(found.imported) is not None
        and unit_of(found.importer) != unit_of(found.imported)
    ]
    assert not crossing, _describe(crossing)


def test_no_import_runs_from_a_lower_layer_to_a_higher_one(
    all_imports: list[ModuleImport],
) -> None:
    upward = [
        found
        for found in all_imports
        if _LAYER_INDEX[layer_of(found.importer)] < _LAYER_INDEX[layer_of(found.imported)]
    ]
    assert not upward, "imports from a lower layer to a higher one:\n" + _describe(upward)


def test_no_import_circle_between_packages(all_imports: list[ModuleImport]) -> None:
    # Top-level packages: a unit's CDK code and its runtime count as one package here; the shared
    # runtime below units counts on its own (`package_of`).
    graph = _graph(
        (found, package_of(found.importer), package_of(found.imported)) for found in all_imports
    )
    circles = _circles(graph)
    assert not circles, "import circles between packages:\n" + "\n".join(circles)


def test_no_import_circle_between_modules(all_imports: list[ModuleImport]) -> None:
    circles = _circles(_graph((found, found.importer, found.imported) for found in all_imports))
    assert not circles, "import circles between modules:\n" + "\n".join(circles)


def test_the_check_sees_function_level_imports_and_names_their_line() -> None:
    # The check is only as good as the import reader: a function-level import must be seen, with
    # its file and line (hub_stack.ingest.runtime.alert_evaluation imports the datapoints under
    # TYPE_CHECKING, indented).
    found = [
        item
        for item in imports_of("hub_stack.ingest.runtime.alert_evaluation")
        if item.imported == "hub_stack.runtime.datapoints"
    ]
    assert found
    source = found[0].path.read_text(encoding="utf-8").splitlines()
    assert "hub_stack.runtime.datapoints" in source[found[0].line - 1]
    assert source[found[0].line - 1].startswith((" ", "\t"))


def _graph(edges: Iterable[tuple[ModuleImport, str, str]]) -> dict[str, dict[str, ModuleImport]]:
    """node -> {neighbour: the first import making that edge}."""
    graph: dict[str, dict[str, ModuleImport]] = defaultdict(dict)
    for found, source, target in edges:
        # A plugin registry importing its plugins by discovery, while they import it to register,
        # is a circle by design (metrics.registry); the layer check still sees those imports.
        if source == target or found.discovered:
            continue
        graph[source].setdefault(target, found)
    return graph


def _circles(graph: dict[str, dict[str, ModuleImport]]) -> list[str]:
    """One description per circle (strongly connected component), with its imports."""
    described = []
    for component in _components(graph):
        edges = [
            found
            for source in sorted(component)
            for target, found in sorted(graph.get(source, {}).items())
            if target in component
        ]
        described.append(" <-> ".join(sorted(component)) + ":\n" + _describe(edges))
    return described


def _components(graph: dict[str, dict[str, ModuleImport]]) -> list[set[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in graph.get(node, {}):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components
