"""The code the org side ships: each function's asset imports its handler alone, and the spoke code
zips are deterministic and keyed by content, so the sandbox and a rollout can rely on the keys."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from cdk_support.lambda_asset import (
    CONNECTION_FUNCTION_ASSET,
    ORG_ENROLLMENT_ASSET,
    ORG_RECONCILER_ASSET,
    RUNTIME_PROVIDED_DISTRIBUTIONS,
    SPOKE_EXTRACTOR_ASSET,
    LambdaAssetSpec,
    build_lambda_asset,
    missing_requirements,
)
from org_stack.artifact_buckets import (
    SPOKE_CODE_KEY_PREFIX,
    artifact_bucket_name,
    artifact_bucket_prefix,
    build_spoke_code_artifacts,
    deterministic_zip,
)

ASSET_HANDLERS = [
    (SPOKE_EXTRACTOR_ASSET, "spoke_stackset.runtime.extractor"),
    (ORG_RECONCILER_ASSET, "org_stack.runtime.reconciler"),
    (ORG_ENROLLMENT_ASSET, "enrollment.runtime.enrollment"),
]


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("org-assets")


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
    # -I -S: no site-packages, no PYTHONPATH, no current directory: the asset, a stand-in for
    # Lambda's bundled boto3, and the standard library only.
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
    provided = directory / "lambda-runtime"
    provided.mkdir()
    for name in sorted(RUNTIME_PROVIDED_DISTRIBUTIONS):
        distribution = metadata.distribution(name)
        for package_path in distribution.files or ():
            parts = package_path.parts
            if parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
                continue
            link = provided / parts[0]
            if not link.exists() and not parts[0].endswith(".pth"):
                link.symlink_to(Path(str(distribution.locate_file(parts[0]))))
    return provided


def test_spoke_code_keys_carry_the_content_hash_of_each_asset(tmp_path: Path) -> None:
    artifacts = build_spoke_code_artifacts(build_root=tmp_path / "zips")
    for artifact, spec in (
        (artifacts.extractor, SPOKE_EXTRACTOR_ASSET),
        (artifacts.connection, CONNECTION_FUNCTION_ASSET),
    ):
        content_hash = build_lambda_asset(spec).content_hash
        assert artifact.key == f"{SPOKE_CODE_KEY_PREFIX}{spec.name}-{content_hash}.zip"
        assert artifact.zip_path.is_file()
        assert artifact.zip_path.parent == artifacts.directory
    # The upload directory holds exactly the two zips, nothing half-written.
    assert sorted(p.name for p in artifacts.directory.iterdir()) == sorted(
        (artifacts.extractor.zip_path.name, artifacts.connection.zip_path.name)
    )


def test_spoke_code_zip_holds_the_handler_at_the_root(tmp_path: Path) -> None:
    artifacts = build_spoke_code_artifacts(build_root=tmp_path / "zips")
    with zipfile.ZipFile(artifacts.extractor.zip_path) as archive:
        names = set(archive.namelist())
    assert "spoke_stackset/runtime/extractor.py" in names
    assert "metrics/registry.py" in names
    assert not any(name.startswith(("aws_cdk/", "boto3/")) for name in names)
    with zipfile.ZipFile(artifacts.connection.zip_path) as archive:
        assert "enrollment/runtime/connection.py" in archive.namelist()


def test_zips_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    source = build_lambda_asset(CONNECTION_FUNCTION_ASSET).path
    # A copy made now: other file times and modes must not matter.
    copy = tmp_path / "copy"
    shutil.copytree(source, copy, copy_function=shutil.copyfile)
    (copy / "contracts" / "__init__.py").chmod(0o600)
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    deterministic_zip(source, first)
    deterministic_zip(copy, second)
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_bucket_names_follow_the_prefix_the_spoke_template_completes() -> None:
    assert artifact_bucket_prefix("999999999999") == "dsdash-artifacts-999999999999"
    assert artifact_bucket_name("999999999999", "eu-west-1") == (
        "dsdash-artifacts-999999999999-eu-west-1"
    )
    # S3 bucket names: at most 63 characters, even in the longest region names.
    assert len(artifact_bucket_name("999999999999", "ap-southeast-2")) <= 63
