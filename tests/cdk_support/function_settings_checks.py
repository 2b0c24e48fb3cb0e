"""Every function's environment, as synthesized, is what its settings class reads.

Collected by `test_iam_contract.py`, whose session-scoped templates they read (with
`--dist loadfile`, a test file of its own would synthesize the app again on its worker).

The stacks write each environment from the function's settings class (`environment_of`) or by
the class's variable names; this reads every Lambda function of the hub, org and spoke
templates back with `read_settings`, so a variable a construct sets and the function never
reads, a required one it forgets, or a value the function cannot parse fails here, not in a
deployed account.
"""

from __future__ import annotations

from typing import Any

import pytest
from iam_contract_grants import ContractTemplates, StackTemplate

from enrollment.connection.runtime.connection import ConnectionSettings
from enrollment.enrollment_function.runtime.settings import EnrollmentSettings
from hub_stack.dashboard_publisher.runtime.publisher import PublisherSettings
from hub_stack.ingest.runtime.ingest_settings import IngestSettings
from hub_stack.platform_health.runtime.platform_health import HealthSettings
from hub_stack.refresh.runtime.refresh import RefreshSettings
from org_stack.reconciler.runtime.settings import ReconcilerSettings
from runtime_common.settings import read_settings, variables_of
from spoke_stackset.extractor.runtime.extractor import ExtractorSettings

# The handler of each function we write -> the class its environment is read with.
SETTINGS_BY_HANDLER: dict[str, type[Any]] = {
    "hub_stack.ingest.runtime.ingest.handler": IngestSettings,
    "hub_stack.refresh.runtime.refresh.handler": RefreshSettings,
    "hub_stack.platform_health.runtime.platform_health.handler": HealthSettings,
    "hub_stack.dashboard_publisher.runtime.publisher.handler": PublisherSettings,
    "enrollment.connection.runtime.connection.handler": ConnectionSettings,
    "enrollment.enrollment_function.runtime.handler.handler": EnrollmentSettings,
    "org_stack.reconciler.runtime.handler.handler": ReconcilerSettings,
    "spoke_stackset.extractor.runtime.extractor.handler": ExtractorSettings,
}
# Read by Powertools itself (cdk_support.functions sets it on every function).
POWERTOOLS_VARIABLES = frozenset({"POWERTOOLS_SERVICE_NAME"})
OUR_PACKAGES = ("hub_stack.", "dashboard.", "enrollment.", "org_stack.", "spoke_stackset.")


def _our_functions(stack: StackTemplate) -> list[tuple[str, str, dict[str, str]]]:
    functions = []
    for logical_id, resource in stack.resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        handler = properties.get("Handler", "")
        if not handler.startswith(OUR_PACKAGES):
            continue  # CDK's own providers (triggers, log retention)
        variables = properties.get("Environment", {}).get("Variables", {})
        environment = {name: str(stack.resolve(value)) for name, value in variables.items()}
        functions.append((f"{stack.name}/{logical_id}", handler, environment))
    return functions


def test_every_function_environment_is_exactly_what_its_settings_class_reads(
    management_templates: ContractTemplates,
) -> None:
    seen: set[str] = set()
    for stack in (management_templates.hub, management_templates.org, management_templates.spoke):
        for where, handler, environment in _our_functions(stack):
            settings_class = SETTINGS_BY_HANDLER.get(handler)
            assert settings_class is not None, f"{where}: {handler} has no settings class"
            seen.add(handler)
            variables = variables_of(settings_class)
            unread = set(environment) - set(variables) - POWERTOOLS_VARIABLES
            missing = {name for name, required in variables.items() if required} - set(environment)
            assert (unread, missing) == (set(), set()), where
            # The values parse: what the construct writes, the function accepts.
            read_settings(settings_class, environment)
    assert seen == set(SETTINGS_BY_HANDLER)


def test_a_bad_value_fails_naming_its_variable(management_templates: ContractTemplates) -> None:
    ((_, _, environment),) = [
        function
        for function in _our_functions(management_templates.org)
        if function[1] == "org_stack.reconciler.runtime.handler.handler"
    ]
    with pytest.raises(ValueError, match="environment variable ORGANIZATION_REGIONS: 'mars'"):
        read_settings(ReconcilerSettings, {**environment, "ORGANIZATION_REGIONS": "mars"})
