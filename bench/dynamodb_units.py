"""DynamoDB capacity units from the items themselves: the one place benchmarks compute them.

moto answers every request with a fixed ConsumedCapacity, so the units are computed here from the
items actually written and read, by DynamoDB's documented size rules:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
- an item's size is the sum, over its attributes, of the name's UTF-8 length and the value's size;
  a string is its UTF-8 length, a number about 1 byte per 2 significant digits plus 1, a binary
  its length, a boolean or null 1 byte; a map or list 3 bytes plus 1 byte per element plus the
  elements (a map's element also counts its key's name);
- a write unit covers 1 KB of the item written (rounded up per item); an UpdateItem bills the
  larger of the item's size before and after, and a write refused by its condition still bills
  the item's size (at least 1 unit);
- a read unit covers 4 KB of a strongly consistent read (half for an eventually consistent one);
  a Query sums the sizes of the items it returns, then rounds up once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

WRITE_UNIT_BYTES: Final = 1024
READ_UNIT_BYTES: Final = 4096


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return max(1, math.ceil(len(digits) / 2)) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one attribute value in DynamoDB's JSON form ({"S": ...}, {"M": {...}}, ...)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(element) for name, element in content.items()
        )
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in content)
    if kind == "SS":
        return sum(len(str(element).encode("utf-8")) for element in content)
    if kind == "NS":
        return sum(_number_size(str(element)) for element in content)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of one item (DynamoDB JSON), as DynamoDB counts them."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def query_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    units = math.ceil(sum(sizes) / READ_UNIT_BYTES) or 1
    return float(units if consistent else units / 2)
