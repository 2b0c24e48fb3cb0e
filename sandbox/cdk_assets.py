"""Read a CDK cloud assembly and publish its file assets, as `cdk deploy` does before CreateStack.

The assembly's `manifest.json` names each stack artifact, its template file, its environment
(`aws://<account>/<region>`) and its asset manifest (`<stack>.assets.json`). Each file asset
lists a source (a file, or a directory with `packaging: zip`) and its destinations (bucket, key,
region). Directories are zipped deterministically (sorted entries, fixed timestamps and modes), so
the same source always gives the same bytes. Destination buckets that do not exist yet are
created, as `cdk bootstrap` would have created the asset bucket
(https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html). Publishing uses the given
session's account; the bootstrap publishing roles named in the manifest are not assumed.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from runtime_common.aws import client

STACK_ARTIFACT_TYPE: Final = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT_TYPE: Final = "cdk:asset-manifest"
# Zip entries carry this timestamp (the earliest a zip can store) so archives are reproducible.
ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


class CloudAssemblyError(RuntimeError):
    """The cloud assembly lacks what deploying a stack needs, or describes another account."""


@dataclass(frozen=True)
class StackArtifact:
    artifact_id: str
    stack_name: str
    template_path: Path
    # None when the stack is environment-agnostic (`aws://unknown-account/unknown-region`).
    account_id: str | None
    region: str | None
    asset_manifest_path: Path | None

    def template_body(self) -> str:
        return self.template_path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class AssetDestination:
    bucket_name: str
    object_key: str
    region: str | None


@dataclass(frozen=True)
class FileAsset:
    asset_id: str
    source_path: Path
    packaging: str  # "file" or "zip"
    destinations: tuple[AssetDestination, ...]

    def content(self) -> bytes:
        if self.packaging == "zip" and self.source_path.is_dir():
            return zip_directory(self.source_path)
        return self.source_path.read_bytes()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CloudAssemblyError(f"{path} does not exist; synthesize the CDK app first") from None


def read_stack_artifact(cloud_assembly_dir: Path, stack_artifact_id: str) -> StackArtifact:
    manifest = _read_json(cloud_assembly_dir / "manifest.json")
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    artifact = artifacts.get(stack_artifact_id)
    if artifact is None or artifact.get("type") != STACK_ARTIFACT_TYPE:
        stacks = sorted(k for k, v in artifacts.items() if v.get("type") == STACK_ARTIFACT_TYPE)
        raise CloudAssemblyError(
            f"{cloud_assembly_dir} has no stack artifact {stack_artifact_id!r}; it has {stacks}"
        )
    properties = artifact.get("properties", {})
    account_id, region = _environment(artifact.get("environment", ""))
    asset_manifest: Path | None = None
    for dependency in artifact.get("dependencies", []):
        dependency_artifact = artifacts.get(dependency, {})
        if dependency_artifact.get("type") == ASSET_MANIFEST_ARTIFACT_TYPE:
            asset_manifest = cloud_assembly_dir / dependency_artifact["properties"]["file"]
    return StackArtifact(
        artifact_id=stack_artifact_id,
        stack_name=properties.get("stackName", stack_artifact_id),
        template_path=cloud_assembly_dir / properties["templateFile"],
        account_id=account_id,
        region=region,
        asset_manifest_path=asset_manifest,
    )


def _environment(environment: str) -> tuple[str | None, str | None]:
    # aws://<account>/<region>, with "unknown-account"/"unknown-region" for agnostic stacks.
    prefix = "aws://"
    if not environment.startswith(prefix):
        return None, None
    account, _, region = environment[len(prefix) :].partition("/")
    return (
        None if account.startswith("unknown-") else account,
        None if region.startswith("unknown-") else region,
    )


def read_file_assets(asset_manifest_path: Path, *, account_id: str, region: str) -> list[FileAsset]:
    """The manifest's file assets, with `${AWS::AccountId}`/`${AWS::Region}` placeholders filled."""
    manifest = _read_json(asset_manifest_path)
    if manifest.get("dockerImages"):
        raise CloudAssemblyError(
            f"{asset_manifest_path} has Docker image assets; the sandbox has no Docker"
        )

    def fill(text: str) -> str:
        return (
            text.replace("${AWS::AccountId}", account_id)
            .replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", "aws")
        )

    assets = []
    for asset_id, asset in sorted(manifest.get("files", {}).items()):
        source = asset["source"]
        if "path" not in source:
            raise CloudAssemblyError(
                f"asset {asset_id} in {asset_manifest_path} is built by a command "
                f"({source.get('executable')}); only path sources are supported"
            )
        assets.append(
            FileAsset(
                asset_id=asset_id,
                source_path=asset_manifest_path.parent / source["path"],
                packaging=source.get("packaging", "file"),
                destinations=tuple(
                    AssetDestination(
                        bucket_name=fill(destination["bucketName"]),
                        object_key=fill(destination["objectKey"]),
                        region=fill(destination["region"]) if "region" in destination else None,
                    )
                    for _, destination in sorted(asset["destinations"].items())
                ),
            )
        )
    return assets


def zip_directory(directory: Path) -> bytes:
    """A reproducible zip of `directory`: sorted entries, fixed timestamps and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for current, directory_names, file_names in os.walk(directory):
            directory_names.sort()
            for file_name in sorted(file_names):
                path = Path(current) / file_name
                entry = zipfile.ZipInfo(path.relative_to(directory).as_posix(), ZIP_EPOCH)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16  # readable by Lambda's runtime user
                archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def ensure_bucket(session: boto3.Session, bucket_name: str, region: str) -> None:
    """Create the bucket unless it exists (outside us-east-1 S3 needs a LocationConstraint)."""
    s3 = client(session, "s3", region_name=region)
    try:
        s3.head_bucket(Bucket=bucket_name)
        return
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    arguments: dict[str, Any] = {"Bucket": bucket_name}
    if region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**arguments)


def publish_file_assets(
    session: boto3.Session, assets: list[FileAsset], *, default_region: str
) -> list[str]:
    """Upload every asset to every destination; returns the `s3://bucket/key` URLs written."""
    written = []
    for asset in assets:
        body = asset.content()
        for destination in asset.destinations:
            region = destination.region or default_region
            ensure_bucket(session, destination.bucket_name, region)
            client(session, "s3", region_name=region).put_object(
                Bucket=destination.bucket_name, Key=destination.object_key, Body=body
            )
            written.append(f"s3://{destination.bucket_name}/{destination.object_key}")
    return written
