"""Fixtures of the IAM contract: the synthesized templates and the calls the code makes.

Both are session-scoped: synthesizing and running every scenario once serves every test.
The helpers of other test folders are imported by module name, so their folders go on sys.path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _helper_folder in ("enrollment", "hub_runtime"):
    if str(_TESTS / _helper_folder) not in sys.path:
        sys.path.insert(0, str(_TESTS / _helper_folder))

from iam_contract_calls import ApiCallRecorder, RecordedRun  # noqa: E402
from iam_contract_grants import ContractTemplates, StackTemplate  # noqa: E402
from iam_contract_scenarios import (  # noqa: E402
    exercise_hub_health,
    exercise_hub_ingest,
    exercise_hub_refresh,
    exercise_organization,
    exercise_spoke_extractor,
    fake_aws_environment,
)

# The spoke template is a StackSet's: its account is any member account. This one stands for it.
SPOKE_TEMPLATE_ACCOUNT = "222222222222"


@pytest.fixture(scope="session")
def contract_templates(tmp_path_factory: pytest.TempPathFactory) -> ContractTemplates:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_VALIDATION", "false")
        patch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        import aws_cdk as cdk

        from app import HUB_STACK_ID, ORG_STACK_ID, build_app
        from config.loader import load_config
        from spoke_stackset.stack import synthesize_spoke_template

        config = load_config()
        outdir = tmp_path_factory.mktemp("iam-contract-cdk")
        assembly = build_app(config, cdk.App(outdir=str(outdir))).synth()
        # The project whose spoke needs the most: its extractor runs the most metric code.
        project = max(sorted(config.projects), key=lambda name: len(config.projects[name].metrics))
        spoke = synthesize_spoke_template(config, project, outdir=outdir / "spoke" / project)
    region = config.hub.region
    return ContractTemplates(
        hub=StackTemplate(
            HUB_STACK_ID,
            assembly.get_stack_by_name(HUB_STACK_ID).template,
            account_id=config.hub.account_id,
            region=config.hub.region,
        ),
        org=StackTemplate(
            ORG_STACK_ID,
            assembly.get_stack_by_name(ORG_STACK_ID).template,
            account_id=config.organization.management_account_id,
            region=config.organization.regions[0],
        ),
        spoke=StackTemplate(
            f"spoke-{project}",
            spoke.template,
            account_id=SPOKE_TEMPLATE_ACCOUNT,
            region=region,
        ),
        spoke_project=project,
    )


@pytest.fixture(scope="session")
def recorded_run(contract_templates: ContractTemplates) -> Iterator[RecordedRun]:
    recorder = ApiCallRecorder()
    with fake_aws_environment(), recorder.installed():
        exercise_hub_ingest(recorder, contract_templates.hub)
        exercise_hub_refresh(recorder, contract_templates.hub)
        exercise_hub_health(recorder, contract_templates.hub)
        exercise_spoke_extractor(recorder, contract_templates.spoke)
        accounts = exercise_organization(
            recorder,
            hub_account_id=contract_templates.hub.account_id,
            management_account_id=contract_templates.org.account_id,
            spoke_account_id=SPOKE_TEMPLATE_ACCOUNT,
        )
    yield RecordedRun(tuple(recorder.calls), accounts.aliases)
