"""The AWS regions that exist, from botocore's bundled endpoint data (offline, no call).

botocore ships `endpoints.json`, whose partitions list every region of `aws`, `aws-cn`,
`aws-us-gov` and the isolated partitions. The list is as new as the installed botocore: in Lambda,
the runtime's botocore, which AWS updates with new regions
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html). A region launched after that
botocore is refused until the runtime catches up; that is the price of telling `zz-fake-9` from a
real region without a network call.
"""

from __future__ import annotations

from functools import cache

from botocore.loaders import create_loader


@cache
def known_regions() -> frozenset[str]:
    """Every region name of every partition botocore knows."""
    endpoints = create_loader().load_data("endpoints")
    return frozenset(
        region for partition in endpoints["partitions"] for region in partition.get("regions", {})
    )


def is_known_region(name: str) -> bool:
    return name in known_regions()
