"""The dsdash CDK app: every stack, built from `config/projects.yaml` (DESIGN.md §2 flow 2).

`npx cdk synth` (see cdk.json) runs this file. It synthesizes offline, without credentials: every
stack's account and region come from the config. A bad config stops synth before any construct
exists, with the same messages `dsdash validate` prints, and exit code 2.

The config file is `-c dsdash:config=PATH` if given, else `$DSDASH_CONFIG`, else
`config/projects.yaml`.
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
HUB_STACK_ID: Final = "DsdashHub"
CONFIG_ERROR_EXIT_CODE: Final = 2


def build_app(config: DsdashConfig, app: cdk.App | None = None) -> cdk.App:
    """Add every dsdash stack for `config` to `app` and run cdk-nag on them at synth."""
    # Imported here so that a config error is reported before the (slower) CDK modules load.
    from hub_stack.stack import HubStack

    app = app if app is not None else cdk.App()
    HubStack(app, HUB_STACK_ID, config=config, synthesizer=dsdash_stack_synthesizer())
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
