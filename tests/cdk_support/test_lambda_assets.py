"""The Lambda code of every function the app synthesizes (hub, org and spoke templates): each
bundle holds exactly the import closure of its handler plus the distributions that closure needs,
and its handler imports from the bundle alone plus what the Lambda Python runtime provides (boto3
and its dependencies)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import app as dsdash_app
from cdk_support.import_graph import first_party_modules
from cdk_support.lambda_asset import (
    CONNECTION_FUNCTION_ASSET,
    RUNTIME_PROVIDED_DISTRIBUTIONS,
    LambdaAssetSpec,
    build_lambda_asset,
    canonical_name,
    wheel_tag_fits_lambda,
)
from config.loader import load_config

# Functions the CDK itself adds, running its own code (not ours): the BucketDeployment that
# uploads the spoke code, and the custom-resource provider behind the org stack's Trigger.
CDK_PROVIDED_HANDLERS = frozenset({"index.handler", "__entrypoint__.handler"})


@dataclass(frozen=True)
class SynthesizedFunction:
    template: str
    logical_id: str
    handler: str
    bundle: Path

    @property
    def handler_module(self) -> str:
        return self.handler.rpartition(".")[0]


@pytest.fixture(scope="module")
def functions(tmp_path_factory: pytest.TempPathFactory) -> list[SynthesizedFunction]:
    """Every Lambda function of the app synthesized from config/projects.yaml, with the directory
    its code comes from: the staged CDK asset, or the spoke code zip its StackSet names."""
    outdir = tmp_path_factory.mktemp("cdk-out")
    app = cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    dsdash_app.build_app(load_config(), app)
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    for path in sorted((outdir / dsdash_app.SPOKE_TEMPLATES_DIRECTORY).rglob("*.template.json")):
        templates[path.name] = json.loads(path.read_text(encoding="utf-8"))
    spoke_code_keys = _spoke_code_keys(templates[dsdash_app.ORG_STACK_ID])
    found = []
    for name, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            properties = resource["Properties"]
            key = properties["Code"]["S3Key"]
            if isinstance(key, dict):  # a spoke template: the key is a StackSet parameter
                bundle = _unzipped(outdir, spoke_code_keys[key["Ref"]], tmp_path_factory)
            else:
                bundle = outdir / f"asset.{key.removesuffix('.zip')}"
            found.append(SynthesizedFunction(name, logical_id, properties["Handler"], bundle))
    return found


def _spoke_code_keys(org_template: dict[str, Any]) -> dict[str, str]:
    keys: dict[str, set[str]] = {}
    for resource in org_template["Resources"].values():
        if resource["Type"] == "AWS::CloudFormation::StackSet":
            for parameter in resource["Properties"].get("Parameters", []):
                if parameter["ParameterKey"].endswith("CodeKey"):
                    keys.setdefault(parameter["ParameterKey"], set()).add(
                        parameter["ParameterValue"]
                    )
    assert all(len(values) == 1 for values in keys.values()), keys
    return {key: values.pop() for key, values in keys.items()}


def _unzipped(outdir: Path, object_key: str, factory: pytest.TempPathFactory) -> Path:
    """The spoke code zip the artifact stacks upload under `object_key`, extracted."""
    (archive,) = {path for path in outdir.glob(f"asset.*/{Path(object_key).name}")}
    destination = factory.mktemp(archive.stem)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(destination)
    return destination


def _ours(functions: list[SynthesizedFunction]) -> list[SynthesizedFunction]:
    return [function for function in functions if function.handler not in CDK_PROVIDED_HANDLERS]


def test_every_function_is_ours_or_the_cdks(functions: list[SynthesizedFunction]) -> None:
    modules = first_party_modules()
    for function in _ours(functions):
        assert function.handler_module in modules, function
    handlers = {function.handler_module for function in _ours(functions)}
    # One function of each kind the app deploys, in the hub, org and spoke templates.
    assert handlers == {
        "hub_stack.ingest.runtime.ingest",
        "hub_stack.refresh.runtime.refresh",
        "hub_stack.platform_health.runtime.platform_health",
        # The hub's dashboard publisher renders the page, a shared runtime below it (§3).
        "hub_stack.dashboard_publisher.runtime.publisher",
        "enrollment.connection.runtime.connection",
        "enrollment.enrollment_function.runtime.handler",
        "org_stack.reconciler.runtime.handler",
        "spoke_stackset.extractor.runtime.extractor",
    }


def _first_party_files(bundle: Path) -> set[str]:
    top_level = {name.split(".")[0] for name in first_party_modules()}
    return {
        path.relative_to(bundle).as_posix()
        for path in bundle.rglob("*")
        if path.is_file() and path.relative_to(bundle).parts[0].removesuffix(".py") in top_level
    }


def _distributions(bundle: Path) -> set[str]:
    return {
        canonical_name(path.name.removesuffix(".dist-info").rpartition("-")[0])
        for path in bundle.glob("*.dist-info")
    }


def test_every_bundle_holds_exactly_its_handlers_closure(
    functions: list[SynthesizedFunction],
) -> None:
    for function in _ours(functions):
        expected = LambdaAssetSpec(name="expected", handler_module=function.handler_module)
        assert _first_party_files(function.bundle) == set(expected.first_party_files()), function
        assert _distributions(function.bundle) == set(expected.distributions()), function


def test_the_enrollment_bundle_holds_the_spoke_registry_and_none_of_the_hub_runtimes(
    functions: list[SynthesizedFunction],
) -> None:
    # The enrollment function writes the hub's spoke registry; it ships the registry and the
    # table's layout and access (docs/architecture.md §3), not the hub store, ingest or alerts.
    (enrollment,) = [
        function
        for function in _ours(functions)
        if function.handler_module == "enrollment.enrollment_function.runtime.handler"
    ]
    files = _first_party_files(enrollment.bundle)
    assert {
        "hub_stack/spoke_registry/registry.py",
        "hub_stack/table_access.py",
        "hub_stack/table_design.py",
    } <= files
    hub_runtimes = ("runtime", "ingest", "refresh", "platform_health", "dashboard_publisher")
    assert (
        sorted(
            path
            for path in files
            if path.startswith((*(f"hub_stack/{name}/" for name in hub_runtimes), "org_stack/"))
        )
        == []
    )


def test_bundles_hold_no_cdk_test_or_runtime_provided_code(
    functions: list[SynthesizedFunction],
) -> None:
    for function in _ours(functions):
        top_level = {path.name for path in function.bundle.iterdir()}
        # DuckDB and pyarrow are the CLI's and the sandbox's (their wheels do not fit Lambda's runtime).
        for absent in (
            *("aws_cdk", "constructs", "cdk_nag", "jsii", "boto3", "botocore", "moto"),
            *("duckdb", "pyarrow"),
        ):
            assert absent not in top_level, (function, absent)
        assert not list(function.bundle.rglob("stack.py")), function
        assert not list(function.bundle.rglob("__pycache__")), function
        assert not list(function.bundle.rglob("*.pyc")), function
    extractor = next(f for f in functions if f.handler.startswith("spoke_stackset."))
    # The extractor validates metric arguments with jsonschema, which checks date-time formats
    # only with rfc3339-validator installed (an optional requirement the builder adds).
    assert {"jsonschema", "rfc3339-validator", "rpds-py"} <= _distributions(extractor.bundle)
    assert (extractor.bundle / "contracts" / "metric_event_v2.schema.json").is_file()


def test_handlers_import_from_their_bundle_and_the_lambda_runtime_alone(
    functions: list[SynthesizedFunction], tmp_path: Path
) -> None:
    runtime_provided = _runtime_provided_directory(tmp_path)
    for bundle, handler_module in sorted({(f.bundle, f.handler_module) for f in _ours(functions)}):
        # -I -S: no site-packages, no PYTHONPATH, no current directory; only the bundle, the
        # stand-in for Lambda's bundled boto3, and the standard library.
        program = (
            "import importlib, sys\n"
            f"sys.path[:0] = [{str(bundle)!r}, {str(runtime_provided)!r}]\n"
            f"module = importlib.import_module({handler_module!r})\n"
            "assert callable(module.handler)\n"
            "leaked = [m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'moto')]\n"
            "assert not leaked, leaked\n"
        )
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", program],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (handler_module, result.stderr)


def _runtime_provided_directory(directory: Path) -> Path:
    """Symlinks to the top-level modules of the distributions Lambda's runtime ships."""
    provided = directory / "lambda-runtime"
    provided.mkdir()
    for name in sorted(RUNTIME_PROVIDED_DISTRIBUTIONS):
        distribution = metadata.distribution(name)
        for package_path in distribution.files or ():
            parts = package_path.parts
            if parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
                continue
            top = parts[0]
            link = provided / top
            if not link.exists() and not top.endswith(".pth"):
                link.symlink_to(Path(str(distribution.locate_file(top))))
    return provided


def test_asset_is_content_addressed_and_reproducible(tmp_path: Path) -> None:
    first = build_lambda_asset(CONNECTION_FUNCTION_ASSET, build_root=tmp_path / "one")
    second = build_lambda_asset(CONNECTION_FUNCTION_ASSET, build_root=tmp_path / "two")
    assert first.content_hash == second.content_hash
    assert first.path.name == f"connection-{first.content_hash[:16]}"
    # Only the finished directory remains; no staging leftovers.
    assert [p.name for p in (tmp_path / "one").iterdir()] == [first.path.name]


def test_assets_with_different_contents_get_different_hashes(tmp_path: Path) -> None:
    smaller = LambdaAssetSpec(name="probe", handler_module="runtime_common.timestamps")
    larger = LambdaAssetSpec(name="probe", handler_module="runtime_common.identifiers")
    assert (
        build_lambda_asset(smaller, build_root=tmp_path).content_hash
        != build_lambda_asset(larger, build_root=tmp_path).content_hash
    )


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("py2.py3-none-any", True),
        ("cp311-cp311-manylinux_2_17_x86_64", True),
        ("cp311-cp311-manylinux2014_x86_64", True),
        ("cp39-abi3-manylinux_2_17_x86_64", True),
        # Lambda python3.11 runs on Amazon Linux 2, glibc 2.26.
        ("cp311-cp311-manylinux_2_28_x86_64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
        ("cp311-cp311-musllinux_1_2_x86_64", False),
        ("cp312-cp312-manylinux_2_17_x86_64", False),
        ("cp311-cp311-macosx_11_0_arm64", False),
    ],
)
def test_wheel_tags_are_checked_against_the_lambda_platform(tag: str, fits: bool) -> None:
    assert wheel_tag_fits_lambda(tag) is fits
