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


def account_id(text: str) -> str:
    """`text` if it is an account id, else ValueError (a `runtime_common.settings` parser)."""
    if not is_account_id(text):
        raise ValueError(f"{text!r} is not a 12-digit AWS account id")
    return text


def region_name(text: str) -> str:
    """`text` if it is a well-formed region name, else ValueError (a settings parser)."""
    if not is_region_name(text):
        raise ValueError(f"{text!r} is not an AWS region name")
    return text


def region_names(text: str) -> tuple[str, ...]:
    """A comma-separated list of region names, sorted, without blanks or repeats; ValueError
    names every malformed entry (a settings parser)."""
    names = sorted({item.strip() for item in text.split(",")} - {""})
    bad = [name for name in names if not is_region_name(name)]
    if bad:
        raise ValueError(f"{', '.join(map(repr, bad))} is not an AWS region name")
    return tuple(names)


def region_list(text: str) -> tuple[str, ...]:
    """Like `region_names`, in the written order (where the order is the deployment order)."""
    names = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    region_names(",".join(names))
    return names
