"""The loader's messages for the mistakes users make most, and how metrics are resolved."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from config.errors import ConfigProblem
from config.loader import ConfigError, load_config
from contracts import DEFAULT_RULES_PER_BUS_QUOTA

VALID = textwrap.dedent(
    """\
    hub:
      name: CentralHub
      account_id: "111111111111"
      region: eu-west-1
    organization:
      id: o-a1b2c3d4e5
      management_account_id: "999999999999"
      regions: [eu-west-1]
    refresh:
      schedule: rate(1 hour)
    retention_days: 400
    defaults:
      environments: [dev, prod]
      metrics:
        - TotalCompletedTrainingJobs
        - name: FailedTrainingJobs
          args: {window_hours: 24}
    projects:
      fraud-detection:
        metrics:
          - name: FailedTrainingJobs
            args: {window_hours: 72}
          - TrainingJobsInProgress
    """
)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "projects.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return raised.value.problems


def test_problem_prints_as_path_line_column_json_path_message_expected_suggestion() -> None:
    problem = ConfigProblem(
        "config/projects.yaml",
        7,
        3,
        "$.hub.regoin",
        "unknown key 'regoin'",
        "expected one of: region",
        "region",
    )
    plain = ConfigProblem(
        "config/projects.yaml", 1, 1, "$", "the file is empty", "expected a mapping"
    )

    assert str(problem) == (
        "config/projects.yaml:7:3: $.hub.regoin: unknown key 'regoin', expected one of: region"
        " (did you mean 'region'?)"
    )
    assert str(plain) == "config/projects.yaml:1:1: $: the file is empty, expected a mapping"


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    # Line 3 uses a tab for indentation, which YAML forbids.
    path = _write(tmp_path, "hub:\n  name: CentralHub\n\taccount_id: '111111111111'\n")

    (problem,) = _problems(path)

    assert (problem.line, problem.column, problem.json_path) == (3, 1, "$")
    assert problem.message.startswith("invalid YAML: found character '\\t'")


def test_unclosed_quote_names_the_line_where_it_started(tmp_path: Path) -> None:
    path = _write(tmp_path, "hub:\n  name: 'CentralHub\n  region: eu-west-1\n")

    (problem,) = _problems(path)

    assert problem.line == 4
    assert "started on line 2" in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_refused_with_what_it_should_contain(tmp_path: Path, text: str) -> None:
    (problem,) = _problems(_write(tmp_path, text))

    assert (problem.line, problem.column, problem.json_path) == (1, 1, "$")
    assert problem.message == "the file is empty"
    assert "hub, organization" in problem.expected


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("- hub\n- organization\n", "the top level is a list"),
        ("just some text\n", "the top level is the text 'just some text'"),
        ("42\n", "the top level is the number 42"),
    ],
)
def test_non_mapping_top_level_is_refused(tmp_path: Path, text: str, found: str) -> None:
    (problem,) = _problems(_write(tmp_path, text))

    assert (problem.line, problem.json_path, problem.message) == (1, "$", found)


def test_every_duplicate_key_is_reported_with_both_lines(tmp_path: Path) -> None:
    text = VALID.replace("  region: eu-west-1\n", "  region: eu-west-1\n  region: us-east-1\n")
    text = text.replace("  fraud-detection:\n", "  fraud-detection:\n    metrics: []\n")
    path = _write(tmp_path, text)

    problems = _problems(path)

    assert [(p.line, p.json_path, p.message) for p in problems] == [
        (5, "$.hub.region", "duplicate key 'region' on lines 4 and 5"),
        (22, "$.projects.fraud-detection.metrics", "duplicate key 'metrics' on lines 21 and 22"),
    ]
    assert "silently keep only one" in problems[0].expected


def test_unquoted_account_id_tells_the_user_to_quote_it(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace('"999999999999"', "012345678901"))

    (problem,) = _problems(path)

    assert problem.json_path == "$.organization.management_account_id"
    assert problem.line == 7
    assert problem.message == (
        "YAML read the unquoted value 012345678901 as the number 12345678901,"
        " dropping its leading zero"
    )
    assert problem.expected.endswith('quote it: "012345678901"')


def test_hub_in_the_management_account_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace('"999999999999"', '"111111111111"'))

    (problem,) = _problems(path)

    assert problem.json_path == "$.hub.account_id"
    assert "StackSets never deploy to the management account" in problem.expected
    assert "admin" in problem.expected


def test_missing_file_is_a_config_problem_not_a_traceback(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "absent.yaml")

    assert problem.file == str(tmp_path / "absent.yaml")
    assert "cannot read the file" in problem.message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("projects:\n", "projects: &loop\n  again: *loop\n", 1))

    (problem,) = _problems(path)

    assert problem.message == "invalid YAML: an alias refers to a value that contains it"


def test_project_metric_with_a_default_name_replaces_the_default_arguments(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID))

    project = config.project("fraud-detection")
    # Defaults first and in their order; the project's entry takes the default's place.
    assert project.metric_names == (
        "TotalCompletedTrainingJobs",
        "FailedTrainingJobs",
        "TrainingJobsInProgress",
    )
    failed = project.metrics[1]
    assert failed.args["window_hours"] == 72
    assert project.environments == ("dev", "prod")


def test_empty_project_uses_the_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID + "  churn:\n"))

    churn = config.project("churn")
    assert churn.environments == ("dev", "prod")
    assert churn.metric_names == ("TotalCompletedTrainingJobs", "FailedTrainingJobs")
    assert churn.metrics[1].args["window_hours"] == 24


def test_optional_settings_take_their_documented_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID))

    assert config.hub.bus_policy == "organization"
    assert config.hub.accept_sample_spokes is False
    assert config.project("fraud-detection").aliases == ()
    assert config.event_version == 2
    assert config.organization.project_tag_key == "dsdash:project"
    assert config.organization.environment_tag_key == "dsdash:environment"


def test_sample_spokes_and_project_aliases_reach_the_model(tmp_path: Path) -> None:
    text = VALID.replace(
        "  region: eu-west-1\n", "  region: eu-west-1\n  accept_sample_spokes: true\n", 1
    )
    text += "    aliases: [Project1, fraud_v2]\n  churn:\n    aliases: [CHURN-old]\n"

    config = load_config(_write(tmp_path, text))

    assert config.hub.accept_sample_spokes is True
    assert config.project("fraud-detection").aliases == ("Project1", "fraud_v2")
    assert config.project("churn").aliases == ("CHURN-old",)


def test_an_alias_equal_to_another_projects_name_is_refused(tmp_path: Path) -> None:
    text = VALID + "    aliases: [Churn]\n  churn:\n"

    [problem] = _problems(_write(tmp_path, text))

    assert problem.json_path == "$.projects.fraud-detection.aliases[0]"
    assert "alias 'Churn' of project fraud-detection already names project churn" in problem.message
    assert "ignoring case" in problem.expected


def test_project_without_any_metric_is_refused(tmp_path: Path) -> None:
    text = (
        VALID.replace(
            "  metrics:\n    - TotalCompletedTrainingJobs\n    - name: FailedTrainingJobs\n"
            "      args: {window_hours: 24}\n",
            "",
        )
        + "  churn: {}\n"
    )

    (problem,) = _problems(_write(tmp_path, text))

    assert problem.json_path == "$.projects.churn"
    assert problem.message == "project 'churn' has no metrics"


def test_metric_listed_twice_in_defaults_is_refused(tmp_path: Path) -> None:
    text = VALID.replace(
        "    - TotalCompletedTrainingJobs\n",
        "    - TotalCompletedTrainingJobs\n    - TotalCompletedTrainingJobs\n",
    )

    (problem,) = _problems(_write(tmp_path, text))

    assert (problem.line, problem.json_path) == (16, "$.defaults.metrics[1]")
    assert "listed twice (first on line 15)" in problem.message


def test_cron_schedule_with_one_day_field_set_is_accepted(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID.replace("rate(1 hour)", "cron(0 6 * * ? *)")))

    assert config.refresh_schedule == "cron(0 6 * * ? *)"


def test_missing_section_does_not_hide_other_problems(tmp_path: Path) -> None:
    text = VALID.replace("refresh:\n  schedule: rate(1 hour)\n", "").replace(
        "region: eu-west-1", "region: Ireland"
    )

    problems = _problems(_write(tmp_path, text))

    assert [(p.line, p.json_path, p.message) for p in problems] == [
        (1, "$", "missing section 'refresh'"),
        (4, "$.hub.region", "invalid value 'Ireland'"),
    ]


def test_stackset_admin_defaults_to_the_management_account(tmp_path: Path) -> None:
    organization = load_config(_write(tmp_path, VALID)).organization

    assert organization.stackset_admin == "management"
    assert organization.administrator_account_id == "999999999999"
    assert organization.call_as == "SELF"


def test_delegated_stackset_admin_runs_the_org_side_as_delegated_admin(tmp_path: Path) -> None:
    text = VALID.replace(
        "  regions: [eu-west-1]\n",
        "  regions: [eu-west-1]\n  stackset_admin: delegated\n"
        '  delegated_admin_account_id: "444444444444"\n',
    )

    organization = load_config(_write(tmp_path, text)).organization

    assert organization.is_delegated
    assert organization.management_account_id == "999999999999"
    assert organization.administrator_account_id == "444444444444"
    assert organization.call_as == "DELEGATED_ADMIN"


def test_a_raised_rules_per_bus_quota_is_a_setting_and_a_lower_one_is_refused(
    tmp_path: Path,
) -> None:
    raised = VALID.replace(
        "region: eu-west-1\n", "region: eu-west-1\n  rules_per_bus_quota: 2000\n", 1
    )
    assert load_config(_write(tmp_path, raised)).hub.rules_per_bus_quota == 2000
    assert load_config(_write(tmp_path, VALID)).hub.rules_per_bus_quota == 300
    assert DEFAULT_RULES_PER_BUS_QUOTA == 300

    (problem,) = _problems(
        _write(
            tmp_path,
            VALID.replace(
                "region: eu-west-1\n", "region: eu-west-1\n  rules_per_bus_quota: 100\n", 1
            ),
        )
    )
    assert problem.json_path == "$.hub.rules_per_bus_quota"
    assert problem.line == 5
    assert "at least 300" in str(problem)
