"""moto gaps of the storage resources in dsdash's templates (registered in
`sandbox.moto_gap_registry`, installed by `sandbox.moto_cloudformation_gaps`; docs/architecture.md §6).

moto gaps filled here:
- moto gap: `AWS::S3::BucketPolicy` has no model in moto's CloudFormation: here PutBucketPolicy;
- moto gap: `AWS::DynamoDB::Table` ignores `TimeToLiveSpecification` and
  `PointInTimeRecoverySpecification`. They are applied through moto's UpdateTimeToLive and
  UpdateContinuousBackups after the table exists (`PROPERTY_GAP_FILLS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.s3.models import s3_backends

from sandbox.moto_gap_registry import GapResource, gap_handler, json_text, property_gap_fill


@gap_handler
class BucketPolicy(GapResource):
    """moto gap: AWS::S3::BucketPolicy is skipped; here it is PutBucketPolicy."""

    resource_type = "AWS::S3::BucketPolicy"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        bucket = properties["Bucket"]
        s3_backends[account_id]["aws"].put_bucket_policy(
            bucket, json_text(properties["PolicyDocument"]).encode("utf-8")
        )
        return cls(generated_name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = s3_backends[account_id]["aws"]
        if self.properties["Bucket"] in backend.buckets:
            backend.delete_bucket_policy(self.properties["Bucket"])


@property_gap_fill("AWS::DynamoDB::Table")
def _table_time_to_live(
    table: Any, properties: Mapping[str, Any], account: str, region: str
) -> None:
    # moto gap: TimeToLiveSpecification is ignored by moto's Table.create_from_cloudformation_json.
    specification = properties.get("TimeToLiveSpecification")
    if specification:
        dynamodb_backends[account][region].update_time_to_live(table.name, dict(specification))


@property_gap_fill("AWS::DynamoDB::Table")
def _table_point_in_time_recovery(
    table: Any, properties: Mapping[str, Any], account: str, region: str
) -> None:
    # moto gap: PointInTimeRecoverySpecification is ignored as well.
    specification = properties.get("PointInTimeRecoverySpecification")
    if specification:
        dynamodb_backends[account][region].update_continuous_backups(
            table.name, dict(specification)
        )
