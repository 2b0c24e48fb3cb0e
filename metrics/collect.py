"""The collection layer: AWS listings as data sources, fetched once per extraction.

A metric never calls AWS itself. It asks the `Extraction` for a `DataSource`; sources with equal
keys are the same listing, so every training-job metric of one extraction shares a single fully
paginated SageMaker `Search` pass, and no metric issues per-job Describe calls.

Pagination always runs to the end of the token chain. AWS applies list filters after paging, so a
page may be empty while a `NextToken` remains
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Search.html#API_Search_ResponseSyntax);
botocore's paginators keep following the token until AWS stops returning one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from metrics.base import AwsClients, DataSource
from runtime_common.aws import client

if TYPE_CHECKING:
    from boto3.session import Session

Record = Mapping[str, Any]

# The largest page each API allows: fewer round trips for the same listing.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Search.html#sagemaker-Search-request-MaxResults
SEARCH_PAGE_SIZE = 100
LIST_PAGE_SIZE = 100


class NaiveExtractionTimeError(ValueError):
    """An extraction time without a timezone: windows would silently shift by the local offset."""

    def __init__(self, now: datetime) -> None:
        super().__init__(f"extraction time must be timezone-aware UTC, got naive {now.isoformat()}")


@dataclass(frozen=True)
class SearchFilter:
    """One SageMaker Search filter (`Name`, `Operator`, `Value`)."""

    name: str
    operator: str
    value: str

    def as_request(self) -> dict[str, str]:
        return {"Name": self.name, "Operator": self.operator, "Value": self.value}


@dataclass(frozen=True)
class SageMakerSearch(DataSource):
    """Every record of one SageMaker resource type, via `Search` (full objects, no Describe).

    `Search` returns the same fields as the Describe call of each resource (for training jobs:
    status, start and end times, billable seconds, resource config, final metrics), which is
    what lets one paginated pass serve every training-job metric.
    """

    resource: str
    filters: tuple[SearchFilter, ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        return ("sagemaker", "Search", self.resource, self.filters)

    def fetch(self, clients: AwsClients) -> tuple[Record, ...]:
        request: dict[str, Any] = {"Resource": self.resource}
        if self.filters:
            request["SearchExpression"] = {
                "Filters": [search_filter.as_request() for search_filter in self.filters]
            }
        paginator = clients.client("sagemaker").get_paginator("search")
        pages = paginator.paginate(**request, PaginationConfig={"PageSize": SEARCH_PAGE_SIZE})
        return tuple(
            result[self.resource]
            for page in pages
            for result in page.get("Results", [])
            if self.resource in result
        )


@dataclass(frozen=True)
class SageMakerListing(DataSource):
    """Every item of a SageMaker `List*` call with fixed filter parameters, all pages."""

    operation: str
    result_key: str
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[Any, ...]:
        return ("sagemaker", self.operation, self.parameters)

    def fetch(self, clients: AwsClients) -> tuple[Record, ...]:
        paginator = clients.client("sagemaker").get_paginator(self.operation)
        pages = paginator.paginate(
            **dict(self.parameters), PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        )
        return tuple(item for page in pages for item in page.get(self.result_key, []))


@dataclass(frozen=True)
class SsmParameter(DataSource):
    """One SSM parameter (`GetParameter`, without decryption: SecureString is not supported,
    because decrypting would need kms:Decrypt on a key the metric cannot name)."""

    name: str

    @property
    def key(self) -> tuple[Any, ...]:
        return ("ssm", "GetParameter", self.name)

    def fetch(self, clients: AwsClients) -> Record:
        response = clients.client("ssm").get_parameter(Name=self.name)
        parameter: Record = response["Parameter"]
        return parameter


# The shared listings. Metrics refer to these constants, so equal listings have equal keys.
TRAINING_JOBS = SageMakerSearch("TrainingJob")
ENDPOINTS = SageMakerSearch("Endpoint")
FAILED_PIPELINE_EXECUTIONS = SageMakerSearch(
    "PipelineExecution", (SearchFilter("PipelineExecutionStatus", "Equals", "Failed"),)
)
NOTEBOOK_INSTANCES_IN_SERVICE = SageMakerListing(
    "list_notebook_instances", "NotebookInstances", (("StatusEquals", "InService"),)
)
# ModelPackageType defaults to "Unversioned", but approval applies to the versioned packages of
# model package groups: ask for both.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListModelPackages.html#sagemaker-ListModelPackages-request-ModelPackageType
MODEL_PACKAGES_PENDING_APPROVAL = SageMakerListing(
    "list_model_packages",
    "ModelPackageSummaryList",
    (("ModelApprovalStatus", "PendingManualApproval"), ("ModelPackageType", "Both")),
)


class Extraction:
    """One extraction run: the `ExtractionContext` every metric computes against.

    It caches each listing by `source.key`, so metrics sharing a listing cost one fetch, and it
    counts fetches per key (`fetch_counts`) for tests and benchmarks. A failed fetch is not
    cached: the error propagates to the metric that asked, and the next metric tries again.

    It is also the `AwsClients` of its sources: one client per service for the extraction, made
    by `clients` (the handler passes `runtime_common.aws.warm_client`, which keeps them for the
    execution environment) or, by default, from `session` on first use.
    """

    def __init__(
        self,
        session: Session,
        now: datetime | None = None,
        *,
        clients: Callable[[str], Any] | None = None,
    ) -> None:
        if now is not None and now.tzinfo is None:
            raise NaiveExtractionTimeError(now)
        self._session = session
        self._now = (now or datetime.now(UTC)).astimezone(UTC)
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._fetch_counts: Counter[tuple[Any, ...]] = Counter()
        self._make_client = clients or (lambda service_name: client(session, service_name))
        self._clients: dict[str, Any] = {}

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def session(self) -> Session:
        return self._session

    @property
    def fetch_counts(self) -> Mapping[tuple[Any, ...], int]:
        """How many times each listing was fetched from AWS in this extraction."""
        return MappingProxyType(dict(self._fetch_counts))

    def client(self, service_name: str) -> Any:
        """The extraction's client of `service_name`, made on first use."""
        if service_name not in self._clients:
            self._clients[service_name] = self._make_client(service_name)
        return self._clients[service_name]

    def fetch(self, source: DataSource) -> Any:
        key = source.key
        if key not in self._cache:
            self._fetch_counts[key] += 1
            self._cache[key] = source.fetch(self)
        return self._cache[key]


# Longest window a metric accepts: a leap year of hours.
MAX_WINDOW_HOURS = 8784


def window_hours_schema(default_hours: int) -> dict[str, Any]:
    """The JSON Schema of a metric's `window_hours` argument."""
    return {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_WINDOW_HOURS,
        "default": default_hours,
        "description": "Length of the window, in hours, that ends at the extraction time.",
    }


def window_argument_schema(default_hours: int) -> dict[str, Any]:
    """The argument schema of a metric whose only argument is its window."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"window_hours": window_hours_schema(default_hours)},
    }


def window_start(now: datetime, window_hours: float) -> datetime:
    """Start of the half-open window (start, now] that ends at the extraction time."""
    return now - timedelta(hours=window_hours)


def within_window(moment: datetime | None, start: datetime, now: datetime) -> bool:
    """Whether a tz-aware AWS timestamp falls in (start, now]."""
    return moment is not None and start < moment <= now
