"""Load `config/projects.yaml` into the typed model, or report every problem in it.

Validation runs in four passes, each reporting every problem it finds through one
`config.validation_state.ConfigValidation`; this module reads the file and runs them in order:

1. YAML: syntax errors (with line and column), duplicate keys anywhere (ruamel stops at the first
   one and PyYAML silently keeps the last; we report all, with both lines), an empty file or a
   top level that is not a mapping; the input limits of `config.input_limits` (size, characters,
   nesting, alias expansion), a `%YAML 1.1` directive, merge keys, control characters in values
   and integers not written in plain decimal (`config.yaml_positions`; reported here).
2. Structure (`config.schema_checks`): the top-level sections, checked by hand first so a
   misspelt or misshapen section gets a human message (the Cloud Custodian `structure.py` idea).
   Sections that fail here are not passed on, so one mistake gives one message.
3. Schema (`config.schema_checks`): `config/projects.schema.json` (Draft 2020-12), with
   "integer" meaning a whole number as written (`2.0` is not one; jsonschema's default accepts
   it). Each jsonschema error is rephrased as "what was wrong, what was expected", using the
   schema's `x-expected` annotations.
4. Semantics the schema cannot express (`config.semantic_checks`, `config.metric_list_checks`):
   metric names and arguments against the metric registry, an account declared for two
   project/environment pairs, the hub being the management account, the StackSets delegated
   administrator being missing, the management account or the hub, a project's accounts naming
   an environment it does not have, a metric listed twice; alerts on metrics the project does
   not select, and notification endpoints (`config.alert_validation`).

Every problem carries the file, 1-based line and column, the JSON path and, for typos, the closest
valid name (`config.suggestions`). The model is built by `config.model_building`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from config.alert_validation import check_alerts
from config.errors import ConfigError, ConfigProblem
from config.input_limits import MAX_CONFIG_BYTES
from config.metric_list_checks import check_metric_list
from config.model import DsdashConfig
from config.model_building import build_model
from config.schema_checks import check_schema, check_structure
from config.semantic_checks import (
    check_accounts_declared_once,
    check_hub_is_not_management_account,
    check_project,
    check_project_names_once,
    check_schedule,
    check_stackset_admin,
    check_tag_keys,
)
from config.validation_state import ConfigValidation
from config.yaml_positions import (
    DocumentPath,
    ParsedDocument,
    UnsafeYamlError,
    YamlSyntaxError,
    format_json_path,
    parse_yaml,
)

__all__ = [
    "CONFIG_PATH_ENVIRONMENT_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "MAX_CONFIG_BYTES",
    "ConfigError",
    "ConfigLocation",
    "ConfigProblem",
    "default_config_path",
    "load_config",
    "locate_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = Path(__file__).with_name("projects.yaml")
CONFIG_PATH_ENVIRONMENT_VARIABLE = "DSDASH_CONFIG"


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
    validation = _validate(file_name, document)
    if validation.problems:
        raise ConfigError(validation.problems)
    return build_model(document.data, validation.validated_metrics, source)


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


def _check_duplicate_keys(validation: ConfigValidation) -> None:
    for duplicate in validation.document.duplicate_keys:
        key = duplicate.path[-1]
        validation.report(
            duplicate.path,
            f"duplicate key {key!r} on lines {duplicate.first.line} and {duplicate.second.line}",
            "expected each key once per mapping (YAML would silently keep only one of them)",
            block=False,
            # The second occurrence: most likely the one just pasted in.
            position=duplicate.second,
        )


def _check_odd_scalars(validation: ConfigValidation) -> None:
    """Last, so a value the schema already refused (an unquoted account id `012345678901`
    is a type error, with advice to quote it) gets that one message. The others, like
    `retention_days: 0o400` or `account_id: "111111111111\\n"`, pass every other check."""
    reported = {problem.json_path for problem in validation.problems}
    for odd in validation.document.odd_scalars:
        if format_json_path(odd.path) not in reported:
            validation.report(odd.path, odd.message, odd.expected, position=odd.position)


def _validate(file_name: str, document: ParsedDocument) -> ConfigValidation:
    """Run every pass over `document`, in order; the problems are in the result."""
    validation = ConfigValidation(file_name, document)
    _check_duplicate_keys(validation)
    if not check_structure(validation):
        _check_odd_scalars(validation)
        return validation
    check_schema(validation)
    check_hub_is_not_management_account(validation)
    check_stackset_admin(validation)
    check_schedule(validation)
    check_tag_keys(validation)
    check_metric_list(validation, ("defaults", "metrics"))
    projects = validation.data.get("projects")
    if isinstance(projects, dict) and not validation.is_blocked(("projects",)):
        for project_name, project in projects.items():
            path: DocumentPath = ("projects", str(project_name))
            if not validation.is_blocked(path):
                check_project(validation, path, project if isinstance(project, dict) else {})
    check_accounts_declared_once(validation)
    check_project_names_once(validation)
    check_alerts(validation)
    # Last: it reports what no earlier pass explained.
    _check_odd_scalars(validation)
    return validation
