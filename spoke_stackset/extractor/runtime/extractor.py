"""The spoke's extraction Lambda: compute the selected metrics, emit them on the spoke bus.

The unit's construct (`spoke_stackset.extractor.infrastructure`) writes the environment from
`ExtractorSettings` (`environment_of`), the class the handler reads it with:
- PROJECT_NAME, ENVIRONMENT: the project and stage this account serves;
- METRICS: JSON list of {"name": <registered metric>, "args": {...}} (args optional);
- SPOKE_BUS_NAME: the bus to put events on (default "dsdash");
- EVENT_VERSION: "2" (default, one event per extraction) or "1" (one event per datapoint, the
  sample's format, for hubs that only speak v1).

Every metric is computed on its own: an AWS error in one becomes an error entry with the AWS error
code, a bug in one becomes an "InternalError" entry (logged with its traceback), and the others
carry on. v1 events have no place for errors, so in v1 mode they are only logged.

The account id and region come from the invoking Lambda context's function ARN, which costs no call
and needs no permission. Called directly (tests, the sandbox), the extractor asks STS
GetCallerIdentity instead, which needs no IAM permission either
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).

The refresh event's RefreshId is logged with the extraction, not put into the metric events: the
v2 schema has no top-level field for it, and copying it into each datapoint's Metadata would spend
Metadata entries (at most 20) that belong to the metric.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import SPOKE_BUS_NAME, load_schema
from metrics.base import Metric, MetricArgumentError
from metrics.collect import Extraction
from metrics.registry import UnknownMetricError, build_metric
from runtime_common.aws import client, session_or_default, warm_client, warm_session
from runtime_common.events import put_events
from runtime_common.identifiers import is_account_id, is_region_name
from runtime_common.settings import SettingsError as EnvironmentSettingsError
from runtime_common.settings import (
    from_variable,
    json_document,
    json_text,
    matching,
    one_of,
    read_settings,
    variables_of,
)
from spoke_stackset.extractor.runtime.event_builder import (
    INTERNAL_ERROR,
    INVALID_DATAPOINT,
    BuiltEntries,
    ExtractionEnvelope,
    InvalidDatapointError,
    MetricError,
    build_v1_entries,
    build_v2_entries,
    datapoint_details,
)
from spoke_stackset.extractor.runtime.refresh_request import refresh_request_of

if TYPE_CHECKING:
    from boto3.session import Session

logger = Logger(service="dsdash-spoke-extractor")

SUPPORTED_EVENT_VERSIONS: Final = (1, 2)
DEFAULT_EVENT_VERSION: Final = 2

_V2_PROPERTIES = load_schema("metric-event-v2")["properties"]
# arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
_FUNCTION_ARN: Final = re.compile(r"^arn:[a-z-]+:lambda:(?P<region>[^:]+):(?P<account>[0-9]{12}):")


class ExtractorError(Exception):
    """Base class of the extractor's own errors."""


class SettingsError(ExtractorError, EnvironmentSettingsError):
    """An environment variable of the extraction function is missing or invalid."""


class IdentityError(ExtractorError):
    """The spoke's account id or region cannot be determined."""


def _event_version(text: str) -> int:
    return int(one_of(str(version) for version in SUPPORTED_EVENT_VERSIONS)(text))


def _metrics_from_document(selections: object) -> tuple[Metric, ...]:
    """The metrics selected by METRICS, a JSON list of `{"name", "args"}` objects."""
    if not isinstance(selections, list) or not selections:
        raise ValueError('expected a non-empty JSON list of {"name", "args"}')
    metrics: list[Metric] = []
    seen: set[str] = set()
    for position, selection in enumerate(selections):
        where = f"item #{position}"
        if not isinstance(selection, dict) or not isinstance(selection.get("name"), str):
            raise ValueError(f'{where}: expected {{"name": <metric>, "args": {{}}}}')
        unexpected = sorted(set(selection) - {"name", "args"})
        if unexpected:
            raise ValueError(f"{where}: unexpected keys {', '.join(unexpected)}")
        args = selection.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError(f"{where} ({selection['name']}): args must be an object")
        identity = json.dumps([selection["name"], args], sort_keys=True)
        if identity in seen:
            raise ValueError(f"{where}: {selection['name']} is selected twice")
        seen.add(identity)
        try:
            metrics.append(build_metric(selection["name"], args))
        except (UnknownMetricError, MetricArgumentError) as error:
            raise ValueError(f"{where}: {error}") from None
    return tuple(metrics)


def _metrics_document(metrics: Sequence[Metric]) -> list[dict[str, Any]]:
    """METRICS as the stack writes it: each metric's name and arguments (defaults filled in, as
    the config loader fills them), in the selection's order."""
    return [{"name": metric.metric_name(), "args": dict(metric.args)} for metric in metrics]


@dataclass(frozen=True)
class ExtractorSettings:
    """The extraction function's configuration, parsed and validated from its environment."""

    project_name: str = from_variable(
        "PROJECT_NAME", parse=matching(_V2_PROPERTIES["ProjectName"]["pattern"])
    )
    environment: str = from_variable(
        "ENVIRONMENT", parse=matching(_V2_PROPERTIES["Environment"]["pattern"])
    )
    metrics: tuple[Metric, ...] = from_variable(
        "METRICS",
        parse=json_document(_metrics_from_document),
        render=json_text(_metrics_document),
    )
    spoke_bus_name: str = from_variable("SPOKE_BUS_NAME", default=SPOKE_BUS_NAME)
    event_version: int = from_variable(
        "EVENT_VERSION", parse=_event_version, default=DEFAULT_EVENT_VERSION
    )


@dataclass(frozen=True)
class SpokeIdentity:
    account_id: str
    region: str

    def __post_init__(self) -> None:
        if not is_account_id(self.account_id):
            raise IdentityError(f"account id {self.account_id!r} is not 12 digits")
        if not is_region_name(self.region):
            raise IdentityError(f"region {self.region!r} is not an AWS region name")


def identity_from_lambda_context(context: object) -> SpokeIdentity | None:
    """Account and region from the invoked function's ARN; None when there is no Lambda context
    (the sandbox and tests may invoke the handler without one)."""
    arn = getattr(context, "invoked_function_arn", None)
    if not arn:
        return None
    match = _FUNCTION_ARN.match(arn)
    if match is None:
        raise IdentityError(f"cannot read account and region from function ARN {arn!r}")
    return SpokeIdentity(account_id=match["account"], region=match["region"])


def identity_from_session(session: Session) -> SpokeIdentity:
    region = session.region_name
    if not region:
        raise IdentityError("the boto3 session has no region; set AWS_REGION or pass one")
    account_id = client(session, "sts").get_caller_identity()["Account"]
    return SpokeIdentity(account_id=account_id, region=region)


@dataclass(frozen=True)
class ExtractionReport:
    """What one extraction computed and emitted (also the Lambda's return value, as a dict)."""

    extraction_id: str
    extraction_date: str
    account_id: str
    region: str
    event_version: int
    datapoints: int  # datapoints sent
    errors: tuple[MetricError, ...]  # metrics that failed, and datapoints that could not be sent
    events: int  # PutEvents entries sent
    put_events_calls: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ExtractionId": self.extraction_id,
            "ExtractionDate": self.extraction_date,
            "AccountId": self.account_id,
            "Region": self.region,
            "EventVersion": self.event_version,
            "Datapoints": self.datapoints,
            "Errors": [error.to_detail() for error in self.errors],
            "Events": self.events,
            "PutEventsCalls": self.put_events_calls,
        }


def run_extraction(
    settings: ExtractorSettings,
    session: Session | None = None,
    now: datetime | None = None,
    *,
    identity: SpokeIdentity | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clients: Callable[[str], Any] | None = None,
) -> ExtractionReport:
    """Compute every selected metric and put the events on the spoke bus.

    Clients come from `clients` (the handler's: kept for the execution environment), else one
    per service is made from `session` for this extraction.

    Raises runtime_common.events.PutEventsFailed when events could not be delivered after
    retries: the invocation then fails, and Lambda's own retry of asynchronous invocations runs
    a fresh extraction.
    """
    session = session_or_default(session)
    identity = identity or identity_from_session(session)
    extraction = Extraction(session, now=now, clients=clients)
    datapoints, errors = compute_metrics(settings.metrics, extraction)

    envelope = ExtractionEnvelope(
        project_name=settings.project_name,
        environment=settings.environment,
        account_id=identity.account_id,
        region=identity.region,
        extraction_date=extraction.now,
        extraction_id=str(uuid.uuid4()),
    )
    built: BuiltEntries
    if settings.event_version == 1:
        built = build_v1_entries(envelope, datapoints, settings.spoke_bus_name)
        for error in (*errors, *built.rejected):
            logger.error(
                "metric not sent: v1 events cannot carry errors",
                extra={"metric_error": error.to_detail()},
            )
    else:
        built = build_v2_entries(envelope, datapoints, errors, settings.spoke_bus_name)

    report = put_events(extraction.client("events"), built.entries, sleep=sleep)
    result = ExtractionReport(
        extraction_id=envelope.extraction_id,
        extraction_date=envelope.extraction_date_text,
        account_id=identity.account_id,
        region=identity.region,
        event_version=settings.event_version,
        datapoints=built.datapoints,
        errors=(*errors, *built.rejected),
        events=report.sent,
        put_events_calls=report.calls,
    )
    logger.info("extraction published", extra={"extraction": result.to_dict()})
    return result


def compute_metrics(
    metrics: Sequence[Metric], extraction: Extraction
) -> tuple[list[dict[str, Any]], list[MetricError]]:
    """Each metric's v2 datapoints, or its error entry. Only the metric's own `compute` runs
    under the broad handler; the extractor's code around it is not shielded."""
    datapoints: list[dict[str, Any]] = []
    errors: list[MetricError] = []
    for metric in metrics:
        name = metric.metric_name()
        try:
            produced = metric.compute(extraction)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("Code") or "Unknown"
            message = details.get("Message") or str(error)
            logger.warning(
                "metric failed with an AWS error",
                extra={"metric_name": name, "error_code": code, "error_message": message},
            )
            errors.append(MetricError(name, code, message))
            continue
        except Exception as error:
            # A bug in one metric must not cost the others their values; the hub sees it as
            # InternalError and the traceback is in this function's logs.
            logger.exception("metric failed", extra={"metric_name": name})
            errors.append(MetricError(name, INTERNAL_ERROR, f"{type(error).__name__}: {error}"))
            continue
        try:
            datapoints.extend(datapoint_details(name, metric.unit, produced, metric.value_range()))
        except InvalidDatapointError as error:
            logger.error("metric returned an invalid datapoint", extra={"metric_name": name})
            errors.append(MetricError(name, INVALID_DATAPOINT, str(error)))
    return datapoints, errors


def refresh_id_of(event: object) -> str | None:
    """The RefreshId of a `metric_fetch` event, if the invocation came from one."""
    if not isinstance(event, Mapping):
        return None
    detail = event.get("detail")
    refresh_id = detail.get("RefreshId") if isinstance(detail, Mapping) else None
    return refresh_id if isinstance(refresh_id, str) else None


# Reading the settings builds every selected metric (its arguments checked against its JSON
# Schema). A function's environment is fixed for its execution environment's life, so the
# settings are read once per distinct set of values; a process that changes them (tests, the
# sandbox running several spokes) reads them again. A bad environment is never kept: it fails
# every invocation, naming the variable.
_SETTINGS_VARIABLES: Final = tuple(variables_of(ExtractorSettings))
_SETTINGS_READ: dict[tuple[str | None, ...], ExtractorSettings] = {}


def environment_settings(environ: Mapping[str, str]) -> ExtractorSettings:
    """`read_settings(ExtractorSettings, environ)`, kept for the execution environment."""
    values = tuple(environ.get(name) for name in _SETTINGS_VARIABLES)
    if values not in _SETTINGS_READ:
        _SETTINGS_READ[values] = read_settings(ExtractorSettings, environ, error=SettingsError)
    return _SETTINGS_READ[values]


def handler(event: Mapping[str, Any] | None, context: object) -> dict[str, Any]:
    """Lambda entry point: settings from the environment (read once per execution
    environment), clients from the environment's warm session.

    A refresh from the hub refresh topic that is scoped to another spoke returns without
    extracting (see `refresh_request`)."""
    settings = environment_settings(os.environ)
    request = refresh_request_of(event)
    logger.append_keys(
        project_name=settings.project_name,
        environment=settings.environment,
        refresh_id=request.refresh_id,
        function_request_id=getattr(context, "aws_request_id", None),
    )
    identity = identity_from_lambda_context(context)
    out_of_scope = request.out_of_scope(
        project=settings.project_name,
        environment=settings.environment,
        account_id=lambda: (identity or identity_from_session(warm_session())).account_id,
    )
    if out_of_scope is not None:
        logger.info("refresh not for this spoke", extra={"why": out_of_scope})
        return {"Skipped": out_of_scope, "RefreshId": request.refresh_id}
    # The execution environment's session and clients, kept across invocations: a client (and
    # the service model it loads) is made once per service per warm container, not per listing
    # or per extraction.
    return run_extraction(
        settings, warm_session(), identity=identity, clients=warm_client
    ).to_dict()
