"""The org app the org template tests read (test_org_{placement,stacksets,reconciler,enrollment,
failed_invocations}_template.py), synthesized once per process: a synth of the whole app costs
5-10 s, and splitting the tests by what they check must not multiply it. Imported by bare name
(pytest puts the test folder on sys.path), hence the unique name."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from aws_cdk.assertions import Template
from org_stack_support import REGIONS, SynthesizedOrg, org_config, synth_app

import app as dsdash_app

# The management account's stacks (org stack, reconciler, enrollment) live in the first region.
HOME_REGION = REGIONS[0]


@cache
def synthesized_organization() -> SynthesizedOrg:
    """The whole app for `org_config()`. Its assembly directory lives until the process ends: a
    cached synth outlives any test's tmp_path, and `template()` reads the stack templates there."""
    outdir = Path(tempfile.mkdtemp(prefix="dsdash-org-"))
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    return synth_app(org_config(), outdir)


@cache
def organization_org_template() -> Template:
    # One Template object for every module (Template.from_stack re-reads and parses the file).
    return synthesized_organization().template(dsdash_app.ORG_STACK_ID)
