"""moto gaps of the alerting resources in dsdash's templates, filled like the others
(registered in `sandbox.moto_gap_registry`, installed by `sandbox.moto_cloudformation_gaps`:
created through moto's backends from the template's resolved properties, deleted with the stack).
The alert topic's policy and subscriptions are `sandbox.moto_messaging_gaps`'s.

moto gaps filled here (moto 5.2.5's CloudFormation has no model for these types, and would
fail the stack without a handler):
- moto gap: `AWS::CloudWatch::Alarm`: here PutMetricAlarm with the template's metric, threshold
  and actions, so `describe_alarms` shows them (moto never evaluates an alarm);
- moto gap: `AWS::Logs::MetricFilter`: here PutMetricFilter (moto turns no log line into a
  metric, so the quarantine alarm never fires in the sandbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.logs.models import logs_backends

from sandbox.moto_gap_registry import GapResource, gap_handler


@gap_handler
class MetricAlarm(GapResource):
    resource_type = "AWS::CloudWatch::Alarm"
    name_property = "AlarmName"
    attributes = {"Arn": "arn"}

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("AlarmName") or generated_name)
        alarm = cloudwatch_backends[account_id][region].put_metric_alarm(
            name=name,
            namespace=str(properties.get("Namespace", "")),
            metric_name=str(properties.get("MetricName", "")),
            comparison_operator=str(properties["ComparisonOperator"]),
            evaluation_periods=int(properties["EvaluationPeriods"]),
            period=int(properties.get("Period", 60)),
            threshold=float(properties["Threshold"]),
            statistic=str(properties.get("Statistic", "")),
            description=str(properties.get("AlarmDescription", "")),
            dimensions=[
                {"Name": str(d["Name"]), "Value": str(d["Value"])}
                for d in properties.get("Dimensions", [])
            ],
            alarm_actions=[str(arn) for arn in properties.get("AlarmActions", [])],
            ok_actions=[str(arn) for arn in properties.get("OKActions", [])],
            treat_missing_data=properties.get("TreatMissingData"),
        )
        resource = cls(name, properties, account_id, region)
        resource.arn = alarm.alarm_arn  # type: ignore[attr-defined]
        return resource

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])


@gap_handler
class MetricFilter(GapResource):
    resource_type = "AWS::Logs::MetricFilter"
    name_property = "FilterName"

    @classmethod
    def create(
        cls, generated_name: str, properties: Mapping[str, Any], account_id: str, region: str
    ) -> GapResource:
        name = str(properties.get("FilterName") or generated_name)
        logs_backends[account_id][region].put_metric_filter(
            name,
            str(properties["FilterPattern"]),
            str(properties["LogGroupName"]),
            [
                {
                    "metricName": str(t["MetricName"]),
                    "metricNamespace": str(t["MetricNamespace"]),
                    "metricValue": str(t["MetricValue"]),
                    **({"defaultValue": t["DefaultValue"]} if "DefaultValue" in t else {}),
                }
                for t in properties.get("MetricTransformations", [])
            ],  # type: ignore[arg-type]
        )
        return cls(name, properties, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        logs_backends[account_id][region_name].delete_metric_filter(
            self.physical_resource_id, str(self.properties["LogGroupName"])
        )
