"""The dsdash CDK app: every stack, built from `config/projects.yaml` (docs/architecture.md §2 flow 2).

`npx cdk synth` (see cdk.json) runs this file. It synthesizes offline, without credentials: every
stack's account and region come from the config. A bad config stops synth before any construct
exists, with the same messages `dsdash validate` prints, and exit code 2.

The config file is `-c dsdash:config=PATH` if given, else `$DSDASH_CONFIG`, else
`config/projects.yaml`.

Stacks (each with its account and region from the config). The *org account* is the management
account, or with `organization.stackset_admin: delegated` the StackSets delegated administrator
(docs/architecture.md §7, delegated admin):
- `DsdashHub`: the hub account and region;
- `DsdashArtifacts-<region>`: per configured region, the org account's org-readable artifact
  bucket with the spoke code (deployed before the org stack);
- `DsdashOrg`: the org account, in its home region, `organization.regions[0]` unless
  `-c dsdash:org-region=REGION` says otherwise: one StackSet per project, the reconciler, the
  enrollment function and their rules;
- management mode, `DsdashOrgEvents`: us-east-1, only when the home region is another one.
  Organizations events arrive in us-east-1 only; this stack forwards them to the home region's
  default bus;
- delegated mode, `DsdashManagementForwarder-<region>`: the management account, in us-east-1 and
  the home region: rules (no code) forwarding lifecycle events to the org account's
  `dsdash-org-lifecycle` bus.
Each project's spoke template is synthesized on its own (cdk-nag included) into
`<cdk.out>/spoke-templates/<project>/` and embedded in its StackSet.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

import aws_cdk as cdk

from cdk_support.nag import add_aws_solutions_checks
from cdk_support.synthesis import dsdash_stack_synthesizer
from config.model import DsdashConfig

CONFIG_CONTEXT_KEY: Final = "dsdash:config"
ORG_REGION_CONTEXT_KEY: Final = "dsdash:org-region"
HUB_STACK_ID: Final = "DsdashHub"
ORG_STACK_ID: Final = "DsdashOrg"
ORG_EVENTS_STACK_ID: Final = "DsdashOrgEvents"
SPOKE_TEMPLATES_DIRECTORY: Final = "spoke-templates"
CONFIG_ERROR_EXIT_CODE: Final = 2


def artifact_stack_id(region: str) -> str:
    return f"DsdashArtifacts-{region}"


def build_app(config: DsdashConfig, app: cdk.App | None = None) -> cdk.App:
    """Add every dsdash stack for `config` to `app` and run cdk-nag on them at synth."""
    # Imported here so that a config error is reported before the (slower) CDK modules load.
    from hub_stack.stack import HubStack
    from org_stack.artifact_buckets import ArtifactBucketStack, build_spoke_code_artifacts
    from org_stack.lifecycle_rules import (
        ORGANIZATIONS_EVENTS_REGION,
        OrganizationsEventForwarderStack,
    )
    from org_stack.management_forwarder import (
        ManagementForwarderStack,
        management_forwarder_regions,
        management_forwarder_stack_id,
    )
    from org_stack.stack import OrgStack
    from spoke_stackset.stack import synthesize_spoke_template

    app = app if app is not None else cdk.App()
    HubStack(app, HUB_STACK_ID, config=config, synthesizer=dsdash_stack_synthesizer())

    artifacts = build_spoke_code_artifacts()
    artifact_stacks = [
        ArtifactBucketStack(
            app,
            artifact_stack_id(region),
            config=config,
            region=region,
            artifacts=artifacts,
            synthesizer=dsdash_stack_synthesizer(),
        )
        for region in config.organization.regions
    ]
    spoke_templates_root = Path(app.outdir) / SPOKE_TEMPLATES_DIRECTORY
    spoke_templates = {
        project: synthesize_spoke_template(config, project, outdir=spoke_templates_root / project)
        for project in sorted(config.projects)
    }
    org_region = str(
        app.node.try_get_context(ORG_REGION_CONTEXT_KEY) or config.organization.regions[0]
    )
    org_stack = OrgStack(
        app,
        ORG_STACK_ID,
        config=config,
        region=org_region,
        spoke_templates=spoke_templates,
        artifacts=artifacts,
        synthesizer=dsdash_stack_synthesizer(),
    )
    # The StackSets point at the code keys, so the code is uploaded first.
    for artifact_stack in artifact_stacks:
        org_stack.add_stack_dependency(artifact_stack)
    if config.organization.is_delegated:
        for region in management_forwarder_regions(org_region):
            ManagementForwarderStack(
                app,
                management_forwarder_stack_id(region),
                config=config,
                region=region,
                home_region=org_region,
                synthesizer=dsdash_stack_synthesizer(),
            )
    elif org_region != ORGANIZATIONS_EVENTS_REGION:
        OrganizationsEventForwarderStack(
            app,
            ORG_EVENTS_STACK_ID,
            config=config,
            home_region=org_region,
            synthesizer=dsdash_stack_synthesizer(),
        )
    add_aws_solutions_checks(app)
    return app


def main() -> int:
    from config.errors import ConfigError
    from config.loader import load_config

    app = cdk.App()
    config_path = app.node.try_get_context(CONFIG_CONTEXT_KEY)
    try:
        config = load_config(Path(config_path) if config_path else None)
    except ConfigError as error:
        print(f"dsdash: the config is invalid, nothing was synthesized:\n{error}", file=sys.stderr)
        return CONFIG_ERROR_EXIT_CODE
    build_app(config, app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
