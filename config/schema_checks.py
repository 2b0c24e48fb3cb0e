"""The structural and schema passes over `config/projects.yaml` (docs/architecture.md §2, "Configure").

- Structure: the top-level sections, checked by hand first so a misspelt or misshapen section gets
  a human message (the Cloud Custodian `structure.py` idea). Sections that fail here are not
  passed on, so one mistake gives one message.
- Schema: `config/projects.schema.json` (Draft 2020-12), with "integer" meaning a whole number as
  written (`2.0` is not one; jsonschema's default accepts it). Each jsonschema error is
  rephrased as "what was wrong, what was expected", using the schema's `x-expected` annotations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from config.suggestions import closest, closest_among, describe_value, name_fix
from config.validation_state import ConfigValidation
from config.yaml_positions import DocumentPath, document_path
from metrics.base import WHOLE_NUMBER_TYPE_CHECKER

SCHEMA_PATH = Path(__file__).with_name("projects.schema.json")

# Sections whose value must be a mapping; the others are scalars the schema checks.
_MAPPING_SECTIONS = ("hub", "organization", "refresh", "defaults", "projects", "notifications")


# jsonschema's "integer" accepts 2.0; a config must say 2 (`event_version: 2.0` once reached the
# spokes as "2.0", which they refuse).
_ConfigValidator = validators.extend(Draft202012Validator, type_checker=WHOLE_NUMBER_TYPE_CHECKER)


@cache
def config_schema() -> dict[str, Any]:
    """The checked-in JSON Schema of the config file."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def check_structure(validation: ConfigValidation) -> bool:
    """Top-level shape, by hand. Returns False when nothing else can be checked."""
    schema = config_schema()
    sections: dict[str, Any] = schema["properties"]
    overview = schema["x-expected"]
    data = validation.data
    if data is None:
        validation.report((), "the file is empty", f"expected {overview}")
        return False
    if not isinstance(data, dict):
        validation.report((), f"the top level is {describe_value(data)}", f"expected {overview}")
        return False
    unknown = [key for key in data if key not in sections]
    for key in unknown:
        validation.report(
            (str(key),),
            f"unknown section {str(key)!r}",
            f"expected one of: {', '.join(sections)}",
            closest(str(key), sections),
            at_key=True,
        )
    for name in schema["required"]:
        if name not in data and not closest_among(name, [str(key) for key in unknown]):
            validation.report(
                (),
                f"missing section {name!r}",
                f"expected {_expected_of(sections[name])}",
                block=False,
            )
    for name in _MAPPING_SECTIONS:
        if name in data and not isinstance(data[name], dict):
            validation.report(
                (name,),
                f"section {name!r} is {describe_value(data[name])}",
                f"expected {_expected_of(sections[name])}",
            )
    return True


def check_schema(validation: ConfigValidation) -> None:
    validator = _ConfigValidator(config_schema())
    for error in validator.iter_errors(validation.data):
        path = document_path(validation.data, error.absolute_path)
        # The structural pass owns the top level and any section it rejected.
        if not path or validation.is_blocked(path[:1]):
            continue
        _report_schema_error(validation, error, path)


def _report_schema_error(
    validation: ConfigValidation, error: ValidationError, path: DocumentPath
) -> None:
    expected = f"expected {_expected_of(error.schema)}" if isinstance(error.schema, dict) else ""
    instance = error.instance
    if "propertyNames" in error.absolute_schema_path:
        # jsonschema checks a key as if it were a value at the mapping's path.
        key_path = (*path, str(instance))
        fix = name_fix(instance, error.validator_value) if error.validator == "pattern" else None
        validation.report(key_path, f"invalid name {instance!r}", expected, fix, at_key=True)
        return
    match error.validator:
        case "type":
            _report_type_error(validation, error, path, expected)
        case "pattern":
            validation.report(
                path,
                _pattern_message(error),
                expected,
                name_fix(instance, error.validator_value) if _is_name(error) else None,
            )
        case "enum":
            allowed = error.validator_value
            textual = isinstance(instance, str) and all(isinstance(v, str) for v in allowed)
            validation.report(
                path,
                f"{instance!r} is not allowed",
                expected,
                closest(instance, allowed) if textual else None,
            )
        case "additionalProperties":
            known = list(error.schema.get("properties", {}))
            for key in instance:
                if key not in known:
                    validation.report(
                        (*path, str(key)),
                        f"unknown key {str(key)!r}",
                        f"expected one of: {', '.join(known)}",
                        closest(str(key), known),
                        at_key=True,
                    )
        case "required":
            properties = error.schema.get("properties", {})
            unknown = [str(key) for key in instance if key not in properties]
            for name in error.validator_value:
                # A misspelt key is reported as unknown, with this name as the suggestion.
                if name not in instance and not closest_among(name, unknown):
                    validation.report(
                        path,
                        f"missing key {name!r}",
                        f"expected {_expected_of(_resolve_reference(properties.get(name, {})))}",
                        at_key=True,
                        block=False,
                    )
        case "minItems":
            validation.report(path, "the list is empty", expected)
        case "minProperties":
            validation.report(path, "the mapping is empty", expected)
        case "uniqueItems":
            for index, item in enumerate(instance):
                if item in instance[:index]:
                    first = validation.line_of((*path, instance.index(item)))
                    validation.report(
                        (*path, index),
                        f"{item!r} is listed more than once (first on line {first})",
                        expected,
                    )
        case "minimum" | "maximum":
            bound = "below the minimum" if error.validator == "minimum" else "above the maximum"
            validation.report(path, f"{instance!r} is {bound} {error.validator_value}", expected)
        case _:
            validation.report(path, error.message, expected)


def _report_type_error(
    validation: ConfigValidation, error: ValidationError, path: DocumentPath, expected: str
) -> None:
    instance = error.instance
    allowed = error.validator_value
    wants_text = allowed == "string" or (isinstance(allowed, list) and "string" in allowed)
    raw = validation.document.raw_scalar(path)
    is_number = isinstance(instance, int | float) and not isinstance(instance, bool)
    if wants_text and raw is not None and (is_number or isinstance(instance, date)):
        # YAML types unquoted scalars: 012345678901 becomes the integer 12345678901.
        kind = "number" if is_number else "date"
        message = f"YAML read the unquoted value {raw} as the {kind} {instance}"
        if is_number and raw.isdigit() and raw.startswith("0") and len(raw) > 1:
            message += ", dropping its leading zero"
        validation.report(path, message, f'{expected}; quote it: "{raw}"')
        return
    validation.report(path, f"found {describe_value(instance)}", expected)


def _is_name(error: ValidationError) -> bool:
    definitions = config_schema()["$defs"]
    return error.validator_value in (
        definitions["projectName"]["pattern"],
        definitions["environmentName"]["pattern"],
    )


def _pattern_message(error: ValidationError) -> str:
    instance = error.instance
    account_pattern = config_schema()["$defs"]["accountId"]["pattern"]
    if error.validator_value == account_pattern and isinstance(instance, str):
        if instance.isdigit():
            return f"account id {instance!r} has {len(instance)} digits, not 12"
        return f"account id {instance!r} is not made of digits"
    return f"invalid value {instance!r}"


def _resolve_reference(schema: Mapping[str, Any]) -> Mapping[str, Any]:
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
    schema = _resolve_reference(schema)
    expected = schema.get("x-expected")
    if isinstance(expected, str):
        return expected
    schema_type = schema.get("type")
    if isinstance(schema_type, str):
        return _TYPE_NAMES.get(schema_type, schema_type)
    if "enum" in schema:
        return "one of: " + ", ".join(str(value) for value in schema["enum"])
    return "a valid value"
