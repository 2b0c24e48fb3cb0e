"""Load `config/projects.yaml` into the typed model, or report every problem in it.

Validation runs in four passes, each reporting every problem it finds:

1. YAML: syntax errors (with line and column), duplicate keys anywhere (ruamel stops at the first
   one and PyYAML silently keeps the last; we report all, with both lines), an empty file or a
   top level that is not a mapping; the input limits of `config.input_limits` (size, characters,
   nesting, alias expansion), a `%YAML 1.1` directive, merge keys, control characters in values
   and integers not written in plain decimal (`config.yaml_positions`).
2. Structure: the top-level sections, checked by hand first so a misspelt or misshapen section gets
   a human message (the Cloud Custodian `structure.py` idea). Sections that fail here are not
   passed on, so one mistake gives one message.
3. Schema: `config/projects.schema.json` (Draft 2020-12), with "integer" meaning a whole number as
   written (`2.0` is not one; jsonschema's default accepts it). Each jsonschema error is
   rephrased as "what was wrong, what was expected", using the schema's `x-expected` annotations.
4. Semantics the schema cannot express: metric names and arguments against the metric registry,
   an account declared for two project/environment pairs, the hub being the management account,
   the StackSets delegated administrator being missing, the management account or the hub,
   a project's accounts naming an environment it does not have, a metric listed twice; alerts
   on metrics the project does not select, and notification endpoints (`config.alert_validation`).

Every problem carries the file, 1-based line and column, the JSON path and, for typos, the closest
valid name.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from config.alert_validation import (
    build_alert_rules,
    build_notification_settings,
    check_alerts,
)
from config.errors import ConfigError, ConfigProblem
from config.input_limits import MAX_CONFIG_BYTES
from config.model import (
    DEFAULT_ENVIRONMENT_TAG_KEY,
    DEFAULT_PROJECT_TAG_KEY,
    DsdashConfig,
    HubSettings,
    MetricSelection,
    OrganizationSettings,
    ProjectSettings,
)
from config.project_aliases import project_name_clashes
from config.schedule import ScheduleError, refresh_period_seconds
from config.yaml_positions import (
    DocumentPath,
    ParsedDocument,
    Position,
    UnsafeYamlError,
    YamlSyntaxError,
    document_path,
    format_json_path,
    parse_yaml,
)
from contracts import DEFAULT_RULES_PER_BUS_QUOTA
from metrics.base import WHOLE_NUMBER_TYPE_CHECKER, Metric, MetricArgumentError
from metrics.registry import all_metric_classes

__all__ = [
    "CONFIG_PATH_ENVIRONMENT_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "MAX_CONFIG_BYTES",
    "SCHEMA_PATH",
    "ConfigError",
    "ConfigLocation",
    "ConfigProblem",
    "config_schema",
    "default_config_path",
    "load_config",
    "locate_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("projects.yaml")
SCHEMA_PATH = Path(__file__).with_name("projects.schema.json")
CONFIG_PATH_ENVIRONMENT_VARIABLE = "DSDASH_CONFIG"

DEFAULT_BUS_POLICY = "organization"
DEFAULT_EVENT_VERSION = 2
DEFAULT_STACKSET_ADMIN = "management"

# Sections whose value must be a mapping; the others are scalars the schema checks.
_MAPPING_SECTIONS = ("hub", "organization", "refresh", "defaults", "projects", "notifications")
_METRICS_DOC = "`dsdash metrics list`"


# jsonschema's "integer" accepts 2.0; a config must say 2 (`event_version: 2.0` once reached the
# spokes as "2.0", which they refuse).
_ConfigValidator = validators.extend(Draft202012Validator, type_checker=WHOLE_NUMBER_TYPE_CHECKER)


@cache
def config_schema() -> dict[str, Any]:
    """The checked-in JSON Schema of the config file."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@dataclass(frozen=True)
class ConfigLocation:
    """The config file a command reads, and why that one (for messages: `from $DSDASH_CONFIG`)."""

    path: Path
    origin: str
    # True when nothing pointed at a config and the example inside the package is used.
    is_installed_example: bool = False


def locate_config(explicit: Path | None = None) -> ConfigLocation:
    """`--config`, else `$DSDASH_CONFIG`, else `./config/projects.yaml` in the working directory,
    else the example installed with the package. The working directory comes before the package
    so that `dsdash validate` run in a checkout of one's own config checks that config, not the
    installed example."""
    if explicit is not None:
        return ConfigLocation(explicit, "given with --config")
    override = os.environ.get(CONFIG_PATH_ENVIRONMENT_VARIABLE)
    if override:
        return ConfigLocation(Path(override), f"from ${CONFIG_PATH_ENVIRONMENT_VARIABLE}")
    local = Path.cwd() / "config" / DEFAULT_CONFIG_PATH.name
    if local.is_file():
        return ConfigLocation(local, "found in the working directory")
    return ConfigLocation(
        DEFAULT_CONFIG_PATH,
        "the example installed with dsdash: no config/projects.yaml in the working directory",
        is_installed_example=True,
    )


def default_config_path() -> Path:
    """The path `locate_config` chooses when no `--config` is given."""
    return locate_config().path


def load_config(path: Path | None = None) -> DsdashConfig:
    """Read, validate and return the config; raise ConfigError listing every problem."""
    config_path = path if path is not None else default_config_path()
    try:
        size = config_path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            # Refused before reading: a 50 MB file must not cost a minute to be told so.
            raise ConfigError([_too_large(str(config_path), size)])
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ConfigError(
            [
                ConfigProblem(
                    str(config_path),
                    1,
                    1,
                    "$",
                    f"cannot read the file ({reason})",
                    "expected a readable UTF-8 YAML file",
                )
            ]
        ) from error
    return parse_config(text, source=config_path)


def parse_config(text: str, *, source: Path | str = "<config>") -> DsdashConfig:
    """Validate YAML text; `source` names the file in problems and in the model."""
    file_name = str(source)
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise ConfigError([_too_large(file_name, size)])
    try:
        document = parse_yaml(text)
    except UnsafeYamlError as error:
        raise ConfigError(
            [
                ConfigProblem(
                    file_name,
                    error.position.line,
                    error.position.column,
                    "$",
                    error.message,
                    error.expected,
                )
            ]
        ) from None
    except YamlSyntaxError as error:
        message = f"invalid YAML: {error.problem}"
        if error.context:
            message += f" ({error.context})"
        raise ConfigError(
            [
                ConfigProblem(
                    file_name,
                    error.position.line,
                    error.position.column,
                    "$",
                    message,
                    "expected valid YAML syntax",
                )
            ]
        ) from None
    validation = _Validation(file_name, document)
    validation.run()
    if validation.problems:
        raise ConfigError(validation.problems)
    return _build_model(document.data, validation.validated_metrics, source)


def _too_large(file_name: str, size: int) -> ConfigProblem:
    return ConfigProblem(
        file_name,
        1,
        1,
        "$",
        f"the file is {size:,} bytes",
        f"expected at most {MAX_CONFIG_BYTES:,} bytes (1 MiB): a config file lists projects, not"
        " data",
    )


@dataclass(frozen=True)
class _MetricEntry:
    """One item of a `metrics:` list, as written: a name, or a mapping with name and args."""

    path: DocumentPath
    name: Any
    args: Any
    has_args: bool
    is_mapping: bool

    @property
    def name_path(self) -> DocumentPath:
        return (*self.path, "name") if self.is_mapping else self.path

    @property
    def args_path(self) -> DocumentPath:
        return (*self.path, "args")


class _Validation:
    def __init__(self, file_name: str, document: ParsedDocument) -> None:
        self.file_name = file_name
        self.document = document
        self.data: Any = document.data
        self.problems: list[ConfigProblem] = []
        # Values already reported as malformed: later passes do not pile on inside them.
        self._blocked: set[DocumentPath] = set()
        # (path of the metric list item) -> arguments with defaults filled in.
        self.validated_metrics: dict[DocumentPath, dict[str, Any]] = {}
        self._metric_classes: dict[str, type[Metric]] | None = None

    # -- reporting ------------------------------------------------------------------------

    def report(
        self,
        path: DocumentPath,
        message: str,
        expected: str,
        suggestion: str | None = None,
        *,
        at_key: bool = False,
        block: bool = True,
        position: Position | None = None,
    ) -> None:
        """Record a problem at `path` (its key if `at_key`, else its value, unless `position`
        says otherwise). `block` keeps later passes from reporting more inside that value."""
        if position is None:
            position = self.document.locate(path, at_key=at_key)
        self.problems.append(
            ConfigProblem(
                self.file_name,
                position.line,
                position.column,
                format_json_path(path),
                message,
                expected,
                suggestion,
            )
        )
        if block:
            self._blocked.add(path)

    def is_blocked(self, path: DocumentPath) -> bool:
        return any(path[:length] in self._blocked for length in range(len(path) + 1))

    def has_problem_within(self, path: DocumentPath) -> bool:
        return self.is_blocked(path) or any(
            blocked[: len(path)] == path for blocked in self._blocked
        )

    def line_of(self, path: DocumentPath, *, at_key: bool = False) -> int:
        return self.document.locate(path, at_key=at_key).line

    # -- passes ---------------------------------------------------------------------------

    def run(self) -> None:
        self._check_duplicate_keys()
        if not self._check_structure():
            self._check_odd_scalars()
            return
        self._check_schema()
        self._check_hub_is_not_management_account()
        self._check_stackset_admin()
        self._check_schedule()
        self._check_tag_keys()
        self._check_metric_list(("defaults", "metrics"))
        projects = self.data.get("projects")
        if isinstance(projects, dict) and not self.is_blocked(("projects",)):
            for project_name, project in projects.items():
                path: DocumentPath = ("projects", str(project_name))
                if not self.is_blocked(path):
                    self._check_project(path, project if isinstance(project, dict) else {})
        self._check_accounts_declared_once()
        self._check_project_names_once()
        check_alerts(self)
        # Last: it reports what no earlier pass explained.
        self._check_odd_scalars()

    def _check_duplicate_keys(self) -> None:
        for duplicate in self.document.duplicate_keys:
            key = duplicate.path[-1]
            self.report(
                duplicate.path,
                f"duplicate key {key!r} on lines {duplicate.first.line} and"
                f" {duplicate.second.line}",
                "expected each key once per mapping (YAML would silently keep only one of them)",
                block=False,
                # The second occurrence: most likely the one just pasted in.
                position=duplicate.second,
            )

    def _check_odd_scalars(self) -> None:
        """Last, so a value the schema already refused (an unquoted account id `012345678901`
        is a type error, with advice to quote it) gets that one message. The others, like
        `retention_days: 0o400` or `account_id: "111111111111\\n"`, pass every other check."""
        reported = {problem.json_path for problem in self.problems}
        for odd in self.document.odd_scalars:
            if format_json_path(odd.path) not in reported:
                self.report(odd.path, odd.message, odd.expected, position=odd.position)

    def _check_structure(self) -> bool:
        """Top-level shape, by hand. Returns False when nothing else can be checked."""
        schema = config_schema()
        sections: dict[str, Any] = schema["properties"]
        overview = schema["x-expected"]
        data = self.data
        if data is None:
            self.report((), "the file is empty", f"expected {overview}")
            return False
        if not isinstance(data, dict):
            self.report((), f"the top level is {_describe(data)}", f"expected {overview}")
            return False
        unknown = [key for key in data if key not in sections]
        for key in unknown:
            self.report(
                (str(key),),
                f"unknown section {str(key)!r}",
                f"expected one of: {', '.join(sections)}",
                _closest(str(key), sections),
                at_key=True,
            )
        for name in schema["required"]:
            if name not in data and not _closest_among(name, [str(key) for key in unknown]):
                self.report(
                    (),
                    f"missing section {name!r}",
                    f"expected {_expected_of(sections[name])}",
                    block=False,
                )
        for name in _MAPPING_SECTIONS:
            if name in data and not isinstance(data[name], dict):
                self.report(
                    (name,),
                    f"section {name!r} is {_describe(data[name])}",
                    f"expected {_expected_of(sections[name])}",
                )
        return True

    def _check_schema(self) -> None:
        validator = _ConfigValidator(config_schema())
        for error in validator.iter_errors(self.data):
            path = document_path(self.data, error.absolute_path)
            # The structural pass owns the top level and any section it rejected.
            if not path or self.is_blocked(path[:1]):
                continue
            self._report_schema_error(error, path)

    def _report_schema_error(self, error: ValidationError, path: DocumentPath) -> None:
        expected = (
            f"expected {_expected_of(error.schema)}" if isinstance(error.schema, dict) else ""
        )
        instance = error.instance
        if "propertyNames" in error.absolute_schema_path:
            # jsonschema checks a key as if it were a value at the mapping's path.
            key_path = (*path, str(instance))
            fix = (
                _name_fix(instance, error.validator_value) if error.validator == "pattern" else None
            )
            self.report(key_path, f"invalid name {instance!r}", expected, fix, at_key=True)
            return
        match error.validator:
            case "type":
                self._report_type_error(error, path, expected)
            case "pattern":
                self.report(
                    path,
                    self._pattern_message(error),
                    expected,
                    _name_fix(instance, error.validator_value) if self._is_name(error) else None,
                )
            case "enum":
                allowed = error.validator_value
                textual = isinstance(instance, str) and all(isinstance(v, str) for v in allowed)
                self.report(
                    path,
                    f"{instance!r} is not allowed",
                    expected,
                    _closest(instance, allowed) if textual else None,
                )
            case "additionalProperties":
                known = list(error.schema.get("properties", {}))
                for key in instance:
                    if key not in known:
                        self.report(
                            (*path, str(key)),
                            f"unknown key {str(key)!r}",
                            f"expected one of: {', '.join(known)}",
                            _closest(str(key), known),
                            at_key=True,
                        )
            case "required":
                properties = error.schema.get("properties", {})
                unknown = [str(key) for key in instance if key not in properties]
                for name in error.validator_value:
                    # A misspelt key is reported as unknown, with this name as the suggestion.
                    if name not in instance and not _closest_among(name, unknown):
                        self.report(
                            path,
                            f"missing key {name!r}",
                            f"expected {_expected_of(_resolve(properties.get(name, {})))}",
                            at_key=True,
                            block=False,
                        )
            case "minItems":
                self.report(path, "the list is empty", expected)
            case "minProperties":
                self.report(path, "the mapping is empty", expected)
            case "uniqueItems":
                for index, item in enumerate(instance):
                    if item in instance[:index]:
                        first = self.line_of((*path, instance.index(item)))
                        self.report(
                            (*path, index),
                            f"{item!r} is listed more than once (first on line {first})",
                            expected,
                        )
            case "minimum" | "maximum":
                bound = "below the minimum" if error.validator == "minimum" else "above the maximum"
                self.report(path, f"{instance!r} is {bound} {error.validator_value}", expected)
            case _:
                self.report(path, error.message, expected)

    def _report_type_error(self, error: ValidationError, path: DocumentPath, expected: str) -> None:
        instance = error.instance
        allowed = error.validator_value
        wants_text = allowed == "string" or (isinstance(allowed, list) and "string" in allowed)
        raw = self.document.raw_scalar(path)
        is_number = isinstance(instance, int | float) and not isinstance(instance, bool)
        if wants_text and raw is not None and (is_number or isinstance(instance, date)):
            # YAML types unquoted scalars: 012345678901 becomes the integer 12345678901.
            kind = "number" if is_number else "date"
            message = f"YAML read the unquoted value {raw} as the {kind} {instance}"
            if is_number and raw.isdigit() and raw.startswith("0") and len(raw) > 1:
                message += ", dropping its leading zero"
            self.report(path, message, f'{expected}; quote it: "{raw}"')
            return
        self.report(path, f"found {_describe(instance)}", expected)

    @staticmethod
    def _is_name(error: ValidationError) -> bool:
        definitions = config_schema()["$defs"]
        return error.validator_value in (
            definitions["projectName"]["pattern"],
            definitions["environmentName"]["pattern"],
        )

    def _pattern_message(self, error: ValidationError) -> str:
        instance = error.instance
        account_pattern = config_schema()["$defs"]["accountId"]["pattern"]
        if error.validator_value == account_pattern and isinstance(instance, str):
            if instance.isdigit():
                return f"account id {instance!r} has {len(instance)} digits, not 12"
            return f"account id {instance!r} is not made of digits"
        return f"invalid value {instance!r}"

    # -- semantic checks ------------------------------------------------------------------

    def _get(self, path: DocumentPath) -> Any:
        current = self.data
        for element in path:
            if isinstance(element, int) and isinstance(current, list) and element < len(current):
                current = current[element]
            elif isinstance(current, dict):
                current = current.get(element)
            else:
                return None
        return current

    def _check_hub_is_not_management_account(self) -> None:
        hub_path: DocumentPath = ("hub", "account_id")
        management_path: DocumentPath = ("organization", "management_account_id")
        hub_account = self._get(hub_path)
        if self.is_blocked(hub_path) or self.is_blocked(management_path):
            return
        if isinstance(hub_account, str) and hub_account == self._get(management_path):
            self.report(
                hub_path,
                f"the hub account {hub_account} is also the organization's management account",
                "expected a separate member account: service-managed StackSets never deploy to"
                " the management account, and the hub must not hold the organization's admin"
                " power",
            )

    def _check_stackset_admin(self) -> None:
        """`stackset_admin: delegated` needs a delegated admin that is neither the management
        account (that is `management` mode) nor the hub (it must not hold org-admin power)."""
        mode_path: DocumentPath = ("organization", "stackset_admin")
        admin_path: DocumentPath = ("organization", "delegated_admin_account_id")
        if self.is_blocked(mode_path) or self.is_blocked(admin_path):
            return
        organization = self._get(("organization",))
        if not isinstance(organization, dict):
            return
        mode = organization.get("stackset_admin", DEFAULT_STACKSET_ADMIN)
        admin = organization.get("delegated_admin_account_id")
        if mode == "delegated" and admin is None:
            self.report(
                mode_path,
                "stackset_admin is delegated, but delegated_admin_account_id is missing",
                "expected delegated_admin_account_id: the quoted 12-digit id of the member"
                " account registered as the CloudFormation StackSets delegated administrator",
            )
        elif mode != "delegated" and admin is not None:
            self.report(
                admin_path,
                f"delegated_admin_account_id is set, but stackset_admin is {mode}",
                "expected stackset_admin: delegated to run the org stack in that account, or no"
                " delegated_admin_account_id",
                at_key=True,
            )
        if mode != "delegated" or not isinstance(admin, str):
            return
        if admin == self._get(("organization", "management_account_id")):
            self.report(
                admin_path,
                f"the delegated administrator {admin} is the organization's management account",
                "expected a member account: a delegated administrator is a member account (for"
                " the management account itself, use stackset_admin: management)",
            )
        elif admin == self._get(("hub", "account_id")):
            self.report(
                admin_path,
                f"the delegated administrator {admin} is also the hub account",
                "expected a separate member account: the hub must not hold the organization's"
                " StackSet administration",
            )

    def _check_schedule(self) -> None:
        path: DocumentPath = ("refresh", "schedule")
        schedule = self._get(path)
        if self.is_blocked(path) or not isinstance(schedule, str):
            return
        try:
            # The parser the dashboard uses, so every schedule accepted here can be read there.
            refresh_period_seconds(schedule)
        except ScheduleError as error:
            self.report(
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
            self.report(
                path,
                f"cron day-of-month {day_of_month!r} and day-of-week {day_of_week!r} cannot both"
                + (" be '?'" if day_of_month == "?" else " be set"),
                "expected '?' in exactly one of them, like cron(0 6 * * ? *)",
            )

    def _check_tag_keys(self) -> None:
        project_path: DocumentPath = ("organization", "tag_keys", "project")
        environment_path: DocumentPath = ("organization", "tag_keys", "environment")
        if self.is_blocked(project_path) or self.is_blocked(environment_path):
            return
        project_key = self._get(project_path) or DEFAULT_PROJECT_TAG_KEY
        environment_key = self._get(environment_path) or DEFAULT_ENVIRONMENT_TAG_KEY
        if project_key == environment_key:
            self.report(
                environment_path,
                f"the environment tag key {environment_key!r} is the project tag key too",
                "expected two different OU tag keys, one naming the project and one the"
                " environment",
            )

    def metric_classes(self) -> dict[str, type[Metric]]:
        if self._metric_classes is None:
            self._metric_classes = all_metric_classes()
        return self._metric_classes

    def _metric_entries(self, list_path: DocumentPath) -> list[_MetricEntry]:
        entries = self._get(list_path)
        if self.is_blocked(list_path) or not isinstance(entries, list):
            return []
        result = []
        for index, entry in enumerate(entries):
            path = (*list_path, index)
            if self.is_blocked(path):
                continue
            if isinstance(entry, dict):
                result.append(
                    _MetricEntry(path, entry.get("name"), entry.get("args"), "args" in entry, True)
                )
            else:
                result.append(_MetricEntry(path, entry, None, False, False))
        return result

    def _check_metric_list(self, list_path: DocumentPath) -> None:
        """Check one `metrics:` list: names, duplicates and each metric's arguments."""
        first_by_name: dict[str, _MetricEntry] = {}
        for entry in self._metric_entries(list_path):
            if not isinstance(entry.name, str) or self.is_blocked(entry.name_path):
                continue
            if entry.name in first_by_name:
                first_line = self.line_of(first_by_name[entry.name].path)
                self.report(
                    entry.name_path,
                    f"metric {entry.name!r} is listed twice (first on line {first_line})",
                    "expected each metric once per list; a project entry with a default metric's"
                    " name replaces the default's arguments",
                )
                continue
            first_by_name[entry.name] = entry
            self._check_metric(entry)

    def _check_metric(self, entry: _MetricEntry) -> bool:
        classes = self.metric_classes()
        metric = classes.get(entry.name)
        if metric is None:
            self.report(
                entry.name_path,
                f"unknown metric {entry.name!r}",
                f"expected a metric from {_METRICS_DOC}",
                _closest(entry.name, classes),
            )
            return False
        if entry.has_args and (
            self.is_blocked(entry.args_path) or not isinstance(entry.args, dict)
        ):
            return False
        args: dict[str, Any] = dict(entry.args or {})
        schema = metric.argument_schema
        known = list(schema.get("properties", {}))
        ok = True
        if schema.get("additionalProperties") is False:
            for key in [key for key in args if key not in known]:
                expected = (
                    f"expected one of: {', '.join(known)}"
                    if known
                    else f"expected no arguments: {metric.metric_name()} takes none"
                )
                suggestion = _closest(str(key), known)
                self.report(
                    (*entry.args_path, str(key)),
                    f"unknown argument {str(key)!r} for metric {metric.metric_name()}",
                    expected,
                    suggestion,
                    at_key=True,
                )
                # Check the rest as if the suggestion were taken, so a misspelt required
                # argument is not also reported as missing.
                value = args.pop(key)
                if suggestion is not None and suggestion not in args:
                    args[suggestion] = value
                ok = False
        try:
            filled = metric.validate_arguments(args)
        except MetricArgumentError as error:
            for problem in error.problems:
                path = self._argument_problem_path(entry, args, problem)
                self.report(
                    path,
                    f"invalid arguments for metric {metric.metric_name()}: {problem}",
                    f"expected arguments matching its argument schema (see `dsdash metrics show"
                    f" {metric.metric_name()}`)",
                    at_key=path == entry.args_path,
                )
            return False
        if ok:
            self.validated_metrics[entry.path] = filled
        return ok

    @staticmethod
    def _argument_problem_path(
        entry: _MetricEntry, args: Mapping[str, Any], problem: str
    ) -> DocumentPath:
        # MetricArgumentError problems start with "<argument>: " when an argument's value is
        # wrong; point at that argument. Otherwise point at `args:`, or at the entry itself when
        # no arguments were written (a required argument is missing).
        argument = problem.split(":", 1)[0]
        if argument in args:
            return (*entry.args_path, argument)
        return entry.args_path if entry.has_args else entry.path

    def _check_project(self, path: DocumentPath, project: dict[str, Any]) -> None:
        name = path[-1]
        environments = project.get("environments")
        environments_path: DocumentPath = (*path, "environments")
        if environments is None:
            environments = self._get(("defaults", "environments"))
            environments_path = ("defaults", "environments")
        if self.has_problem_within(environments_path):
            environments = None
        elif not environments:
            self.report(
                path,
                f"project {name!r} has no environments",
                "expected an environments list in the project or in defaults",
                at_key=True,
            )
        self._check_metric_list((*path, "metrics"))
        if not self.is_blocked((*path, "metrics")) and not self.is_blocked(("defaults", "metrics")):
            if not project.get("metrics") and not self._get(("defaults", "metrics")):
                self.report(
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
            if environment not in environments and not self.is_blocked(key_path):
                self.report(
                    key_path,
                    f"environment {environment!r} is not one of the environments of project"
                    f" {name} ({', '.join(map(str, environments))})",
                    f"expected an environment listed in {format_json_path(environments_path)}",
                    _closest(str(environment), [str(item) for item in environments]),
                    at_key=True,
                )

    def _check_accounts_declared_once(self) -> None:
        management_account = self._get(("organization", "management_account_id"))
        first_declaration: dict[str, tuple[str, str, DocumentPath]] = {}
        for project_path, environment, index, account_id in self._declared_accounts():
            path = (*project_path, "accounts", environment, index)
            project = str(project_path[-1])
            if account_id == management_account:
                self.report(
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
                self.report(
                    path,
                    f"account {account_id} is already declared for {previous[0]}/{previous[1]}"
                    f" on line {self.line_of(previous[2])}",
                    "expected each account in one project and environment: a spoke account"
                    " runs one project's stack for one environment",
                )

    def _check_project_names_once(self) -> None:
        """An alias must name one project: events carrying it are read as that project's."""
        for clash in project_name_clashes(self._get(("projects",)), blocked=self.is_blocked):
            self.report(
                clash.path,
                f"alias {clash.alias!r} of project {clash.project} already names project"
                f" {clash.other_project}"
                + (f" (line {self.line_of(clash.other_path)})" if clash.other_path else ""),
                "expected each alias to name one project, and no alias equal to another"
                " project's name; names and aliases are matched ignoring case",
            )

    def _declared_accounts(self) -> Iterator[tuple[DocumentPath, str, int, str]]:
        projects = self._get(("projects",))
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
                    if isinstance(account_id, str) and not self.is_blocked(path):
                        yield project_path, str(environment), index, account_id


# -- helpers ------------------------------------------------------------------------------


def _closest(word: str, candidates: Sequence[str] | Mapping[str, Any]) -> str | None:
    names = list(candidates)
    for name in names:
        if name.lower() == word.lower():
            return name
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _closest_among(name: str, misspellings: Sequence[str]) -> bool:
    """True when one of `misspellings` is most likely a typo of `name`."""
    return any(_closest(word, [name]) == name for word in misspellings)


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = config_schema()["$defs"][reference.removeprefix("#/$defs/")]
        return resolved
    return schema


_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}


def _expected_of(schema: Mapping[str, Any]) -> str:
    schema = _resolve(schema)
    expected = schema.get("x-expected")
    if isinstance(expected, str):
        return expected
    schema_type = schema.get("type")
    if isinstance(schema_type, str):
        return _TYPE_NAMES.get(schema_type, schema_type)
    if "enum" in schema:
        return "one of: " + ", ".join(str(value) for value in schema["enum"])
    return "a valid value"


def _describe(value: Any) -> str:
    """How a YAML user would name what they wrote."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    return f"a {type(value).__name__}"


_NAME_FIX = re.compile(r"[^a-z0-9-]+")


def _name_fix(name: Any, pattern: str) -> str | None:
    """A name close to `name` that matches `pattern` (lowercased, other characters as '-')."""
    if not isinstance(name, str):
        return None
    fixed = _NAME_FIX.sub("-", name.lower()).strip("-")
    if fixed != name and re.search(pattern, fixed):
        return fixed
    return None


# -- model --------------------------------------------------------------------------------


def _metric_selections(
    list_path: DocumentPath, data: Any, validated: Mapping[DocumentPath, dict[str, Any]]
) -> list[MetricSelection]:
    entries = data if isinstance(data, list) else []
    selections = []
    for index, entry in enumerate(entries):
        name = entry["name"] if isinstance(entry, dict) else entry
        selections.append(MetricSelection(name, validated[(*list_path, index)]))
    return selections


def _build_model(
    data: dict[str, Any],
    validated_metrics: Mapping[DocumentPath, dict[str, Any]],
    source: Path | str,
) -> DsdashConfig:
    hub = data["hub"]
    organization = data["organization"]
    tag_keys = organization.get("tag_keys") or {}
    defaults = data.get("defaults") or {}
    default_metrics = _metric_selections(
        ("defaults", "metrics"), defaults.get("metrics"), validated_metrics
    )
    projects: dict[str, ProjectSettings] = {}
    for name, written in data["projects"].items():
        project = written or {}
        # Defaults first, in their order; a project entry with a default's name replaces it.
        merged = {selection.name: selection for selection in default_metrics}
        for selection in _metric_selections(
            ("projects", name, "metrics"), project.get("metrics"), validated_metrics
        ):
            merged[selection.name] = selection
        projects[name] = ProjectSettings(
            name=name,
            environments=tuple(project.get("environments") or defaults.get("environments") or ()),
            metrics=tuple(merged.values()),
            accounts={
                environment: tuple(account_ids)
                for environment, account_ids in (project.get("accounts") or {}).items()
            },
            aliases=tuple(project.get("aliases") or ()),
            alerts=build_alert_rules(defaults.get("alerts"), project.get("alerts")),
        )
    return DsdashConfig(
        hub=HubSettings(
            name=hub["name"],
            account_id=hub["account_id"],
            region=hub["region"],
            bus_policy=hub.get("bus_policy", DEFAULT_BUS_POLICY),
            accept_sample_spokes=bool(hub.get("accept_sample_spokes", False)),
            rules_per_bus_quota=int(hub.get("rules_per_bus_quota", DEFAULT_RULES_PER_BUS_QUOTA)),
        ),
        organization=OrganizationSettings(
            id=organization["id"],
            management_account_id=organization["management_account_id"],
            regions=tuple(organization["regions"]),
            project_tag_key=tag_keys.get("project", DEFAULT_PROJECT_TAG_KEY),
            environment_tag_key=tag_keys.get("environment", DEFAULT_ENVIRONMENT_TAG_KEY),
            stackset_admin=organization.get("stackset_admin", DEFAULT_STACKSET_ADMIN),
            delegated_admin_account_id=organization.get("delegated_admin_account_id"),
        ),
        refresh_schedule=data["refresh"]["schedule"],
        retention_days=int(data["retention_days"]),
        event_version=data.get("event_version", DEFAULT_EVENT_VERSION),
        projects=projects,
        source_path=Path(source) if isinstance(source, Path) else None,
        notifications=build_notification_settings(data.get("notifications")),
    )
