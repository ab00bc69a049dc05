"""Companion values: what a record gets beside its own values so a search index can
use them (``search_index``). Pure, no I/O."""

from __future__ import annotations

import dataclasses
import decimal
import struct
import typing as t

from target_redis.errors import RejectedRecord
from target_redis.rows import date_ms, field_values

if t.TYPE_CHECKING:
    from target_redis.search_settings import Vector


@dataclasses.dataclass(frozen=True)
class Companions:
    """The values a record gets beside its own so an index can use them."""

    stream: str
    dates: tuple[tuple[str, str], ...] = ()
    """(property, companion): epoch milliseconds of a date / date-time."""
    tags: tuple[tuple[str, str], ...] = ()
    """(property, companion): a hash's array of scalars joined by ``separator``."""
    separator: str = ","
    vectors: t.Mapping[str, Vector] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.dates or self.tags or self.vectors)

    def apply(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record with its companions (a null or absent property's is null or
        absent); RejectedRecord for a value an index cannot use."""
        extra: dict[str, t.Any] = {}
        for name, companion in self.dates:
            if name in record:
                extra[companion] = self._date(name, record[name])
        for name, companion in self.tags:
            if name in record:
                extra[companion] = self._tags(name, record[name])
        for name, vector in self.vectors.items():
            if record.get(name) is not None:
                self._check_vector(name, record[name], vector.dim)
        return {**record, **extra} if extra else record

    def _date(self, name: str, value: t.Any) -> int | None:
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            return date_ms(value)
        except ValueError:
            self._reject(name, f"holds {str(value)[:40]!r}, not a date or date-time")

    def _tags(self, name: str, value: t.Any) -> str | None:
        if not value:
            return None
        if not isinstance(value, list):
            self._reject(name, "is not an array")
        texts = field_values({str(i): v for i, v in enumerate(value) if v is not None})[0][1::2]
        for text in texts:
            if self.separator in text:
                self._reject(
                    name, f"holds {text[:40]!r}, which contains tag_separator {self.separator!r}"
                )
        return self.separator.join(texts) or None

    def _check_vector(self, name: str, value: t.Any, dim: int) -> None:
        if not isinstance(value, list) or len(value) != dim:
            self._reject(name, f"is not an array of {dim} numbers (its vector's dim)")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float, decimal.Decimal)):
                self._reject(name, f"holds {str(item)[:40]!r} in a vector of numbers")

    def _reject(self, name: str, why: str) -> t.NoReturn:
        msg = f"Stream '{self.stream}': property '{name}' {why} (search_index)."
        raise RejectedRecord(msg)

    def field_values(
        self, record: t.Mapping[str, t.Any]
    ) -> tuple[tuple[str | bytes, ...], tuple[str, ...]]:
        """rows.field_values, with vectors as FLOAT32 bytes."""
        values, nulls = field_values(record)
        if not self.vectors:
            return values, nulls
        out: list[str | bytes] = list(values)
        for index in range(0, len(out), 2):
            name = out[index]
            vector = record.get(name) if isinstance(name, str) else None
            if name in self.vectors and isinstance(vector, list):
                out[index + 1] = struct.pack(f"<{len(vector)}f", *map(float, vector))
        return tuple(out), nulls
