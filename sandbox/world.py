"""A whole AWS Organization in one process: moto plus every gap fill the sandbox needs.

`SandboxWorld` is the embedded default behind `dsdash demo`. Entering it starts moto in-process
and installs, in order, each patch that covers a moto gap (each module names its gaps):

- `sandbox.moto_sagemaker_search`: SageMaker Search pages like AWS;
- `sandbox.moto_serializer_cache`: moto's response serializer remembers each member's keys
  (the same bytes, a fraction of the CPU);
- `sandbox.moto_cloudformation_gaps`: deploying CDK templates through moto's CloudFormation;
- `sandbox.moto_firehose_parquet`: the history storage's resources, and Firehose's conversion of
  history rows to Parquet;
- `sandbox.moto_stacksets`, `sandbox.moto_stackset_instances` and `sandbox.stackset_autodeploy`:
  service-managed StackSets with OU targeting and auto-deployment;
- `sandbox.moto_delegated_admin`: a StackSets delegated administrator (Organizations reads,
  CallAs);
- `sandbox.org_events`: Organizations lifecycle events on the management account's bus;
- `sandbox.lambda_runtime`, `sandbox.event_delivery`, `sandbox.sqs_pollers`: Lambda code runs,
  bus policies are enforced, queues drain into their functions.

Nothing runs in the background: `settle()` runs queued Lambda invocations, drains queues and syncs
StackSet instances until the world is quiet, so every step of the demo is deterministic.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType

import boto3
from moto import mock_aws
from moto.moto_api._internal import mock_random

from sandbox import (
    moto_cloudformation_gaps,
    moto_delegated_admin,
    moto_firehose_parquet,
    moto_serializer_cache,
    moto_stacksets,
    stackset_autodeploy,
)
from sandbox.botocore_models import SHARED_MODEL_LOADER
from sandbox.credentials import AccountCredentials, account_credentials
from sandbox.event_delivery import EventDelivery, patched_event_delivery
from sandbox.lambda_runtime import LambdaRuntime, patched_lambda_invoke
from sandbox.moto_sagemaker_search import paginated_search
from sandbox.org_events import OrganizationsEventEmitter, organizations_lifecycle_events
from sandbox.sns_delivery import SnsDelivery, patched_sns_delivery
from sandbox.sqs_pollers import SqsPollers, patched_event_source_mappings

logger = logging.getLogger(__name__)

# A settle loop that keeps finding work this many times is a feedback loop, not progress.
MAX_SETTLE_ROUNDS = 200


class SandboxNotQuietError(RuntimeError):
    """The sandbox kept producing work; something re-triggers itself."""


@dataclass
class SandboxWorld:
    seed: int = 7
    # Lambda handlers log through Powertools; the demo keeps their output to warnings.
    handler_log_level: str = "WARNING"
    runtime: LambdaRuntime = field(init=False)
    delivery: EventDelivery = field(init=False)
    sns_delivery: SnsDelivery = field(init=False)
    pollers: SqsPollers = field(init=False)
    autodeployer: stackset_autodeploy.StackSetAutoDeployer = field(init=False)
    organization_events: OrganizationsEventEmitter = field(init=False)
    _exit_stack: ExitStack = field(init=False, default_factory=ExitStack)
    _credentials: dict[str, AccountCredentials] = field(init=False, default_factory=dict)

    def __enter__(self) -> SandboxWorld:
        stack = self._exit_stack
        stack.enter_context(mock_aws())
        # Every session of the world, the handlers' default ones included, shares one model
        # loader (`sandbox.botocore_models`).
        stack.enter_context(SHARED_MODEL_LOADER.applied())
        # moto's random ids (accounts, OUs, the organization) follow the seed: same seed, same ids.
        mock_random.seed(self.seed)
        self.runtime = LambdaRuntime(
            overriding_environment={"POWERTOOLS_LOG_LEVEL": self.handler_log_level}
        )
        self.delivery = EventDelivery(self.runtime)
        self.pollers = SqsPollers(self.runtime)
        stack.enter_context(paginated_search())
        stack.enter_context(moto_serializer_cache.cached_member_keys())
        stack.enter_context(moto_cloudformation_gaps.cloudformation_gap_fills())
        stack.enter_context(moto_firehose_parquet.firehose_parquet_conversion())
        stack.enter_context(moto_stacksets.service_managed_stacksets())
        stack.enter_context(stackset_autodeploy.service_managed_auto_deployment())
        stack.enter_context(moto_delegated_admin.stacksets_delegated_administrator())
        self.organization_events = stack.enter_context(organizations_lifecycle_events())
        stack.enter_context(patched_lambda_invoke(self.runtime))
        stack.enter_context(patched_event_delivery(self.delivery))
        self.sns_delivery = stack.enter_context(patched_sns_delivery(SnsDelivery(self.runtime)))
        stack.enter_context(patched_event_source_mappings(self.pollers))
        self.autodeployer = stackset_autodeploy.StackSetAutoDeployer(session_for=self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit_stack.close()

    def credentials(self, account_id: str) -> AccountCredentials:
        if account_id not in self._credentials:
            self._credentials[account_id] = account_credentials(account_id)
        return self._credentials[account_id]

    def session(self, account_id: str, region: str) -> boto3.Session:
        """A session that moto serves as `account_id` in `region`."""
        credentials = self.credentials(account_id)
        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=region,
        )

    def settle(self) -> int:
        """Run everything the last actions set in motion until nothing is left; return the
        number of rounds that did work."""
        for rounds in range(MAX_SETTLE_ROUNDS):
            worked = self.runtime.drain()
            worked += self.pollers.drain()
            worked += len(self.autodeployer.sync())
            if not worked:
                return rounds
        raise SandboxNotQuietError(
            f"the sandbox still had work after {MAX_SETTLE_ROUNDS} rounds; "
            f"last invocations: {self.runtime.history[-5:]}"
        )
