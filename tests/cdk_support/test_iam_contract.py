"""The IAM contract: every AWS call a function's code makes is granted to the role it runs as.

moto evaluates no IAM policy by default and never a trust policy, so a grant missing from a role
in our CDK stacks passes every other test and fails only in AWS, and a grant no code uses stays
forever. These tests compare, per role, what the code called on moto (see
iam_contract_scenarios.py) with what the synthesized template grants:

- every called action is granted (plus the actions AWS itself performs with the role: writing
  the function's logs, polling its SQS event source, iam:PassRole behind events:PutTargets);
- for SSM, EventBridge, Lambda Invoke, STS AssumeRole, iam:PassRole and DynamoDB, the request's
  resource (parameter, bus, rule, function, role, table) lies in a granted resource pattern;
- every granted action is used, or listed in UNEXERCISED_GRANTS with the reason it must stay.

Conditions in the policies are not evaluated (a conditional Allow counts as granting). Every test
runs for both `organization.stackset_admin` modes (see conftest.py), and the trust of the hub's
and spokes' enrollment roles is checked against the org stack's enrollment function role, in the
account the org stack runs in.
A gap found here is fixed in the stack, not here: until then its test is an xfail that names it
(strict, so the fix turns it into a failure that asks to remove the mark).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pytest
from iam_contract_calls import (
    ApiCall,
    ArnContext,
    RecordedRun,
    implied_calls,
    request_resources,
)
from iam_contract_grants import ContractTemplates, Grant, StackTemplate, iam_match

from contracts import (
    HUB_CONNECTION_FUNCTION_NAME,
    HUB_ENROLLMENT_ROLE_NAME,
    HUB_HEALTH_FUNCTION_NAME,
    HUB_INGEST_FUNCTION_NAME,
    HUB_REFRESH_FUNCTION_NAME,
    ORG_ENROLLMENT_FUNCTION_NAME,
    ORG_RECONCILER_FUNCTION_NAME,
    SPOKE_CONNECTION_FUNCTION_NAME,
    SPOKE_EXTRACTOR_FUNCTION_NAME,
    spoke_enrollment_role_name,
)
from contracts.dashboard_page import DASHBOARD_PUBLISHER_FUNCTION_NAME

SPOKE_REGION: Final = "eu-west-1"


def _sandbox_execution_role(function_name: str) -> str:
    # tests/enrollment's SimulatedOrganization runs each moto Lambda function as "<name>-execution".
    return f"{function_name}-execution"


@dataclass(frozen=True)
class Subject:
    """One role of our stacks and the recorded principals whose calls it must allow."""

    key: str
    unit: str  # hub | spoke | org: the template that defines the role
    principals: tuple[str, ...]
    function_name: str | None = None  # the role of this function...
    role_name: str | None = None  # ...or the role of this name

    def role_logical_id(self, template: StackTemplate) -> str:
        if self.function_name is not None:
            return template.function_role(self.function_name)
        assert self.role_name is not None
        return template.role_named(self.role_name)


SUBJECTS: Final = (
    Subject("hub-ingest", "hub", (HUB_INGEST_FUNCTION_NAME,), HUB_INGEST_FUNCTION_NAME),
    Subject("hub-refresh", "hub", (HUB_REFRESH_FUNCTION_NAME,), HUB_REFRESH_FUNCTION_NAME),
    Subject("hub-health", "hub", (HUB_HEALTH_FUNCTION_NAME,), HUB_HEALTH_FUNCTION_NAME),
    Subject(
        "hub-dashboard-publisher",
        "hub",
        (DASHBOARD_PUBLISHER_FUNCTION_NAME,),
        DASHBOARD_PUBLISHER_FUNCTION_NAME,
    ),
    Subject(
        "hub-connection",
        "hub",
        (_sandbox_execution_role(HUB_CONNECTION_FUNCTION_NAME),),
        HUB_CONNECTION_FUNCTION_NAME,
    ),
    # Assumed by the org enrollment function in the hub.
    Subject(
        "hub-enrollment-role",
        "hub",
        (HUB_ENROLLMENT_ROLE_NAME,),
        role_name=HUB_ENROLLMENT_ROLE_NAME,
    ),
    Subject(
        "spoke-extractor", "spoke", (SPOKE_EXTRACTOR_FUNCTION_NAME,), SPOKE_EXTRACTOR_FUNCTION_NAME
    ),
    Subject(
        "spoke-connection",
        "spoke",
        (_sandbox_execution_role(SPOKE_CONNECTION_FUNCTION_NAME),),
        SPOKE_CONNECTION_FUNCTION_NAME,
    ),
    # Assumed by the org enrollment function in each spoke.
    Subject(
        "spoke-enrollment-role",
        "spoke",
        (spoke_enrollment_role_name(SPOKE_REGION),),
        role_name=spoke_enrollment_role_name(SPOKE_REGION),
    ),
    # Called directly, and asynchronously by the enrollment function (then as a moto function).
    Subject(
        "org-reconciler",
        "org",
        (ORG_RECONCILER_FUNCTION_NAME, _sandbox_execution_role(ORG_RECONCILER_FUNCTION_NAME)),
        ORG_RECONCILER_FUNCTION_NAME,
    ),
    Subject("org-enrollment", "org", (ORG_ENROLLMENT_FUNCTION_NAME,), ORG_ENROLLMENT_FUNCTION_NAME),
)

# The Lambda service writes a function's logs with its execution role; the stacks create each
# log group, so CreateLogGroup is not needed
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html#monitoring-cloudwatchlogs-prereqs).
LAMBDA_LOGGING_ACTIONS: Final = ("logs:CreateLogStream", "logs:PutLogEvents")
# The event source mapping polls SQS with the function's role
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions).
SQS_EVENT_SOURCE_ACTIONS: Final = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)
# Lambda sends failed asynchronous invocations to an SQS dead-letter queue or destination with
# the function's role
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
SQS_FAILURE_TARGET_ACTIONS: Final = ("sqs:SendMessage",)

# Grants no scenario exercises that must stay, each with why. An entry that becomes used, or is
# no longer granted, fails `test_unexercised_grant_list_is_current`.
_CDK_SQS_CONSUMER = (
    "added by CDK's SqsEventSource (queue.grantConsumeMessages); Lambda's poller needs only "
    "ReceiveMessage, DeleteMessage and GetQueueAttributes, but the construct cannot be narrowed"
)
_CDK_SQS_DESTINATION = (
    "added by CDK's SqsDestination (queue.grantSendMessages); Lambda needs only SendMessage, "
    "but the construct cannot be narrowed"
)
_ATHENA_ON_BEHALF: Final = (
    "used by Athena on the publisher's behalf while it runs the history query (Glue table, "
    "history objects, results bucket); moto's Athena runs no SQL"
)
UNEXERCISED_GRANTS: Final[Mapping[tuple[str, str], str]] = {
    ("hub-ingest", "sqs:ChangeMessageVisibility"): _CDK_SQS_CONSUMER,
    ("hub-ingest", "sqs:GetQueueUrl"): _CDK_SQS_CONSUMER,
    ("org-reconciler", "sqs:GetQueueAttributes"): _CDK_SQS_DESTINATION,
    ("org-reconciler", "sqs:GetQueueUrl"): _CDK_SQS_DESTINATION,
    ("org-enrollment", "sqs:GetQueueAttributes"): _CDK_SQS_DESTINATION,
    ("org-enrollment", "sqs:GetQueueUrl"): _CDK_SQS_DESTINATION,
    ("hub-connection", "events:DeleteRule"): (
        "EBRule deletes a refresh fan-out rule that repacking left empty (more than 5 spokes, "
        "then fewer: enrollment/connection/runtime/forwarding_rules.py); the scenario's spokes fit one rule"
    ),
    # Athena runs the publisher's queries with the caller's rights (reading the Glue table and the
    # history objects, writing results); moto's Athena runs no SQL, so only the client's calls
    # (StartQueryExecution, GetQueryExecution, GetQueryResults) are recorded.
    **{
        ("hub-dashboard-publisher", action): _ATHENA_ON_BEHALF
        for action in (
            "glue:GetDatabase",
            "glue:GetTable",
            "s3:GetBucketLocation",
            "s3:AbortMultipartUpload",
        )
    },
    ("hub-dashboard-publisher", "s3:ListBucket"): (
        "granted on the history and results buckets for Athena, and on the page's key so that "
        "HeadObject of a missing page answers 404 rather than 403; no code lists a bucket"
    ),
    ("hub-connection", "events:RemovePermission"): (
        "used only in the per-account bus policy mode (and when switching modes); the example "
        "config, and so this hub template, uses the organization mode"
    ),
}

# Known gaps, found by this suite and waiting for a stack change (key: (test, subject)): none.
# An entry marks that test xfail(strict=True), so fixing the stack forces removing the entry.
KNOWN_GAPS: Final[Mapping[tuple[str, str], str]] = {}


def _subject_params(test: str) -> list[object]:
    return [
        pytest.param(
            subject,
            id=subject.key,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(test, subject.key)])]
            if (test, subject.key) in KNOWN_GAPS
            else [],
        )
        for subject in SUBJECTS
    ]


# --- helpers ----------------------------------------------------------------------------------


def _template(templates: ContractTemplates, subject: Subject) -> StackTemplate:
    return templates.by_unit(subject.unit)


def _grants(templates: ContractTemplates, subject: Subject) -> list[Grant]:
    template = _template(templates, subject)
    return template.grants(subject.role_logical_id(template))


def _calls(run: RecordedRun, subject: Subject) -> list[ApiCall]:
    """What the code called with this role, and what AWS checks on it along the way."""
    calls = run.by_principal(subject.principals)
    return calls + [implied for call in calls for implied in implied_calls(call)]


def _service_actions(templates: ContractTemplates, subject: Subject) -> tuple[str, ...]:
    """Actions AWS performs with the role on the function's behalf."""
    if subject.function_name is None:
        return ()
    template = _template(templates, subject)
    role = subject.role_logical_id(template)
    actions = LAMBDA_LOGGING_ACTIONS
    if template.has_sqs_event_source(role):
        actions += SQS_EVENT_SOURCE_ACTIONS
    if template.has_sqs_failure_target(role):
        actions += SQS_FAILURE_TARGET_ACTIONS
    return actions


def _needed_actions(
    templates: ContractTemplates, run: RecordedRun, subject: Subject
) -> dict[str, str]:
    """action -> an example of what needs it (for failure messages)."""
    needed = {action: "the Lambda service" for action in _service_actions(templates, subject)}
    for call in _calls(run, subject):
        for action in call.iam_actions:
            needed.setdefault(action, call.describe())
    return needed


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", _subject_params("exercised"))
def test_each_role_was_exercised(recorded_run: RecordedRun, subject: Subject) -> None:
    # Guards the suite itself: a scenario that stopped running, or calls attributed to the wrong
    # principal, would otherwise make every other test pass vacuously.
    assert recorded_run.by_principal(subject.principals), (
        f"no AWS call was recorded for {subject.key} (principals {subject.principals})"
    )


@pytest.mark.parametrize("subject", _subject_params("granted"))
def test_every_called_action_is_granted(
    contract_templates: ContractTemplates, recorded_run: RecordedRun, subject: Subject
) -> None:
    grants = _grants(contract_templates, subject)
    needed = _needed_actions(contract_templates, recorded_run, subject)
    missing = {
        action: example
        for action, example in needed.items()
        if not any(grant.allows_action(action) for grant in grants)
    }
    assert not missing, f"{subject.key}: actions called but not granted to its role:\n" + "\n".join(
        f"  {action}  (e.g. {example})" for action, example in sorted(missing.items())
    )


@pytest.mark.parametrize("subject", _subject_params("resources"))
def test_every_request_is_granted_on_its_resource(
    contract_templates: ContractTemplates, recorded_run: RecordedRun, subject: Subject
) -> None:
    template = _template(contract_templates, subject)
    context = ArnContext(template.account_id, template.region, recorded_run.account_aliases)
    grants = _grants(contract_templates, subject)
    denied: set[str] = set()
    checked = 0
    for call in _calls(recorded_run, subject):
        resources = request_resources(call, context)
        if resources is None:
            continue
        for action in call.iam_actions:
            for resource in resources:
                checked += 1
                if not any(grant.allows(action, resource) for grant in grants):
                    denied.add(f"  {action} on {resource}")
    assert not denied, f"{subject.key}: requests outside the granted resources:\n" + "\n".join(
        sorted(denied)
    )
    if subject.unit != "org":
        # Every hub and spoke role calls SSM, EventBridge, Lambda or DynamoDB; checking nothing
        # would mean the resource model stopped recognising their requests.
        assert checked, f"{subject.key}: no request had a resource this suite models"


@pytest.mark.parametrize("subject", _subject_params("unused"))
def test_every_grant_is_used_or_listed(
    contract_templates: ContractTemplates, recorded_run: RecordedRun, subject: Subject
) -> None:
    used = set(_needed_actions(contract_templates, recorded_run, subject))
    unused = sorted(
        {
            f"  {pattern}  ({grant.source})"
            for grant in _grants(contract_templates, subject)
            for pattern in grant.actions
            if not any(iam_match(pattern, action, case_sensitive=False) for action in used)
            and (subject.key, pattern) not in UNEXERCISED_GRANTS
        }
    )
    assert not unused, (
        f"{subject.key}: granted actions no code path used (remove them, or list them in "
        "UNEXERCISED_GRANTS with the reason they must stay):\n" + "\n".join(unused)
    )


def test_unexercised_grant_list_is_current(
    contract_templates: ContractTemplates, recorded_run: RecordedRun
) -> None:
    subjects = {subject.key: subject for subject in SUBJECTS}
    stale = []
    for subject_key, action in UNEXERCISED_GRANTS:
        subject = subjects[subject_key]
        granted = any(grant.allows_action(action) for grant in _grants(contract_templates, subject))
        used = action in _needed_actions(contract_templates, recorded_run, subject)
        if not granted:
            stale.append(f"  {subject_key}: {action} is no longer granted")
        elif used:
            stale.append(f"  {subject_key}: {action} is now exercised by a scenario")
    assert not stale, "UNEXERCISED_GRANTS entries to remove:\n" + "\n".join(stale)


def _trust_statements(template: StackTemplate, role_name: str) -> list[dict[str, object]]:
    role = template.resources[template.role_named(role_name)]
    document = template.resolve(role["Properties"]["AssumeRolePolicyDocument"])
    statements: list[dict[str, object]] = document["Statement"]
    return statements


@pytest.mark.parametrize(
    ("unit", "role_name"),
    [
        ("hub", HUB_ENROLLMENT_ROLE_NAME),
        ("spoke", spoke_enrollment_role_name(SPOKE_REGION)),
    ],
)
def test_enrollment_roles_trust_only_the_org_stacks_enrollment_function_role(
    contract_templates: ContractTemplates, unit: str, role_name: str
) -> None:
    org = contract_templates.org
    function_role = org.resources[org.function_role(ORG_ENROLLMENT_FUNCTION_NAME)]
    function_role_arn = (
        f"arn:aws:iam::{org.account_id}:role/{function_role['Properties']['RoleName']}"
    )
    template = contract_templates.by_unit(unit)
    (trust,) = _trust_statements(template, role_name)
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    # The org stack's account root, only with a principal-ARN condition naming exactly the
    # enrollment function's role: never another role of that account, never an admin role.
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{org.account_id}:root"}
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": function_role_arn}}
    # And that role is the one whose code assumes the enrollment roles.
    assert any(
        grant.allows(
            "sts:AssumeRole",
            f"arn:aws:iam::{contract_templates.hub.account_id}:role/{HUB_ENROLLMENT_ROLE_NAME}",
        )
        for grant in org.grants(org.function_role(ORG_ENROLLMENT_FUNCTION_NAME))
    )
