"""Fixtures of the IAM contract: the synthesized templates and the calls the code makes.

Both are session-scoped: synthesizing each mode once and running every scenario once serves
every test. The contract is checked in both `organization.stackset_admin` modes
(docs/architecture.md §7): `contract_templates` is the app synthesized for the management
account, then for a StackSets delegated administrator. The code makes the same calls in both
(only the value of CallAs differs), so the scenarios run once, and in delegated mode the calls
the simulated org account made are read as the delegated administrator's, where the org stack
then runs.
The helpers of other test folders are imported by module name, so their folders go on sys.path.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _helper_folder in ("enrollment/enrollment_function", "hub_stack"):
    if str(_TESTS / _helper_folder) not in sys.path:
        sys.path.insert(0, str(_TESTS / _helper_folder))

from iam_contract_calls import ApiCallRecorder, RecordedRun  # noqa: E402
from iam_contract_grants import ContractTemplates, StackTemplate  # noqa: E402
from iam_contract_scenarios import (  # noqa: E402
    exercise_hub_dashboard_publisher,
    exercise_hub_health,
    exercise_hub_ingest,
    exercise_hub_refresh,
    exercise_organization,
    exercise_spoke_extractor,
    fake_aws_environment,
)

# The spoke template is a StackSet's: its account is any member account. This one stands for it.
SPOKE_TEMPLATE_ACCOUNT = "222222222222"
# The StackSets delegated administrator of the delegated-mode synth: a member account.
DELEGATED_ADMIN_ACCOUNT = "444444444444"
MODES = ("management", "delegated")


def _synthesize(mode: str, tmp_path_factory: pytest.TempPathFactory) -> ContractTemplates:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_VALIDATION", "false")
        patch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
        import aws_cdk as cdk

        from app import HUB_STACK_ID, ORG_STACK_ID, build_app
        from config.loader import load_config
        from spoke_stackset.stack import synthesize_spoke_template

        config = load_config()
        if mode == "delegated":
            config = dataclasses.replace(
                config,
                organization=dataclasses.replace(
                    config.organization,
                    stackset_admin="delegated",
                    delegated_admin_account_id=DELEGATED_ADMIN_ACCOUNT,
                ),
            )
        outdir = tmp_path_factory.mktemp(f"iam-contract-cdk-{mode}")
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
            account_id=config.organization.administrator_account_id,
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
def management_templates(tmp_path_factory: pytest.TempPathFactory) -> ContractTemplates:
    return _synthesize("management", tmp_path_factory)


@pytest.fixture(scope="session", params=MODES)
def contract_templates(
    request: pytest.FixtureRequest,
    management_templates: ContractTemplates,
    tmp_path_factory: pytest.TempPathFactory,
) -> ContractTemplates:
    if request.param == "management":
        return management_templates
    return _synthesize(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def management_run(management_templates: ContractTemplates) -> Iterator[RecordedRun]:
    recorder = ApiCallRecorder()
    with fake_aws_environment(), recorder.installed():
        exercise_hub_ingest(recorder, management_templates.hub)
        exercise_hub_refresh(recorder, management_templates.hub)
        exercise_hub_health(recorder, management_templates.hub)
        exercise_hub_dashboard_publisher(recorder, management_templates.hub)
        exercise_spoke_extractor(recorder, management_templates.spoke)
        accounts = exercise_organization(
            recorder,
            hub_account_id=management_templates.hub.account_id,
            management_account_id=management_templates.org.account_id,
            spoke_account_id=SPOKE_TEMPLATE_ACCOUNT,
        )
    yield RecordedRun(tuple(recorder.calls), accounts.aliases)


@pytest.fixture(scope="session")
def recorded_run(
    contract_templates: ContractTemplates,
    management_templates: ContractTemplates,
    management_run: RecordedRun,
) -> RecordedRun:
    """The calls, with the simulated org account standing for this mode's org stack account."""
    org_account = management_templates.org.account_id
    aliases = {
        simulated: contract_templates.org.account_id if template == org_account else template
        for simulated, template in management_run.account_aliases.items()
    }
    return RecordedRun(management_run.calls, aliases)
