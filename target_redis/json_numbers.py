"""Numbers RedisJSON cannot hold exactly, and nulls a JSON merge would keep. Pure, no I/O.

RedisJSON stores a number as a 64-bit integer or a double: ``12345678901234567890123``
becomes ``1.2345678901234568e22``, ``0.1000000000000000055`` becomes ``0.1``. The
``json_inexact_numbers`` setting says what happens to such a number: ``double`` (stored
as RedisJSON stores it, with a warning once per stream and property) or ``string``
(stored as its exact text, as Redis Data Integration stores decimals).
"""

from __future__ import annotations

import decimal
import typing as t

_INT64 = (-(2**63), 2**63 - 1)


def changes_as_double(value: t.Any) -> bool:
    """Whether RedisJSON would store the number ``value`` with another value."""
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        return False
    if isinstance(value, int):
        return not _INT64[0] <= value <= _INT64[1]
    return not value.is_finite() or decimal.Decimal(repr(float(value))) != value


def inexact_paths(record: t.Mapping[str, t.Any]) -> t.Iterator[tuple[str, t.Any]]:
    """Each top-level property holding (at any depth) a number RedisJSON would change,
    with the first such number."""
    for name, value in record.items():
        found = _first_inexact(value)
        if found is not None:
            yield name, found


def _first_inexact(value: t.Any) -> t.Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif changes_as_double(item):
            return item
    return None


def exact_text(value: t.Any) -> t.Any:
    """``value`` with every number RedisJSON would change replaced by its exact text."""
    if isinstance(value, dict):
        return {name: exact_text(item) for name, item in value.items()}
    if isinstance(value, list):
        return [exact_text(item) for item in value]
    return str(value) if changes_as_double(value) else value


def without_nulls(value: t.Any) -> t.Any:
    """``value`` without null object properties, at any depth (arrays keep theirs): what
    a JSON merge patch (RFC 7396) leaves of a document it creates."""
    if isinstance(value, dict):
        return {name: without_nulls(item) for name, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
