"""Every file under tests/config/bad/ holds one kind of mistake (its first line says which).

For each, `dsdash validate` must point at the right line and JSON path, say what was wrong, and
offer the fix when the mistake looks like a typo. A single mistake must give a single message:
later passes must not pile on inside a value that is already reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from config.loader import ConfigError, load_config

BAD = Path(__file__).parent / "bad"


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    column: int
    json_path: str
    says: str
    suggestion: str | None = None


CASES = [
    Expected("yaml_syntax_error", 10, 8, "$", "invalid YAML: expected ',' or ']'"),
    Expected("empty_file", 1, 1, "$", "the file is empty"),
    Expected("top_level_list", 2, 1, "$", "the top level is a list"),
    Expected("duplicate_top_level_key", 23, 1, "$.hub", "duplicate key 'hub' on lines 2 and 23"),
    Expected(
        "duplicate_nested_key", 6, 3, "$.hub.region", "duplicate key 'region' on lines 5 and 6"
    ),
    Expected("unknown_section", 17, 1, "$.projetcs", "unknown section 'projetcs'", "projects"),
    Expected("section_not_a_mapping", 2, 6, "$.hub", "section 'hub' is a list"),
    Expected("missing_key", 2, 1, "$.hub", "missing key 'region'"),
    Expected("misspelt_key", 5, 3, "$.hub.regoin", "unknown key 'regoin'", "region"),
    Expected(
        "unquoted_account_id",
        4,
        15,
        "$.hub.account_id",
        "YAML read the unquoted value 111111111111 as the number",
    ),
    Expected(
        "unquoted_account_id_leading_zero",
        8,
        26,
        "$.organization.management_account_id",
        "as the number 12345678901, dropping its leading zero",
    ),
    Expected(
        "unquoted_account_id_in_list",
        22,
        14,
        "$.projects.fraud-detection.accounts.prod[0]",
        "YAML read the unquoted value 333333333333 as the number",
    ),
    Expected("short_account_id", 4, 15, "$.hub.account_id", "has 11 digits, not 12"),
    Expected("invalid_region", 5, 11, "$.hub.region", "invalid value 'Ireland'"),
    Expected(
        "invalid_organization_id", 7, 7, "$.organization.id", "invalid value 'org-a1b2c3d4e5'"
    ),
    Expected("empty_regions", 9, 12, "$.organization.regions", "the list is empty"),
    Expected(
        "duplicate_region",
        12,
        7,
        "$.organization.regions[2]",
        "'eu-west-1' is listed more than once (first on line 10)",
    ),
    Expected(
        "bus_policy_typo",
        6,
        15,
        "$.hub.bus_policy",
        "'organisation' is not allowed",
        "organization",
    ),
    Expected("invalid_rate_schedule", 11, 13, "$.refresh.schedule", "invalid value 'rate(2 hour)'"),
    Expected(
        "cron_both_day_fields",
        11,
        13,
        "$.refresh.schedule",
        "day-of-month '*' and day-of-week 'MON' cannot both be set",
    ),
    Expected("retention_too_long", 12, 17, "$.retention_days", "5000 is above the maximum 3650"),
    Expected("unsupported_event_version", 13, 16, "$.event_version", "3 is not allowed"),
    Expected(
        "unknown_metric",
        16,
        7,
        "$.defaults.metrics[0]",
        "unknown metric 'TotalCompletedTrainingJob'",
        "TotalCompletedTrainingJobs",
    ),
    Expected(
        "unknown_metric_argument",
        22,
        11,
        "$.projects.fraud-detection.metrics[0].args.objectve_metric",
        "unknown argument 'objectve_metric' for metric BestTrainingObjective",
        "objective_metric",
    ),
    Expected(
        "invalid_metric_argument_value",
        23,
        22,
        "$.projects.fraud-detection.metrics[0].args.direction",
        "invalid arguments for metric BestTrainingObjective: direction: 'maximise'",
    ),
    Expected(
        "missing_required_metric_argument",
        20,
        9,
        "$.projects.fraud-detection.metrics[0]",
        "'objective_metric' is a required property",
    ),
    Expected(
        "arguments_for_metric_without_arguments",
        18,
        9,
        "$.defaults.metrics[0].args.window_hours",
        "unknown argument 'window_hours' for metric TotalCompletedTrainingJobs",
    ),
    Expected(
        "metric_argument_wrong_type",
        22,
        25,
        "$.projects.fraud-detection.metrics[0].args.window_hours",
        "invalid arguments for metric FailedTrainingJobs: window_hours: '48'",
    ),
    Expected(
        "metric_entry_unknown_key",
        21,
        9,
        "$.projects.fraud-detection.metrics[0].arguments",
        "unknown key 'arguments'",
        "args",
    ),
    Expected(
        "metric_listed_twice",
        22,
        9,
        "$.projects.fraud-detection.metrics[2]",
        "metric 'FailedTrainingJobs' is listed twice (first on line 20)",
    ),
    Expected(
        "invalid_project_name",
        18,
        3,
        "$.projects.Fraud_Detection",
        "invalid name 'Fraud_Detection'",
        "fraud-detection",
    ),
    Expected(
        "invalid_environment_name",
        14,
        23,
        "$.defaults.environments[1]",
        "invalid value 'Prod'",
        "prod",
    ),
    Expected(
        "environment_name_too_long",
        14,
        23,
        "$.defaults.environments[1]",
        "invalid value 'production-eu-west-one'",
    ),
    Expected(
        "accounts_environment_not_declared",
        22,
        7,
        "$.projects.fraud-detection.accounts.prd",
        "environment 'prd' is not one of the environments of project fraud-detection (dev, prod)",
        "prod",
    ),
    Expected(
        "project_without_environments",
        17,
        3,
        "$.projects.fraud-detection",
        "project 'fraud-detection' has no environments",
    ),
    Expected(
        "account_in_two_projects",
        26,
        14,
        "$.projects.churn-prediction.accounts.prod[0]",
        "account 333333333333 is already declared for fraud-detection/prod on line 22",
    ),
    Expected(
        "hub_is_management_account",
        4,
        15,
        "$.hub.account_id",
        "the hub account 111111111111 is also the organization's management account",
    ),
    Expected(
        "delegated_admin_missing",
        10,
        19,
        "$.organization.stackset_admin",
        "stackset_admin is delegated, but delegated_admin_account_id is missing",
    ),
    Expected(
        "delegated_admin_is_management",
        11,
        31,
        "$.organization.delegated_admin_account_id",
        "the delegated administrator 999999999999 is the organization's management account",
    ),
    Expected(
        "delegated_admin_is_hub",
        11,
        31,
        "$.organization.delegated_admin_account_id",
        "the delegated administrator 111111111111 is also the hub account",
    ),
    Expected(
        "delegated_admin_unquoted",
        11,
        31,
        "$.organization.delegated_admin_account_id",
        "YAML read the unquoted value 444444444444 as the number",
    ),
    Expected(
        "delegated_admin_without_delegated_mode",
        10,
        3,
        "$.organization.delegated_admin_account_id",
        "delegated_admin_account_id is set, but stackset_admin is management",
    ),
    Expected(
        "stackset_admin_typo",
        10,
        19,
        "$.organization.stackset_admin",
        "'delegate' is not allowed",
        "delegated",
    ),
    Expected(
        "management_account_as_spoke",
        22,
        14,
        "$.projects.fraud-detection.accounts.prod[0]",
        "account 999999999999 is the organization's management account",
    ),
    Expected(
        "same_tag_keys",
        12,
        18,
        "$.organization.tag_keys.environment",
        "the environment tag key 'team' is the project tag key too",
    ),
    Expected("no_projects", 17, 11, "$.projects", "the mapping is empty"),
    Expected(
        "alias_names_two_projects",
        21,
        22,
        "$.projects.churn-prediction.aliases[1]",
        "alias 'project1' of project churn-prediction already names project fraud-detection"
        " (line 19)",
    ),
    Expected(
        "alias_invalid_characters",
        19,
        15,
        "$.projects.fraud-detection.aliases[0]",
        "invalid value 'Project 1'",
    ),
    Expected(
        "accept_sample_spokes_not_boolean",
        6,
        25,
        "$.hub.accept_sample_spokes",
        "found the text 'yes please'",
    ),
    Expected(
        "alert_unknown_metric",
        20,
        17,
        "$.projects.fraud-detection.alerts[0].metric",
        "unknown metric 'FailedTrainingJob'",
        "FailedTrainingJobs",
    ),
    Expected(
        "alert_metric_not_selected",
        23,
        17,
        "$.projects.fraud-detection.alerts[0].metric",
        "metric 'FailedPipelineExecutions' is not selected for project 'fraud-detection'",
    ),
    Expected(
        "alert_default_metric_not_in_defaults",
        18,
        15,
        "$.defaults.alerts[0].metric",
        "metric 'FailedTrainingJobs' is not selected for every project (defaults.metrics)",
    ),
    Expected(
        "alert_unknown_comparison",
        21,
        21,
        "$.projects.fraud-detection.alerts[0].comparison",
        "'gt' is not allowed",
    ),
    Expected(
        "alert_threshold_not_a_number",
        22,
        20,
        "$.projects.fraud-detection.alerts[0].threshold",
        "found the text 'three'",
    ),
    Expected(
        "alert_threshold_not_finite",
        22,
        20,
        "$.projects.fraud-detection.alerts[0].threshold",
        "threshold nan is not a finite number",
    ),
    Expected(
        "alert_environment_not_in_project",
        23,
        24,
        "$.projects.fraud-detection.alerts[0].environments[0]",
        "environment 'prd' is not one of the environments (dev, prod)",
        "prod",
    ),
    Expected(
        "alert_listed_twice",
        24,
        15,
        "$.projects.fraud-detection.alerts[1].name",
        "alert 'failures' is listed twice (first on line 20)",
    ),
    Expected(
        "subscription_bad_endpoint",
        16,
        17,
        "$.notifications.subscriptions[0].endpoint",
        "is not a valid sqs endpoint",
    ),
]


def _problems(file_name: str) -> list[str]:
    path = BAD / f"{file_name}.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [str(problem) for problem in raised.value.problems]


def test_every_bad_file_has_a_case_and_there_are_at_least_25() -> None:
    files = {path.stem for path in BAD.glob("*.yaml")} - {"several_problems"}
    assert files == {case.file for case in CASES}
    assert len(files) >= 25


@pytest.mark.parametrize("case", CASES, ids=[case.file for case in CASES])
def test_bad_file_reports_its_one_mistake_where_it_is(case: Expected) -> None:
    path = BAD / f"{case.file}.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path)

    problems = raised.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert (problem.file, problem.line, problem.column) == (str(path), case.line, case.column)
    assert problem.json_path == case.json_path
    assert case.says in problem.message
    assert problem.expected.startswith("expected ")
    assert problem.suggestion == case.suggestion
    # The printed form is what `dsdash validate` shows: PATH:LINE:COL: <json path>: ...
    assert str(problem).startswith(f"{path}:{case.line}:{case.column}: {case.json_path}: ")
    if case.suggestion is not None:
        assert str(problem).endswith(f" (did you mean {case.suggestion!r}?)")


def test_every_problem_in_a_file_is_reported_in_file_order() -> None:
    path = BAD / "several_problems.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert [(p.line, p.json_path, p.suggestion) for p in raised.value.problems] == [
        (5, "$.hub.regoin", "region"),
        (12, "$.retention_days", None),
        (20, "$.projects.fraud-detection.metrics[0]", "FailedTrainingJobs"),
    ]
