"""The two hub templates the hub template tests read (test_hub_{bus_and_queue,table,functions,
least_privilege,outputs,history}_template.py), each synthesized once per process: a synth costs
5-10 s, and splitting the tests by what they check must not multiply it. Imported by bare name
(tests/hub_stack/conftest.py puts this folder on sys.path), hence the unique name."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template
from hub_stack_support import hub_config, synth_hub_template

from config.model import DsdashConfig

SCHEDULE = "cron(0/30 * * * ? *)"
SPOKE_REGIONS = ("eu-west-1", "us-east-1")


def organization_config() -> DsdashConfig:
    return hub_config(bus_policy="organization", refresh_schedule=SCHEDULE, regions=SPOKE_REGIONS)


@cache
def organization_hub_template() -> Template:
    """The hub of an organization: one bus policy for the whole organization, retention 400."""
    return _synth(organization_config(), "hub-org")


@cache
def per_account_hub_template() -> Template:
    """The hub of accounts outside an organization, retention 30 days."""
    # An operator who raised "Rules per event bus" in Service Quotas sets it in the config.
    config = hub_config(bus_policy="per-account", retention_days=30, rules_per_bus_quota=1200)
    return _synth(config, "hub-per-account")


def _synth(config: DsdashConfig, name: str) -> Template:
    # A cached template outlives any test's tmp_path: the assembly lives until the process ends.
    outdir = Path(tempfile.mkdtemp(prefix=f"dsdash-{name}-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    return synth_hub_template(config, outdir)


def single_resource(
    template: Template, resource_type: str, properties: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type, {"Properties": properties})
    assert len(found) == 1, f"expected exactly one {resource_type} matching, found {len(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)
