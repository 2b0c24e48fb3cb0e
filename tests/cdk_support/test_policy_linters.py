"""The policy linters of the field, as gates: parliament and checkov over every policy of every
synthesized template, the spoke templates embedded in the org stack's StackSets included.

Nothing here has run against a real AWS account; these linters check, offline, what moto cannot:
that each action is granted on a resource of a type the IAM definitions give it (an ARN of the
wrong shape, or an ARN for an action that takes only "*", would be denied in AWS and pass on
moto), and checkov's CloudFormation IAM checks. The gate is no finding, or each finding
acknowledged with its reason in acknowledged_findings.yaml.

- parliament (installed in .venv) runs in-process on each policy document, rendered by
  `policy_documents` so intrinsics become ARNs of the right shape.
- checkov runs once, as a subprocess, from its own tool venv `.venv-policy-lint` (its pins
  conflict with the project's; `make test` builds it from requirements-policy-lint.lock). Its
  gate covers the resources that carry policies (roles, policies, bucket, queue, topic and bus
  policies); its checks on other resources (Lambda in a VPC, KMS keys...) are not policy checks.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from parliament import analyze_policy_string
from policy_documents import PolicyDocument, embedded_stackset_templates, policy_documents
from ruamel.yaml import YAML

import app as dsdash_app
from config.loader import load_config

pytestmark = [pytest.mark.synth, pytest.mark.slow]

REPOSITORY = Path(__file__).resolve().parents[2]
ACKNOWLEDGED_FILE = Path(__file__).with_name("acknowledged_findings.yaml")
CHECKOV = REPOSITORY / ".venv-policy-lint" / "bin" / "checkov"
POLICY_RESOURCE_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::Events::EventBusPolicy",
    }
)


@dataclass(frozen=True)
class Finding:
    linter: str
    id: str
    template: str
    logical_id: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.linter} {self.id} in {self.template}:{self.logical_id} ({self.kind}): {self.detail}"


@dataclass(frozen=True)
class Acknowledgment:
    linter: str
    id: str
    template: str
    resource: str
    kind: str | None
    detail: str | None
    reason: str

    def matches(self, finding: Finding) -> bool:
        return (
            self.linter == finding.linter
            and self.id == finding.id
            and fnmatch.fnmatchcase(finding.template, self.template)
            and finding.logical_id.startswith(self.resource)
            and (self.kind is None or self.kind == finding.kind)
            and (self.detail is None or self.detail in finding.detail)
        )


def _acknowledgments() -> list[Acknowledgment]:
    entries = YAML(typ="safe", pure=True).load(ACKNOWLEDGED_FILE.read_text(encoding="utf-8"))
    acknowledgments = []
    for entry in entries:
        assert str(entry.get("reason", "")).strip(), f"acknowledgment without a reason: {entry}"
        acknowledgments.append(
            Acknowledgment(
                entry["linter"],
                entry["id"],
                entry["template"],
                entry["resource"],
                entry.get("kind"),
                entry.get("detail"),
                entry["reason"],
            )
        )
    return acknowledgments


@dataclass(frozen=True)
class SynthesizedTemplates:
    # template name -> template; embedded spoke templates as "DsdashOrg/<StackSet id>".
    templates: dict[str, dict[str, Any]]
    directory: Path  # every template above, one JSON file each, for checkov

    def documents(self) -> Iterator[PolicyDocument]:
        for name, template in self.templates.items():
            yield from policy_documents(name, template)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedTemplates:
    """The real app (`app.build_app`) over the repository's example config, every stack."""
    assembly = tmp_path_factory.mktemp("policy-lint-assembly")
    app = cdk.App(outdir=str(assembly))
    dsdash_app.build_app(load_config(REPOSITORY / "config" / "projects.yaml"), app)
    app.synth()
    templates: dict[str, dict[str, Any]] = {}
    for path in sorted(assembly.glob("*.template.json")):
        name = path.name.removesuffix(".template.json")
        template = json.loads(path.read_text(encoding="utf-8"))
        templates[name] = template
        for stackset_id, body in embedded_stackset_templates(template).items():
            templates[f"{name}/{stackset_id}"] = body
    directory = tmp_path_factory.mktemp("policy-lint-templates")
    for name, template in templates.items():
        (directory / f"{name.replace('/', '--')}.template.json").write_text(
            json.dumps(template), encoding="utf-8"
        )
    return SynthesizedTemplates(templates, directory)


@pytest.fixture(scope="module")
def checkov_reports(synthesized: SynthesizedTemplates) -> list[dict[str, Any]]:
    """One checkov run over every template (its start-up alone takes seconds)."""
    return checkov_results(synthesized.directory)


def parliament_findings(documents: Iterator[PolicyDocument]) -> list[Finding]:
    findings = []
    for document in documents:
        policy = analyze_policy_string(
            json.dumps(document.document),
            include_community_auditors=False,
            ignore_private_auditors=True,
        )
        for finding in policy.findings:
            findings.append(
                Finding(
                    "parliament",
                    finding.issue,
                    document.template,
                    document.logical_id,
                    document.kind,
                    json.dumps(finding.detail, default=str),
                )
            )
    return findings


def checkov_results(directory: Path) -> list[dict[str, Any]]:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV} is missing: build the policy linters' tool venv with "
            "`make policy-lint-venv` (`make test` does it)"
        )
    completed = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--compact",
            # Offline: no guideline download, no platform.
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    # checkov exits 1 when any check fails; a crash prints no JSON.
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]


def _template_of(file_path: str) -> str:
    return Path(file_path).name.removesuffix(".template.json").replace("--", "/")


def checkov_policy_findings(reports: list[dict[str, Any]]) -> tuple[list[Finding], int]:
    """Failed checks on policy-carrying resources, and how many checks passed on them."""
    findings = []
    passed = 0
    for report in reports:
        results = report.get("results", {})
        for check in results.get("passed_checks", []):
            passed += check["resource"].split(".")[0] in POLICY_RESOURCE_TYPES
        for check in results.get("failed_checks", []):
            resource_type, _, logical_id = check["resource"].partition(".")
            if resource_type in POLICY_RESOURCE_TYPES:
                findings.append(
                    Finding(
                        "checkov",
                        check["check_id"],
                        _template_of(check["file_path"]),
                        logical_id,
                        resource_type,
                        check["check_name"],
                    )
                )
    return findings, passed


def _unacknowledged(findings: list[Finding]) -> list[str]:
    acknowledgments = _acknowledgments()
    return [
        str(finding)
        for finding in findings
        if not any(ack.matches(finding) for ack in acknowledgments)
    ]


def test_every_template_and_every_spoke_template_is_linted(synthesized):
    names = set(synthesized.templates)
    assert {dsdash_app.HUB_STACK_ID, dsdash_app.ORG_STACK_ID} <= names
    spokes = {name for name in names if name.startswith(f"{dsdash_app.ORG_STACK_ID}/")}
    # One StackSet per project of config/projects.yaml.
    assert len(spokes) == len(load_config(REPOSITORY / "config" / "projects.yaml").projects)
    documents = list(synthesized.documents())
    # Every intrinsic became a concrete ARN or value: parliament sees what AWS would see.
    unresolved = [
        document.where for document in documents if "UNRESOLVED" in json.dumps(document.document)
    ]
    assert unresolved == []
    kinds = {(document.template, document.kind) for document in documents}
    for spoke in spokes:
        assert {(spoke, "identity"), (spoke, "trust"), (spoke, "resource")} <= kinds


def test_parliament_finds_nothing_unacknowledged(synthesized):
    findings = parliament_findings(synthesized.documents())

    assert _unacknowledged(findings) == []


def test_checkov_finds_nothing_unacknowledged_on_policies(synthesized, checkov_reports):
    findings, passed = checkov_policy_findings(checkov_reports)

    # The IAM checks really ran on the policies (a run that checked nothing would pass too).
    assert passed >= len(list(synthesized.documents()))
    assert _unacknowledged(findings) == []


def test_every_acknowledgment_still_matches_a_finding(synthesized, checkov_reports):
    findings = parliament_findings(synthesized.documents())
    findings += checkov_policy_findings(checkov_reports)[0]

    stale = [
        f"{ack.linter} {ack.id} {ack.template}:{ack.resource}"
        for ack in _acknowledgments()
        if not any(ack.matches(finding) for finding in findings)
    ]
    assert stale == [], "acknowledged_findings.yaml lists findings that no longer occur"


def test_parliament_flags_an_action_granted_on_the_wrong_resource_shape():
    """The gate can fail: the shape of mistake it exists for is reported."""
    wrong = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["events:PutPermission"],
                "Resource": "arn:aws:events:eu-west-1:111111111111:event-bus/dsdash",
            }
        ],
    }
    document = PolicyDocument("Probe", "ProbePolicy", "AWS::IAM::Policy", "identity", wrong)

    (finding,) = parliament_findings(iter([document]))

    assert finding.id == "RESOURCE_MISMATCH"
    assert _unacknowledged([finding]) == [str(finding)]
