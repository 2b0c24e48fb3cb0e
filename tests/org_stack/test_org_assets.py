"""The spoke code the org side ships: zips that are deterministic and keyed by content, so the
sandbox and a rollout can rely on the keys. (Each function's asset is checked in
tests/cdk_support/test_lambda_assets.py.)"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

from cdk_support.lambda_asset import (
    CONNECTION_FUNCTION_ASSET,
    SPOKE_EXTRACTOR_ASSET,
    build_lambda_asset,
)
from org_stack.artifact_buckets import (
    SPOKE_CODE_KEY_PREFIX,
    artifact_bucket_name,
    artifact_bucket_prefix,
    build_spoke_code_artifacts,
    deterministic_zip,
)


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
    assert "spoke_stackset/extractor/runtime/extractor.py" in names
    assert "metrics/registry.py" in names
    assert not any(name.startswith(("aws_cdk/", "boto3/")) for name in names)
    with zipfile.ZipFile(artifacts.connection.zip_path) as archive:
        assert "enrollment/connection/runtime/connection.py" in archive.namelist()


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
