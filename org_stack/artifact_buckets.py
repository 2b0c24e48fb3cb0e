"""The org-readable artifact bucket per region, and the spoke code zips uploaded into it.

Service-managed StackSets deploy into accounts that are not CDK-bootstrapped, so the spoke
template cannot use CDK assets. Its Lambda code comes instead from a bucket the org stack's
account (the management account, or the StackSets delegated administrator) owns in each
configured region (Lambda reads code only from a bucket in the function's
own region), readable by every account of the organization (`aws:PrincipalOrgID`): the pattern
AWS's Security Reference Architecture uses for its staging buckets.

Naming (stable, so spoke templates can compute it):
- bucket: `dsdash-artifacts-<org stack account id>-<region>`; the spoke template's
  `CodeBucketPrefix` parameter is the part before `-<region>`;
- keys: `spoke-code/<asset name>-<sha256 of the asset's files>.zip`, for example
  `spoke-code/spoke-extractor-<64 hex>.zip` and `spoke-code/connection-<64 hex>.zip`. The hash is
  `cdk_support.lambda_asset.directory_content_hash` of the unzipped asset (paths and bytes), so a
  code change gives a new key, the StackSet's parameters change, and every instance updates;
  identical code keeps its key on every machine.

Zips are deterministic (sorted entries, fixed timestamps and permissions), so rebuilding the same
code gives the same bytes. They are uploaded by `aws_s3_deployment.BucketDeployment`, which needs
no Docker: its handler and AWS CLI layer ship pre-built with aws-cdk-lib. It never prunes, so
instances still pointing at an older key keep working during a rollout. Each region's bucket
lives in its own `ArtifactBucketStack`, since a CDK stack is single-region.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from cdk_support import nag
from cdk_support.lambda_asset import (
    CONNECTION_FUNCTION_ASSET,
    REPOSITORY_ROOT,
    SPOKE_EXTRACTOR_ASSET,
    LambdaAssetSpec,
    build_lambda_asset,
)
from config.model import DsdashConfig

ARTIFACT_BUCKET_NAME_PREFIX: Final = "dsdash-artifacts-"
SPOKE_CODE_KEY_PREFIX: Final = "spoke-code/"
DEFAULT_ARTIFACT_BUILD_ROOT: Final = REPOSITORY_ROOT / "build" / "spoke-code"
# 1980-01-01, the earliest time a zip entry can hold: no build time leaks into the bytes.
_ZIP_TIMESTAMP: Final = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE: Final = 0o644 << 16
ACCESS_LOG_RETENTION: Final = cdk.Duration.days(365)
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY: Final = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


def artifact_bucket_prefix(owner_account_id: str) -> str:
    """The spoke template's `CodeBucketPrefix`: the bucket name without `-<region>`."""
    return f"{ARTIFACT_BUCKET_NAME_PREFIX}{owner_account_id}"


def artifact_bucket_name(owner_account_id: str, region: str) -> str:
    return f"{artifact_bucket_prefix(owner_account_id)}-{region}"


@dataclass(frozen=True)
class SpokeCodeArtifact:
    asset_name: str
    content_hash: str
    zip_path: Path

    @property
    def key(self) -> str:
        return f"{SPOKE_CODE_KEY_PREFIX}{self.zip_path.name}"


@dataclass(frozen=True)
class SpokeCodeArtifacts:
    """The spoke functions' zips, in one directory that is uploaded as is."""

    extractor: SpokeCodeArtifact
    connection: SpokeCodeArtifact
    directory: Path


def build_spoke_code_artifacts(
    *, build_root: Path | None = None, asset_build_root: Path | None = None
) -> SpokeCodeArtifacts:
    """Zip the extractor and connection assets into a content-addressed upload directory."""
    root = (build_root or DEFAULT_ARTIFACT_BUILD_ROOT).resolve()
    root.mkdir(parents=True, exist_ok=True)
    built = {
        spec.name: build_lambda_asset(spec, build_root=asset_build_root)
        for spec in (SPOKE_EXTRACTOR_ASSET, CONNECTION_FUNCTION_ASSET)
    }
    names = {name: f"{name}-{asset.content_hash}.zip" for name, asset in built.items()}
    directory_hash = hashlib.sha256("\n".join(sorted(names.values())).encode()).hexdigest()
    directory = root / directory_hash[:16]
    if not directory.exists():
        # Built aside and renamed, so concurrent synths never upload a half-written directory.
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
        staging.chmod(0o755)
        try:
            for name, asset in built.items():
                deterministic_zip(asset.path, staging / names[name])
            try:
                staging.rename(directory)
            except OSError:
                if not directory.exists():
                    raise
        finally:
            if staging.exists():
                shutil.rmtree(staging)

    def artifact(spec: LambdaAssetSpec) -> SpokeCodeArtifact:
        return SpokeCodeArtifact(
            asset_name=spec.name,
            content_hash=built[spec.name].content_hash,
            zip_path=directory / names[spec.name],
        )

    return SpokeCodeArtifacts(
        extractor=artifact(SPOKE_EXTRACTOR_ASSET),
        connection=artifact(CONNECTION_FUNCTION_ASSET),
        directory=directory,
    )


def deterministic_zip(source: Path, destination: Path) -> None:
    """Zip `source`'s files (sorted, fixed time and mode), so equal trees give equal bytes."""
    files = sorted(
        (Path(current) / name for current, _, names in os.walk(source) for name in names),
        key=lambda path: path.relative_to(source).as_posix(),
    )
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_TIMESTAMP)
            entry.external_attr = _ZIP_FILE_MODE
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes(), compresslevel=9)


class ArtifactBucketStack(cdk.Stack):
    """The artifact bucket of one region in the org stack's account, with the spoke code.

    That account is `organization.administrator_account_id`: the management account, or the
    StackSets delegated administrator, which then keeps everything that runs code (the bucket
    deployment is a Lambda-backed custom resource) out of the management account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DsdashConfig,
        region: str,
        artifacts: SpokeCodeArtifacts,
        synthesizer: cdk.IStackSynthesizer | None = None,
    ) -> None:
        owner_account = config.organization.administrator_account_id
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=owner_account, region=region),
            synthesizer=synthesizer,
            description=f"dsdash spoke code artifacts for {region}, readable by the organization",
        )
        # Grant S3 log delivery through the log bucket's policy rather than the legacy
        # LogDeliveryWrite ACL, so both buckets can disable ACLs (BucketOwnerEnforced). Set on
        # this stack before any bucket exists, since the CDK reads the flag from the context.
        self.node.set_context(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_RETENTION)],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # SSE-S3 rather than KMS: every account's CloudFormation execution role and Lambda read
        # the code; a KMS key would need a key policy for the whole organization as well, for
        # no confidentiality gain on code that every member account may read anyway.
        self.bucket = s3.Bucket(
            self,
            "ArtifactBucket",
            bucket_name=artifact_bucket_name(owner_account, region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="artifact-bucket/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Every principal of the organization may read the code (the StackSet execution role
        # that creates the functions, and Lambda acting for it), and no one else.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationMembersReadSpokeCode",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{SPOKE_CODE_KEY_PREFIX}*")],
                conditions={"StringEquals": {"aws:PrincipalOrgID": config.organization.id}},
            )
        )
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "SpokeCode",
            sources=[s3_deployment.Source.asset(str(artifacts.directory))],
            destination_bucket=self.bucket,
            destination_key_prefix=SPOKE_CODE_KEY_PREFIX,
            prune=False,
            retain_on_delete=True,
        )
        self._acknowledge_bucket_deployment()
        cdk.CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "ExtractorCodeKey", value=artifacts.extractor.key)
        cdk.CfnOutput(self, "ConnectionCodeKey", value=artifacts.connection.key)

    def _acknowledge_bucket_deployment(self) -> None:
        """The findings on the CDK's own BucketDeployment handler (a singleton per stack), which
        we configure but whose code and policy the CDK writes."""
        (handler,) = (
            child
            for child in self.node.children
            if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        bucket_logical_id = self.resolve(
            self.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        )
        asset_bucket = (
            f"cdk-{cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{self.account}-"
            f"{self.region}"
        )
        role_reason = (
            "The CDK's BucketDeployment handler copies the spoke code from the CDK asset "
            "bucket into the artifact bucket during deployment; the CDK generates its role, "
            "limited to those two buckets, and it runs only during deployments."
        )
        acknowledgments = {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": role_reason
            + " The managed policy only lets it write its own logs.",
            "AwsSolutions-L1": "The CDK pins the BucketDeployment handler's runtime together "
            "with its bundled AWS CLI layer; it moves with aws-cdk-lib upgrades, not with ours.",
        }
        for wildcard in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            f"Resource::arn:<AWS::Partition>:s3:::{asset_bucket}/*",
            f"Resource::<{bucket_logical_id}.Arn>/*",
        ):
            acknowledgments[f"AwsSolutions-IAM5[{wildcard}]"] = (
                role_reason + " The action groups are the CDK's grantRead/grantReadWrite sets."
            )
        for rule_id, reason in acknowledgments.items():
            nag.acknowledge(handler, rule_id, reason)
