"""The release gates on the hub template: cdk-nag (AwsSolutions) and cfn-lint, and app.py's
refusal to synthesize from a bad config.

This module holds the suite's one *validated* synth: the real app (`app.build_app`) on the
example `config/projects.yaml`, with the CDK's built-in CloudFormation validation left on and
cdk-nag registered as a validation plugin, exactly as `npx cdk synth` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cfnlint.api import lint_file

import app as dsdash_app
from cdk_support import nag
from config.loader import load_config

pytestmark = [pytest.mark.synth, pytest.mark.slow]

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

# cfn-lint warnings we accept, each with why. Anything else fails the gate.
ACCEPTED_CFN_LINT_WARNINGS = {
    # The CDK's Lambda construct adds DependsOn on the execution role (and its policy) so the
    # function is never created before its permissions; the GetAtt already orders the role.
    "W3005": "CDK-generated DependsOn on the function's role, redundant with its GetAtt",
}


class SynthesizedApp:
    def __init__(self, app: cdk.App, assembly_directory: Path) -> None:
        self.app = app
        self.assembly_directory = assembly_directory
        self.report: dict[str, Any] = nag.read_validation_report(assembly_directory)

    @property
    def hub_template_path(self) -> Path:
        return self.assembly_directory / f"{dsdash_app.HUB_STACK_ID}.template.json"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    assembly_directory = tmp_path_factory.mktemp("validated-synth")
    app = cdk.App(outdir=str(assembly_directory))
    dsdash_app.build_app(load_config(), app)
    # Raises ValidationFailed if an error-level finding is left unacknowledged.
    app.synth()
    return SynthesizedApp(app, assembly_directory)


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: SynthesizedApp) -> None:
    plugin_names = {report["pluginName"] for report in synthesized.report["pluginReports"]}
    assert nag.AWS_SOLUTIONS_PLUGIN_NAME in plugin_names, "cdk-nag did not run"
    findings = nag.unacknowledged_findings(synthesized.report)
    assert findings == [], "\n".join(str(finding) for finding in findings)


def test_every_acknowledgment_has_a_reason_and_covers_a_real_finding(
    synthesized: SynthesizedApp,
) -> None:
    acknowledgments = nag.acknowledgments(synthesized.app)
    assert acknowledgments, "the hub stack is expected to acknowledge a few findings"
    used = {
        (finding["acknowledgedId"], finding["acknowledgedAt"])
        for finding in nag.suppressed_findings(synthesized.report)
    }
    for acknowledgment in acknowledgments:
        assert len(acknowledgment.reason) >= nag.MINIMUM_REASON_LENGTH, acknowledgment
        # A stale acknowledgment hides the next real finding of the same rule.
        assert (acknowledgment.rule_id, acknowledgment.construct_path) in used, (
            f"acknowledgment {acknowledgment.rule_id} at {acknowledgment.construct_path} "
            "suppresses nothing; remove it"
        )


def test_cfn_lint_reports_no_error_on_the_hub_template(synthesized: SynthesizedApp) -> None:
    matches = lint_file(synthesized.hub_template_path)
    problems = [
        f"{match.rule.id} {match.message} ({match.linenumber})"
        for match in matches
        if not (match.rule.id.startswith("W") and match.rule.id in ACCEPTED_CFN_LINT_WARNINGS)
        and not match.rule.id.startswith("I")
    ]
    assert problems == []


def test_synthesized_hub_stack_targets_the_configured_hub_account_and_region(
    synthesized: SynthesizedApp,
) -> None:
    config = load_config()
    manifest = json.loads((synthesized.assembly_directory / "manifest.json").read_text())
    hub_artifact = manifest["artifacts"][dsdash_app.HUB_STACK_ID]
    assert hub_artifact["environment"] == (f"aws://{config.hub.account_id}/{config.hub.region}")


def test_acknowledgment_without_a_real_reason_is_refused() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Scratch")
    with pytest.raises(nag.NagAcknowledgmentError, match="too short"):
        nag.acknowledge(stack, "AwsSolutions-L1", "needed")
    with pytest.raises(nag.NagAcknowledgmentError, match="not an AwsSolutions finding"):
        nag.acknowledge(stack, "L1", "x" * nag.MINIMUM_REASON_LENGTH)


def test_bad_config_stops_synth_with_the_validate_message(tmp_path: Path) -> None:
    bad_config = tmp_path / "projects.yaml"
    bad_config.write_text("hub:\n  name: CentralHub\n", encoding="utf-8")
    environment = {
        **os.environ,
        "DSDASH_CONFIG": str(bad_config),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "PYTHONPATH": str(REPOSITORY_ROOT),
    }
    result = subprocess.run(
        [sys.executable, str(REPOSITORY_ROOT / "app.py")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    # The same problem lines `dsdash validate` prints: file:line:col, then what is missing.
    assert f"{bad_config}:1:1:" in result.stderr
    assert "organization" in result.stderr
    # cdk.App() creates its output directory on construction; nothing may be written into it.
    assert not list(tmp_path.glob("cdk.out/*.template.json")), "a bad config produced a template"
