"""The Lambda code assets of every stack (hub, spoke, org): what each function type carries, and
that its handler imports from the asset alone plus what the Lambda Python runtime provides
(boto3 and its dependencies)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from cdk_support.lambda_asset import (
    CONNECTION_FUNCTION_ASSET,
    ORG_ENROLLMENT_ASSET,
    ORG_RECONCILER_ASSET,
    RUNTIME_PROVIDED_DISTRIBUTIONS,
    SPOKE_EXTRACTOR_ASSET,
    BuiltLambdaAsset,
    LambdaAssetSpec,
    build_lambda_asset,
    missing_requirements,
    wheel_tag_fits_lambda,
)
from hub_stack.stack import HUB_INGEST_ASSET, HUB_REFRESH_ASSET

ASSET_HANDLERS = [
    (HUB_INGEST_ASSET, "hub_stack.runtime.ingest"),
    (HUB_REFRESH_ASSET, "hub_stack.runtime.refresh"),
    # The platform-health function runs from the refresh asset (same packages).
    (HUB_REFRESH_ASSET, "hub_stack.runtime.platform_health"),
    (CONNECTION_FUNCTION_ASSET, "enrollment.connection.runtime.connection"),
    (SPOKE_EXTRACTOR_ASSET, "spoke_stackset.runtime.extractor"),
    (ORG_RECONCILER_ASSET, "org_stack.reconciler.runtime.handler"),
    (ORG_ENROLLMENT_ASSET, "enrollment.enrollment_function.runtime.handler"),
]


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda-assets")


@pytest.fixture(scope="module")
def ingest_asset(build_root: Path) -> BuiltLambdaAsset:
    return build_lambda_asset(HUB_INGEST_ASSET, build_root=build_root)


def _top_level_names(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


def test_ingest_asset_holds_its_packages_and_jsonschema_but_no_cdk_or_boto3(
    ingest_asset: BuiltLambdaAsset,
) -> None:
    root = ingest_asset.path
    for needed in (
        "contracts/__init__.py",
        "contracts/metric_event_v2.schema.json",
        "runtime_common/aws.py",
        "hub_stack/__init__.py",
        "hub_stack/table_design.py",
        "hub_stack/runtime/__init__.py",
        "jsonschema/__init__.py",
        "aws_lambda_powertools/__init__.py",
    ):
        assert (root / needed).is_file(), f"{needed} missing from the ingest asset"
    top_level = _top_level_names(root)
    for absent in ("aws_cdk", "constructs", "cdk_nag", "jsii", "boto3", "botocore", "moto"):
        assert absent not in top_level
    # The CDK stack module imports aws_cdk; Lambda must never see it.
    assert not (root / "hub_stack" / "stack.py").exists()
    assert not list(root.rglob("__pycache__"))
    assert not list(root.rglob("*.pyc"))


def test_connection_asset_holds_the_connection_package_only(build_root: Path) -> None:
    built = build_lambda_asset(CONNECTION_FUNCTION_ASSET, build_root=build_root)
    top_level = _top_level_names(built.path)
    assert {"enrollment", "contracts", "runtime_common", "aws_lambda_powertools"} <= top_level
    assert not {"hub_stack", "jsonschema", "boto3", "aws_cdk"} & top_level


@pytest.mark.parametrize("spec", [spec for spec, _ in ASSET_HANDLERS], ids=lambda s: s.name)
def test_bundled_distributions_include_everything_they_require(spec: LambdaAssetSpec) -> None:
    assert missing_requirements(spec.distributions) == []


@pytest.mark.parametrize(
    ("spec", "handler_module"), ASSET_HANDLERS, ids=[spec.name for spec, _ in ASSET_HANDLERS]
)
def test_handler_imports_from_its_asset_and_the_lambda_runtime_alone(
    spec: LambdaAssetSpec, handler_module: str, build_root: Path, tmp_path: Path
) -> None:
    built = build_lambda_asset(spec, build_root=build_root)
    assert not list(built.path.rglob("stack.py")), "a CDK stack module leaked into an asset"
    runtime_provided = _runtime_provided_directory(tmp_path)
    # -I -S: no site-packages, no PYTHONPATH, no current directory; only the asset, the
    # stand-in for Lambda's bundled boto3, and the standard library.
    program = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(built.path)!r}, {str(runtime_provided)!r}]\n"
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
    assert result.returncode == 0, result.stderr


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
    smaller = LambdaAssetSpec(name="probe", first_party=("contracts",))
    larger = LambdaAssetSpec(name="probe", first_party=("contracts", "runtime_common"))
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
