"""Semantic checks of `config/projects.yaml`: what the schema cannot express.

The hub being the management account; the StackSets delegated administrator missing, or being
the management account or the hub; a schedule EventBridge or the dashboard cannot read; one tag
key for project and environment; a project without environments or metrics, or whose accounts
name an environment it does not have; an account declared for two project/environment pairs or
being the management account; an alias naming two projects. Alerts and notifications are
`config.alert_validation`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from config.metric_list_checks import check_metric_list
from config.model import DEFAULT_ENVIRONMENT_TAG_KEY, DEFAULT_PROJECT_TAG_KEY
from config.model_building import DEFAULT_STACKSET_ADMIN
from config.project_aliases import project_name_clashes
from config.schedule import ScheduleError, refresh_period_seconds
from config.suggestions import closest
from config.validation_state import ConfigValidation
from config.yaml_positions import DocumentPath, format_json_path


def check_hub_is_not_management_account(validation: ConfigValidation) -> None:
    hub_path: DocumentPath = ("hub", "account_id")
    management_path: DocumentPath = ("organization", "management_account_id")
    hub_account = validation.value_at(hub_path)
    if validation.is_blocked(hub_path) or validation.is_blocked(management_path):
        return
    if isinstance(hub_account, str) and hub_account == validation.value_at(management_path):
        validation.report(
            hub_path,
            f"the hub account {hub_account} is also the organization's management account",
            "expected a separate member account: service-managed StackSets never deploy to"
            " the management account, and the hub must not hold the organization's admin"
            " power",
        )


def check_stackset_admin(validation: ConfigValidation) -> None:
    """`stackset_admin: delegated` needs a delegated admin that is neither the management
    account (that is `management` mode) nor the hub (it must not hold org-admin power)."""
    mode_path: DocumentPath = ("organization", "stackset_admin")
    admin_path: DocumentPath = ("organization", "delegated_admin_account_id")
    if validation.is_blocked(mode_path) or validation.is_blocked(admin_path):
        return
    organization = validation.value_at(("organization",))
    if not isinstance(organization, dict):
        return
    mode = organization.get("stackset_admin", DEFAULT_STACKSET_ADMIN)
    admin = organization.get("delegated_admin_account_id")
    if mode == "delegated" and admin is None:
        validation.report(
            mode_path,
            "stackset_admin is delegated, but delegated_admin_account_id is missing",
            "expected delegated_admin_account_id: the quoted 12-digit id of the member"
            " account registered as the CloudFormation StackSets delegated administrator",
        )
    elif mode != "delegated" and admin is not None:
        validation.report(
            admin_path,
            f"delegated_admin_account_id is set, but stackset_admin is {mode}",
            "expected stackset_admin: delegated to run the org stack in that account, or no"
            " delegated_admin_account_id",
            at_key=True,
        )
    if mode != "delegated" or not isinstance(admin, str):
        return
    if admin == validation.value_at(("organization", "management_account_id")):
        validation.report(
            admin_path,
            f"the delegated administrator {admin} is the organization's management account",
            "expected a member account: a delegated administrator is a member account (for"
            " the management account itself, use stackset_admin: management)",
        )
    elif admin == validation.value_at(("hub", "account_id")):
        validation.report(
            admin_path,
            f"the delegated administrator {admin} is also the hub account",
            "expected a separate member account: the hub must not hold the organization's"
            " StackSet administration",
        )


def check_schedule(validation: ConfigValidation) -> None:
    path: DocumentPath = ("refresh", "schedule")
    schedule = validation.value_at(path)
    if validation.is_blocked(path) or not isinstance(schedule, str):
        return
    try:
        # The parser the dashboard uses, so every schedule accepted here can be read there.
        refresh_period_seconds(schedule)
    except ScheduleError as error:
        validation.report(
            path,
            str(error),
            "expected an EventBridge schedule: rate(1 minute|hour|day), rate(<n> minutes|hours"
            "|days) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)",
        )
        return
    if not schedule.startswith("cron("):
        return
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    day_of_month, day_of_week = fields[2], fields[4]
    # EventBridge rejects a cron expression unless exactly one of the two day fields is "?"
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
    if (day_of_month == "?") == (day_of_week == "?"):
        validation.report(
            path,
            f"cron day-of-month {day_of_month!r} and day-of-week {day_of_week!r} cannot both"
            + (" be '?'" if day_of_month == "?" else " be set"),
            "expected '?' in exactly one of them, like cron(0 6 * * ? *)",
        )


def check_tag_keys(validation: ConfigValidation) -> None:
    project_path: DocumentPath = ("organization", "tag_keys", "project")
    environment_path: DocumentPath = ("organization", "tag_keys", "environment")
    if validation.is_blocked(project_path) or validation.is_blocked(environment_path):
        return
    project_key = validation.value_at(project_path) or DEFAULT_PROJECT_TAG_KEY
    environment_key = validation.value_at(environment_path) or DEFAULT_ENVIRONMENT_TAG_KEY
    if project_key == environment_key:
        validation.report(
            environment_path,
            f"the environment tag key {environment_key!r} is the project tag key too",
            "expected two different OU tag keys, one naming the project and one the environment",
        )


def check_project(
    validation: ConfigValidation, path: DocumentPath, project: dict[str, Any]
) -> None:
    name = path[-1]
    environments = project.get("environments")
    environments_path: DocumentPath = (*path, "environments")
    if environments is None:
        environments = validation.value_at(("defaults", "environments"))
        environments_path = ("defaults", "environments")
    if validation.has_problem_within(environments_path):
        environments = None
    elif not environments:
        validation.report(
            path,
            f"project {name!r} has no environments",
            "expected an environments list in the project or in defaults",
            at_key=True,
        )
    check_metric_list(validation, (*path, "metrics"))
    if not validation.is_blocked((*path, "metrics")) and not validation.is_blocked(
        ("defaults", "metrics")
    ):
        if not project.get("metrics") and not validation.value_at(("defaults", "metrics")):
            validation.report(
                path,
                f"project {name!r} has no metrics",
                "expected at least one metric in the project or in defaults.metrics",
                at_key=True,
            )
    accounts = project.get("accounts")
    if not isinstance(accounts, dict) or not isinstance(environments, list):
        return
    for environment in accounts:
        key_path = (*path, "accounts", str(environment))
        if environment not in environments and not validation.is_blocked(key_path):
            validation.report(
                key_path,
                f"environment {environment!r} is not one of the environments of project"
                f" {name} ({', '.join(map(str, environments))})",
                f"expected an environment listed in {format_json_path(environments_path)}",
                closest(str(environment), [str(item) for item in environments]),
                at_key=True,
            )


def check_accounts_declared_once(validation: ConfigValidation) -> None:
    management_account = validation.value_at(("organization", "management_account_id"))
    first_declaration: dict[str, tuple[str, str, DocumentPath]] = {}
    for project_path, environment, index, account_id in _declared_accounts(validation):
        path = (*project_path, "accounts", environment, index)
        project = str(project_path[-1])
        if account_id == management_account:
            validation.report(
                path,
                f"account {account_id} is the organization's management account",
                "expected a member account: service-managed StackSets never deploy to the"
                " management account",
            )
            continue
        previous = first_declaration.get(account_id)
        if previous is None:
            first_declaration[account_id] = (project, environment, path)
        elif previous[:2] != (project, environment):
            validation.report(
                path,
                f"account {account_id} is already declared for {previous[0]}/{previous[1]}"
                f" on line {validation.line_of(previous[2])}",
                "expected each account in one project and environment: a spoke account"
                " runs one project's stack for one environment",
            )


def check_project_names_once(validation: ConfigValidation) -> None:
    """An alias must name one project: events carrying it are read as that project's."""
    for clash in project_name_clashes(
        validation.value_at(("projects",)), blocked=validation.is_blocked
    ):
        validation.report(
            clash.path,
            f"alias {clash.alias!r} of project {clash.project} already names project"
            f" {clash.other_project}"
            + (f" (line {validation.line_of(clash.other_path)})" if clash.other_path else ""),
            "expected each alias to name one project, and no alias equal to another"
            " project's name; names and aliases are matched ignoring case",
        )


def _declared_accounts(
    validation: ConfigValidation,
) -> Iterator[tuple[DocumentPath, str, int, str]]:
    projects = validation.value_at(("projects",))
    if not isinstance(projects, dict):
        return
    for project_name, project in projects.items():
        project_path: DocumentPath = ("projects", str(project_name))
        accounts = project.get("accounts") if isinstance(project, dict) else None
        if not isinstance(accounts, dict):
            continue
        for environment, account_ids in accounts.items():
            if not isinstance(account_ids, list):
                continue
            for index, account_id in enumerate(account_ids):
                path = (*project_path, "accounts", str(environment), index)
                if isinstance(account_id, str) and not validation.is_blocked(path):
                    yield project_path, str(environment), index, account_id
