"""DynamoDB item sizes and request units by the documented rules, in one place.

moto reports a fixed ConsumedCapacity, so the bench computes units from the items actually
written and read: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
and https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html#ItemSizeCalculations
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096


def _number_bytes(text: str) -> int:
    """Numbers take about one byte per two significant digits, plus one."""
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def attribute_value_bytes(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire format ({"S": ...}, {"M": ...})."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return _number_bytes(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode("utf-8")) for item in content)
    if kind == "NS":
        return sum(_number_bytes(item) for item in content)
    if kind == "BS":
        return sum(len(item) for item in content)
    if kind == "L":
        return 3 + sum(1 + attribute_value_bytes(item) for item in content)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + attribute_value_bytes(item)
            for name, item in content.items()
        )
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size: attribute names plus values."""
    return sum(
        len(name.encode("utf-8")) + attribute_value_bytes(value) for name, value in item.items()
    )


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2
