"""Release gates on every template the org side produces: the org stack, the us-east-1 forwarder,
each region's artifact stack, and each project's spoke template linted on its own; in delegated
mode (docs/architecture.md §7) the management account's forwarder stacks too.

This module holds the org suite's validated synths, one per `stackset_admin` mode: the real app
(`app.build_app`), with the CDK's built-in CloudFormation validation on and cdk-nag as a
validation plugin, as `npx cdk synth` runs it, for a two-region config whose home region is not
us-east-1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cfnlint.api import lint_file
from org_stack_support import REGIONS, delegated_org_config, org_config

import app as dsdash_app
from cdk_support import nag
from config.model import DsdashConfig
from org_stack.management_forwarder import management_forwarder_stack_id

pytestmark = [pytest.mark.synth, pytest.mark.slow]

ACCEPTED_CFN_LINT_WARNINGS = {
    # The CDK's Lambda constructs add DependsOn on the execution role (and its policy) so a
    # function is never created before its permissions; the GetAtt already orders the role.
    "W3005": "CDK-generated DependsOn on a function's role, redundant with its GetAtt",
}
ARTIFACT_STACKS = tuple(dsdash_app.artifact_stack_id(region) for region in REGIONS)
ORG_SIDE_STACKS = {
    "management": (dsdash_app.ORG_STACK_ID, dsdash_app.ORG_EVENTS_STACK_ID, *ARTIFACT_STACKS),
    "delegated": (
        dsdash_app.ORG_STACK_ID,
        *ARTIFACT_STACKS,
        management_forwarder_stack_id("us-east-1"),
        management_forwarder_stack_id(REGIONS[0]),
    ),
}
CONFIGS = {"management": org_config, "delegated": delegated_org_config}


class ValidatedSynth:
    def __init__(self, app: cdk.App, assembly_directory: Path, config: DsdashConfig) -> None:
        self.app = app
        self.assembly_directory = assembly_directory
        self.config = config
        self.mode = config.organization.stackset_admin
        self.report: dict[str, Any] = nag.read_validation_report(assembly_directory)

    @property
    def org_side_stacks(self) -> tuple[str, ...]:
        return ORG_SIDE_STACKS[self.mode]

    def spoke_assemblies(self) -> list[Path]:
        root = self.assembly_directory / dsdash_app.SPOKE_TEMPLATES_DIRECTORY
        return sorted(path for path in root.iterdir() if path.is_dir())


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def synthesized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ValidatedSynth:
    config = CONFIGS[request.param]()
    assembly_directory = tmp_path_factory.mktemp(f"validated-org-{request.param}")
    app = cdk.App(outdir=str(assembly_directory))
    dsdash_app.build_app(config, app)
    app.synth()  # raises ValidationFailed on an unacknowledged error-level finding
    return ValidatedSynth(app, assembly_directory, config)


def _lint_problems(template_path: Path) -> list[str]:
    return [
        f"{match.rule.id} {match.message} ({match.linenumber})"
        for match in lint_file(template_path)
        if not (match.rule.id.startswith("W") and match.rule.id in ACCEPTED_CFN_LINT_WARNINGS)
        and not match.rule.id.startswith("I")
    ]


def test_cdk_nag_reports_no_unacknowledged_finding_in_the_app(synthesized: ValidatedSynth) -> None:
    findings = nag.unacknowledged_findings(synthesized.report)
    assert findings == [], "\n".join(str(finding) for finding in findings)
    checked = {
        violation["constructPath"].split("/")[0]
        for plugin_report in synthesized.report["pluginReports"]
        for finding in plugin_report.get("suppressedViolations", [])
        for violation in finding["violatingConstructs"]
    }
    # The org side really was checked (each of these stacks acknowledges something).
    assert {dsdash_app.ORG_STACK_ID, *ARTIFACT_STACKS} <= checked
    assert set(synthesized.org_side_stacks) <= {
        child.node.id for child in synthesized.app.node.children if isinstance(child, cdk.Stack)
    }


def test_cdk_nag_reports_no_unacknowledged_finding_in_any_spoke_template(
    synthesized: ValidatedSynth,
) -> None:
    spoke_assemblies = synthesized.spoke_assemblies()
    assert len(spoke_assemblies) == len(org_config().projects)
    for assembly in spoke_assemblies:
        findings = nag.unacknowledged_findings(nag.read_validation_report(assembly))
        assert findings == [], "\n".join(str(finding) for finding in findings)


def test_every_org_side_acknowledgment_has_a_reason_and_covers_a_real_finding(
    synthesized: ValidatedSynth,
) -> None:
    used = {
        (finding["acknowledgedId"], finding["acknowledgedAt"])
        for finding in nag.suppressed_findings(synthesized.report)
    }
    for acknowledgment in nag.acknowledgments(synthesized.app):
        if acknowledgment.construct_path.split("/")[0] not in synthesized.org_side_stacks:
            continue
        assert len(acknowledgment.reason) >= nag.MINIMUM_REASON_LENGTH, acknowledgment
        assert (acknowledgment.rule_id, acknowledgment.construct_path) in used, (
            f"acknowledgment {acknowledgment.rule_id} at {acknowledgment.construct_path} "
            "suppresses nothing; remove it"
        )


def test_cfn_lint_reports_no_problem_on_org_side_templates(synthesized: ValidatedSynth) -> None:
    problems = {
        stack_id: _lint_problems(synthesized.assembly_directory / f"{stack_id}.template.json")
        for stack_id in synthesized.org_side_stacks
    }
    assert problems == {stack_id: [] for stack_id in synthesized.org_side_stacks}


def test_cfn_lint_reports_no_problem_on_each_spoke_template_alone(
    synthesized: ValidatedSynth,
) -> None:
    for assembly in synthesized.spoke_assemblies():
        (template_path,) = assembly.glob("*.template.json")
        assert _lint_problems(template_path) == [], template_path.name
