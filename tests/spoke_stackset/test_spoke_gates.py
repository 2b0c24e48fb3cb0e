"""Release gates on every spoke template, each linted on its own as a StackSet receives it:
cdk-nag (AwsSolutions) with no unacknowledged finding, and cfn-lint clean.

The synth here is validated: the CDK's built-in CloudFormation validation is on."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint_file
from spoke_stack_support import spoke_config

from cdk_support import nag
from config.loader import load_config
from config.model import DsdashConfig
from spoke_stackset.stack import SpokeTemplate, spoke_stack_id, synthesize_spoke_template

pytestmark = [pytest.mark.synth, pytest.mark.slow]

ACCEPTED_CFN_LINT_WARNINGS = {
    # The CDK's Lambda construct adds DependsOn on the execution role (and its policy) so the
    # function is never created before its permissions; the GetAtt already orders the role.
    "W3005": "CDK-generated DependsOn on the function's role, redundant with its GetAtt",
}

CONFIGS = {"example": load_config(), "every-metric": spoke_config()}
CASES = [(name, project) for name, config in CONFIGS.items() for project in config.projects]


@pytest.fixture(scope="module")
def spokes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], SpokeTemplate]:
    return {
        (name, project): synthesize_spoke_template(
            CONFIGS[name],
            project,
            outdir=tmp_path_factory.mktemp(f"validated-{name}-{project}"),
            builtin_validation=True,
        )
        for name, project in CASES
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_cdk_nag_reports_no_unacknowledged_finding(
    spokes: dict[tuple[str, str], SpokeTemplate], case: tuple[str, str]
) -> None:
    report = spokes[case].validation_report
    assert nag.AWS_SOLUTIONS_PLUGIN_NAME in {r["pluginName"] for r in report["pluginReports"]}
    findings = nag.unacknowledged_findings(report)
    assert findings == [], "\n".join(str(finding) for finding in findings)


@pytest.mark.parametrize("case", CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_every_acknowledgment_covers_a_real_finding(
    spokes: dict[tuple[str, str], SpokeTemplate], case: tuple[str, str]
) -> None:
    suppressed = nag.suppressed_findings(spokes[case].validation_report)
    assert suppressed, "the spoke template is expected to acknowledge a few findings"
    for finding in suppressed:
        assert len(finding["reason"]) >= nag.MINIMUM_REASON_LENGTH, finding


@pytest.mark.parametrize("case", CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_cfn_lint_reports_no_problem_on_the_spoke_template(
    spokes: dict[tuple[str, str], SpokeTemplate], case: tuple[str, str]
) -> None:
    spoke = spokes[case]
    template_path = (
        Path(spoke.assembly_directory) / f"{spoke_stack_id(spoke.project)}.template.json"
    )
    problems = [
        f"{match.rule.id} {match.message} ({match.linenumber})"
        for match in lint_file(template_path)
        if not (match.rule.id.startswith("W") and match.rule.id in ACCEPTED_CFN_LINT_WARNINGS)
        and not match.rule.id.startswith("I")
    ]
    assert problems == []


def test_every_acknowledgment_in_a_spoke_synth_is_used(tmp_path: Path) -> None:
    """Acknowledgments are made per construct; a stale one would hide a future finding."""
    import aws_cdk as cdk

    from spoke_stackset.stack import SpokeStack

    config: DsdashConfig = spoke_config()
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    nag.add_aws_solutions_checks(app)
    for project in config.projects:
        SpokeStack(app, spoke_stack_id(project), config=config, project=project)
    app.synth()
    used = {
        (finding["acknowledgedId"], finding["acknowledgedAt"])
        for finding in nag.suppressed_findings(nag.read_validation_report(tmp_path))
    }
    for acknowledgment in nag.acknowledgments(app):
        assert (acknowledgment.rule_id, acknowledgment.construct_path) in used, acknowledgment
