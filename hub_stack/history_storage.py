"""History storage of the hub: Parquet in S3, a Glue table over it, an Athena workgroup, Firehose.

Everything derives from `contracts.history_table` (docs/architecture.md §4, §7 "Hub data plane
(issue 10)"):
- the history bucket (private, SSE-S3, TLS only, objects expire after `retention_days`), holding
  `history/dt=<delivery day>/*.parquet`;
- the Glue database and table: columns, partition key and partition projection from the contract,
  so Athena needs no crawler and no partition registration;
- the Athena workgroup, with its configuration enforced and its own encrypted results bucket
  whose objects expire;
- the Firehose delivery stream the ingest function puts rows on: JSON rows -> Parquet (record
  format conversion with the Glue table's schema) under the partition prefix, failed records
  under `errors/`. Its role may read that one Glue table and write those two prefixes only.

L1 constructs for the stream, table and workgroup: every property the contract fixes is written
here explicitly, and the role is ours (the L2 delivery stream creates its own grants).
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_support import nag
from contracts import history_table

# Firehose's buffer before it writes an object. Record format conversion needs at least 64 MiB;
# the longest interval (15 minutes) makes the fewest, largest objects (fewer requests for Athena
# and DuckDB to read). https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html
BUFFER_SIZE_MIB: Final = 128
BUFFER_INTERVAL_SECONDS: Final = 900
ERROR_PREFIX: Final = history_table.DELIVERY_ERROR_PREFIX
HISTORY_OBJECT_PREFIX: Final = history_table.DELIVERY_PREFIX
# Query results are kept a week: the CLI reads them at once; older ones are only cost.
ATHENA_RESULTS_EXPIRY_DAYS: Final = 7
# A query that would scan more than this is cancelled: a guard against a query without a date
# filter over years of history.
ATHENA_BYTES_SCANNED_CUTOFF: Final = 10 * 1024**3
PARQUET_INPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

_NO_ACCESS_LOGS_REASON: Final = (
    "S3 server access logs would need a third bucket per hub; the buckets are private, reached "
    "only through the hub's Firehose role and the operator's own credentials, and CloudTrail "
    "records who reads them."
)


class HistoryStorage(Construct):
    """The history bucket, Glue table, Athena workgroup and delivery stream of one hub."""

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.bucket = self._private_bucket(
            "HistoryBucket",
            history_table.history_bucket_name(stack.account, stack.region),
            expiry_days=retention_days,
        )
        self.results_bucket = self._private_bucket(
            "AthenaResultsBucket",
            history_table.athena_results_bucket_name(stack.account, stack.region),
            expiry_days=ATHENA_RESULTS_EXPIRY_DAYS,
        )
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=history_table.GLUE_DATABASE_NAME,
                description="dsdash metric history (Parquet in the history bucket)",
            ),
        )
        self.table = self._glue_table()
        self.workgroup = self._workgroup()
        self.delivery_role = self._delivery_role()
        self.delivery_stream = self._delivery_stream()

    # --- buckets -------------------------------------------------------------------------

    def _private_bucket(self, construct_id: str, name: str, *, expiry_days: int) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire",
                    expiration=cdk.Duration.days(expiry_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            # History outlives a deleted stack, like the hub table.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        nag.acknowledge(bucket, "AwsSolutions-S1", _NO_ACCESS_LOGS_REASON)
        return bucket

    # --- catalog -------------------------------------------------------------------------

    def _glue_table(self) -> glue.CfnTable:
        stack = cdk.Stack.of(self)
        # The contract's fixed name, not a Ref: the table's text is then exactly the contract's.
        bucket_name = history_table.history_bucket_name(stack.account, stack.region)
        table = glue.CfnTable(
            self,
            "Table",
            catalog_id=stack.account,
            database_name=history_table.GLUE_DATABASE_NAME,
            table_input=glue.CfnTable.TableInputProperty(
                name=history_table.GLUE_TABLE_NAME,
                description="One row per validated datapoint; partition dt = delivery day (UTC)",
                table_type="EXTERNAL_TABLE",
                parameters=history_table.partition_projection_parameters(bucket_name),
                partition_keys=[
                    glue.CfnTable.ColumnProperty(
                        name=c["Name"], type=c["Type"], comment=c["Comment"]
                    )
                    for c in history_table.glue_partition_keys()
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(
                            name=c["Name"], type=c["Type"], comment=c["Comment"]
                        )
                        for c in history_table.glue_columns()
                    ],
                    location=f"s3://{bucket_name}/{history_table.HISTORY_PREFIX}",
                    input_format=PARQUET_INPUT_FORMAT,
                    output_format=PARQUET_OUTPUT_FORMAT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                ),
            ),
        )
        table.add_dependency(self.database)
        table.node.add_dependency(self.bucket)
        return table

    def _table_arns(self) -> list[str]:
        """The catalog, database and table: what GetTable* needs on all three."""
        stack = cdk.Stack.of(self)
        database = history_table.GLUE_DATABASE_NAME
        return [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=database),
            stack.format_arn(
                service="glue",
                resource="table",
                resource_name=f"{database}/{history_table.GLUE_TABLE_NAME}",
            ),
        ]

    # --- Athena --------------------------------------------------------------------------

    @property
    def _results_bucket_name(self) -> str:
        stack = cdk.Stack.of(self)
        return history_table.athena_results_bucket_name(stack.account, stack.region)

    def _workgroup(self) -> athena.CfnWorkGroup:
        workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=history_table.ATHENA_WORKGROUP_NAME,
            description="dsdash history queries (dsdash query/dashboard --engine athena)",
            state="ENABLED",
            # Deleting the stack deletes the workgroup even if it still lists saved queries.
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # Clients cannot send results elsewhere or unencrypted.
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=ATHENA_BYTES_SCANNED_CUTOFF,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self._results_bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        workgroup.node.add_dependency(self.results_bucket)
        return workgroup

    # --- Firehose ------------------------------------------------------------------------

    def _delivery_role(self) -> iam.Role:
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "DeliveryRole",
            description="Firehose converts history rows to Parquet and writes them to S3",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
                resources=self._table_arns(),
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[self.bucket.bucket_arn],
            )
        )
        # The bucket's name is fixed (the contract's), so the ARNs are written out: cdk-nag then
        # names them plainly in the finding ids acknowledged below.
        bucket_name = history_table.history_bucket_name(stack.account, stack.region)
        prefixes = (f"{history_table.HISTORY_PREFIX}*", "errors/*")
        written = [f"arn:{stack.partition}:s3:::{bucket_name}/{prefix}" for prefix in prefixes]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                resources=written,
            )
        )
        self.log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.log_stream = logs.LogStream(
            self, "DeliveryErrors", log_group=self.log_group, log_stream_name="S3Delivery"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=(
                            f"{self.log_group.log_group_name}:log-stream:"
                            f"{self.log_stream.log_stream_name}"
                        ),
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        for prefix in prefixes:
            nag.acknowledge(
                role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{bucket_name}/{prefix}]",
                "Firehose names each object it writes (delivery time and a random suffix), so "
                "only the prefix can be granted; the grant is limited to the history and error "
                "prefixes of the hub's own history bucket.",
            )
        return role

    def _delivery_stream(self) -> firehose.CfnDeliveryStream:
        stack = cdk.Stack.of(self)
        stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=history_table.HISTORY_DELIVERY_STREAM_NAME,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                    key_type="AWS_OWNED_CMK"
                )
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=self.delivery_role.role_arn,
                prefix=HISTORY_OBJECT_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                # Firehose names objects without an extension otherwise; readers list by it.
                file_extension=history_table.HISTORY_FILE_EXTENSION,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_INTERVAL_SECONDS, size_in_m_bs=BUFFER_SIZE_MIB
                ),
                # Conversion writes Parquet, compressed inside (SNAPPY): the object is not.
                compression_format="UNCOMPRESSED",
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=self.log_stream.log_stream_name,
                ),
                data_format_conversion_configuration=firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
                    enabled=True,
                    input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
                        deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                            open_x_json_ser_de=firehose.CfnDeliveryStream.OpenXJsonSerDeProperty()
                        )
                    ),
                    output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
                        serializer=firehose.CfnDeliveryStream.SerializerProperty(
                            parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(
                                compression="SNAPPY"
                            )
                        )
                    ),
                    schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
                        catalog_id=stack.account,
                        database_name=history_table.GLUE_DATABASE_NAME,
                        table_name=history_table.GLUE_TABLE_NAME,
                        region=stack.region,
                        role_arn=self.delivery_role.role_arn,
                        version_id="LATEST",
                    ),
                ),
            ),
        )
        # The role's policy must exist before Firehose first uses the role.
        stream.node.add_dependency(self.delivery_role)
        stream.add_dependency(self.table)
        return stream

    @property
    def delivery_stream_arn(self) -> str:
        return self.delivery_stream.attr_arn

    def grant_put_records(self, grantee: iam.IGrantable) -> None:
        """What the ingest function needs: PutRecordBatch on this stream only."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecordBatch"], resources=[self.delivery_stream_arn]
            )
        )
