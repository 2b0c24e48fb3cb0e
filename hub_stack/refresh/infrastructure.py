"""The on-demand refresh function's CDK construct: the function, and its right to put refresh
events on the hub bus and to publish them to the refresh topic (organization mode).

Built in the hub stack's scope under the id the stack used before this unit existed
(`RefreshFunction`), so deployed hub stacks keep their logical ids. Its environment is
`environment_of(RefreshSettings)`. No schedule here: each spoke runs its own (config
refresh.schedule, staggered), so the periodic refresh costs the hub no resource per spoke
(docs/architecture.md §7). What lets it schedule the page's render after a refresh is granted
by the hub stack, where it meets the dashboard publisher
(`DashboardPublisher.grant_publish_after_refresh`).
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

import contracts
from cdk_support.functions import python_function
from cdk_support.lambda_asset import LambdaAssetSpec, lambda_code
from hub_stack.refresh.runtime.refresh import RefreshSettings
from hub_stack.refresh_topic import RefreshTopic
from runtime_common.settings import environment_of

HANDLER: Final = "hub_stack.refresh.runtime.refresh.handler"
# The asset holds its handler's import closure (cdk_support.lambda_asset).
HUB_REFRESH_ASSET: Final = LambdaAssetSpec(
    name="hub-refresh", handler_module="hub_stack.refresh.runtime.refresh"
)
REFRESH_TIMEOUT: Final = cdk.Duration.seconds(30)
REFRESH_MEMORY_MB: Final = 256


class RefreshFunction:
    """The refresh function in the hub stack (`scope`), emitting to `bus` and, when the hub has
    one, to `topic`."""

    def __init__(
        self,
        scope: Construct,
        *,
        settings: RefreshSettings,
        bus: events.IEventBus,
        topic: RefreshTopic | None,
    ) -> None:
        function = python_function(
            scope,
            "RefreshFunction",
            function_name=contracts.HUB_REFRESH_FUNCTION_NAME,
            handler=HANDLER,
            code=lambda_code(HUB_REFRESH_ASSET),
            timeout=REFRESH_TIMEOUT,
            memory_size=REFRESH_MEMORY_MB,
            environment=environment_of(settings),
        )
        self.function = function
        bus.grant_put_events_to(function)
        if topic is not None:
            topic.grant_publish(function)
