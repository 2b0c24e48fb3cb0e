"""Account id and region name syntax: the one check every runtime uses (contracts' patterns).

Syntax only: `runtime_common.regions.is_known_region` tells whether a well-formed name is a region
that exists.
"""

from __future__ import annotations

import re
from typing import Final, TypeGuard

import contracts

_ACCOUNT_ID: Final = re.compile(contracts.ACCOUNT_ID_PATTERN)
_REGION_NAME: Final = re.compile(contracts.REGION_NAME_PATTERN)


def is_account_id(value: object) -> TypeGuard[str]:
    """Twelve ASCII digits, nothing around them (not even the newline `$` would allow)."""
    return isinstance(value, str) and _ACCOUNT_ID.fullmatch(value) is not None


def is_region_name(value: object) -> TypeGuard[str]:
    """A well-formed region name (`eu-west-1`, `us-gov-east-1`), whether or not it exists."""
    return isinstance(value, str) and _REGION_NAME.fullmatch(value) is not None
