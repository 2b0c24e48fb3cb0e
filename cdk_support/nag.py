"""cdk-nag (v3) set-up shared by every dsdash stack: the AwsSolutions pack and acknowledgments.

cdk-nag 3 is a CDK policy-validation plugin: `cdk.Validations.of(app).add_plugins(...)`. During
synth the CDK runs it, writes `validation-report.json` into the cloud assembly and, for an
in-memory `app.synth()`, raises `ValidationFailed` when an error-level finding is left.

Acknowledgments go through CDK's own `Validations.of(scope).acknowledge(...)`. We always use the
namespaced id `AwsSolutions::<rule>` (the form the CDK report prints under "Acknowledge with"):
the CDK then lists the finding under `suppressedViolations` in the report, with our reason, which
is the audit trail. (An id without a namespace is recorded as an *annotation* acknowledgment;
cdk-nag honours it too, but the report then keeps no trace of it.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

AWS_SOLUTIONS_PLUGIN_NAME: Final = "AwsSolutions"
VALIDATION_REPORT_FILE: Final = "validation-report.json"
# A reason must say why this resource is fine, not that someone looked: "ok" or "needed" is no
# reason. The length floor catches the lazy ones; review catches the rest.
MINIMUM_REASON_LENGTH: Final = 40


class NagAcknowledgmentError(ValueError):
    """An acknowledgment without a usable rule id or reason."""


@dataclass(frozen=True)
class Acknowledgment:
    construct_path: str
    rule_id: str
    reason: str


@dataclass(frozen=True)
class Finding:
    plugin: str
    rule_id: str
    severity: str
    construct_paths: tuple[str, ...]
    description: str

    def __str__(self) -> str:
        paths = ", ".join(self.construct_paths)
        return f"[{self.plugin}] {self.severity} {self.rule_id} at {paths}: {self.description}"


def add_aws_solutions_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on every stack of `app` at synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding on `scope` (and its children), with its reason.

    `rule_id` is the finding id as cdk-nag prints it, e.g. `AwsSolutions-L1` or
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:...]`; cdk-nag 3 has no prefix
    matching, so each wildcard finding is acknowledged on its own.
    """
    if not rule_id.startswith("AwsSolutions-"):
        raise NagAcknowledgmentError(
            f"rule id {rule_id!r} at {scope.node.path} is not an AwsSolutions finding id"
        )
    if len(reason.strip()) < MINIMUM_REASON_LENGTH:
        raise NagAcknowledgmentError(
            f"the reason for acknowledging {rule_id} at {scope.node.path} is too short to say "
            f"why the finding is acceptable ({len(reason.strip())} < {MINIMUM_REASON_LENGTH} "
            f"characters): {reason!r}"
        )
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{AWS_SOLUTIONS_PLUGIN_NAME}::{rule_id}", reason=reason)
    )


def acknowledgments(scope: IConstruct) -> list[Acknowledgment]:
    """Every acknowledgment recorded under `scope`, read back from construct metadata."""
    found: list[Acknowledgment] = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for acknowledged_id, reason in dict(entry.data).items():
                found.append(Acknowledgment(construct.node.path, str(acknowledged_id), str(reason)))
    return found


def read_validation_report(assembly_directory: Path) -> dict[str, Any]:
    """The CDK's validation report from a synthesized cloud assembly directory."""
    report_path = assembly_directory / VALIDATION_REPORT_FILE
    if not report_path.is_file():
        raise FileNotFoundError(
            f"no {VALIDATION_REPORT_FILE} in {assembly_directory}: was the app synthesized with "
            "add_aws_solutions_checks()?"
        )
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    return report


def unacknowledged_findings(report: dict[str, Any]) -> list[Finding]:
    """Findings of any severity, from any plugin, that no acknowledgment covers."""
    findings: list[Finding] = []
    for plugin_report in report.get("pluginReports", []):
        for violation in plugin_report.get("violations", []):
            findings.append(
                Finding(
                    plugin=plugin_report["pluginName"],
                    rule_id=violation["ruleName"],
                    severity=violation["severity"],
                    construct_paths=tuple(
                        c["constructPath"] for c in violation.get("violatingConstructs", [])
                    ),
                    description=violation["description"],
                )
            )
    return findings


def suppressed_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings the report lists as suppressed, each with its acknowledgment id and reason."""
    suppressed: list[dict[str, Any]] = []
    for plugin_report in report.get("pluginReports", []):
        suppressed.extend(plugin_report.get("suppressedViolations", []))
    return suppressed
