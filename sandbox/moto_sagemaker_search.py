"""moto gap fill: SageMaker `Search` pagination (and pipeline executions) in moto 5.2.5.

moto gaps this module fills, for the tests and the sandbox:

- moto gap: `Search` ignores `MaxResults` and `NextToken` and returns every match in one page,
  so code that stops early, or mishandles the token, passes on moto and miscounts on AWS. Here
  `Search` pages like AWS: `MaxResults` 1-100, default 10
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Search.html#sagemaker-Search-request-MaxResults),
  and an opaque `NextToken` while results remain.
- moto gap: `StartPipelineExecution` stores executions on their pipeline only, never in the
  backend's `pipeline_executions` map that `Search(Resource="PipelineExecution")` reads, so that
  search always returns nothing. Here the map is rebuilt from the pipelines before each such
  search, and each record gets its `PipelineArn` (AWS returns it; moto's object lacks it).
- moto gap: filter operators other than Equals, NotEquals and Contains (GreaterThan, In,
  Exists, ...) are silently evaluated as Equals. Here such a filter is refused with a
  ValidationException that names the gap, rather than answering wrongly.

Nothing is patched at import: use `paginated_search()` as a context manager or pytest fixture
body (or `PATCHES.install()`/`.uninstall()`, `sandbox.moto_patching`).
"""

from __future__ import annotations

import base64
import binascii
from contextlib import AbstractContextManager
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import AWSValidationException
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from sandbox.moto_patching import MotoPatches

SEARCH_DEFAULT_MAX_RESULTS = 10
SEARCH_MAX_RESULTS = 100
MOTO_SUPPORTED_OPERATORS = frozenset({"Equals", "NotEquals", "Contains"})


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"dsdash-search:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "dsdash-search":
            raise ValueError(prefix)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise AWSValidationException(f"Invalid pagination token: {token!r}") from None


def _refuse_unsupported_operators(search_expression: dict[str, Any] | None) -> None:
    for search_filter in (search_expression or {}).get("Filters", []):
        operator = search_filter.get("Operator", "Equals")
        if operator not in MOTO_SUPPORTED_OPERATORS:
            raise AWSValidationException(
                f"moto gap: Search filter operator {operator!r} on {search_filter.get('Name')!r} "
                f"would be evaluated as Equals by moto 5.2.5; supported here: "
                f"{', '.join(sorted(MOTO_SUPPORTED_OPERATORS))}"
            )


def _sync_pipeline_executions(backend: SageMakerModelBackend) -> None:
    backend.pipeline_executions = {
        arn: execution
        for pipeline in backend.pipelines.values()
        for arn, execution in pipeline.pipeline_executions.items()
    }


def _with_pipeline_arn(record: dict[str, Any]) -> dict[str, Any]:
    execution = dict(record["PipelineExecution"])
    execution_arn = str(execution.get("Arn") or execution.get("PipelineExecutionArn"))
    # arn:aws:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>
    execution.setdefault("PipelineExecutionArn", execution_arn)
    execution.setdefault("PipelineArn", execution_arn.split("/execution/", maxsplit=1)[0])
    return {"PipelineExecution": execution}


def _paginated_search(self: SageMakerResponse) -> ActionResult:
    resource = self._get_param("Resource")
    search_expression = self._get_param("SearchExpression")
    max_results = self._get_param("MaxResults") or SEARCH_DEFAULT_MAX_RESULTS
    if not 1 <= int(max_results) <= SEARCH_MAX_RESULTS:
        raise AWSValidationException(
            f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value between 1 and {SEARCH_MAX_RESULTS}"
        )
    next_token = self._get_param("NextToken")
    offset = _decode_token(next_token) if next_token else 0

    _refuse_unsupported_operators(search_expression)
    if resource == "PipelineExecution":
        _sync_pipeline_executions(self.sagemaker_backend)
    every_result = self.sagemaker_backend.search(
        resource=resource, search_expression=search_expression
    )["Results"]
    if resource == "PipelineExecution":
        every_result = [_with_pipeline_arn(record) for record in every_result]

    end = offset + int(max_results)
    response: dict[str, Any] = {"Results": every_result[offset:end]}
    if end < len(every_result):
        response["NextToken"] = _encode_token(end)
    return ActionResult(response)


PATCHES = MotoPatches([(SageMakerResponse, "search", _paginated_search)])


def paginated_search() -> AbstractContextManager[None]:
    """Install the gap fill for the duration of a block, restoring moto's behaviour after (unless
    it was installed before the block: then it stays)."""
    return PATCHES.applied()
