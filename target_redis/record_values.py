"""One property's value as a record's member, value or expiry (``member_field``,
``value_field``, ``expire_at_field``, ``ttl_field``). Pure, no I/O."""

from __future__ import annotations

import dataclasses
import decimal
import time
import typing as t

from target_redis.errors import RejectedRecord, TargetRedisError
from target_redis.rows import date_ms, field_values

if t.TYPE_CHECKING:
    from target_redis.rows import Row

LAST_MS = 253_402_300_799_999
"""The end of year 9999: an expiry beyond it is no time Redis takes."""


@dataclasses.dataclass(frozen=True)
class RecordValues:
    """What a stream's rows take from single properties."""

    stream: str
    value_field: str = ""
    """``member_field`` or ``value_field``: the member or value is this property's text."""
    expire_at_field: str = ""
    ttl_field: str = ""
    members: bool = False
    """The value is a collection's member: a delete row needs it too, to remove it."""

    def __bool__(self) -> bool:
        return bool(self.value_field or self.expire_at_field or self.ttl_field)

    def check(self, properties: t.Mapping[str, t.Any], setting: str) -> None:
        """Refuse a setting naming a property the stream's schema does not have."""
        for name, value in (
            (setting, self.value_field),
            ("expire_at_field", self.expire_at_field),
            ("ttl_field", self.ttl_field),
        ):
            if value and value not in properties:
                msg = f"Setting '{name}': stream '{self.stream}' has no property {value!r}."
                raise TargetRedisError(msg)

    def apply(self, row: Row, record: t.Mapping[str, t.Any]) -> None:
        """Set the row's member (or value) and expiry; RejectedRecord for a value that
        cannot be one."""
        if self.value_field:
            value = record.get(self.value_field)
            if value is not None:
                row.member = field_values({"v": value})[0][1]
            elif self.members or not row.deleted:  # a key's delete needs no value
                self._reject(self.value_field, "is missing or null; it is the member or value")
        if self.expire_at_field:
            row.expires = self._expire_at(record.get(self.expire_at_field))
        elif self.ttl_field:
            row.expires = self._ttl(record.get(self.ttl_field))

    def _expire_at(self, value: t.Any) -> int | None:
        """Epoch milliseconds of a date / date-time, or of an integer of epoch seconds."""
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return date_ms(value)
            except ValueError:
                pass
        elif isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
            return self._in_range(self.expire_at_field, value, int(value * 1000))
        self._reject(
            self.expire_at_field,
            f"holds {str(value)[:40]!r}, neither a date / date-time nor epoch seconds",
        )

    def _ttl(self, value: t.Any) -> int | None:
        """Now plus the value in seconds, in epoch milliseconds."""
        if value is None:
            return None
        if isinstance(value, (int, decimal.Decimal, float)) and not isinstance(value, bool):
            now = time.time_ns() // 1_000_000
            return self._in_range(self.ttl_field, value, now + int(value * 1000))
        self._reject(self.ttl_field, f"holds {str(value)[:40]!r}, not a number of seconds")

    def _in_range(self, name: str, value: t.Any, ms: int) -> int:
        if abs(ms) > LAST_MS:
            self._reject(name, f"holds {str(value)[:40]}, beyond the year 9999")
        return ms

    def _reject(self, name: str, why: str) -> t.NoReturn:
        msg = f"Stream '{self.stream}': property '{name}' {why}."
        raise RejectedRecord(msg)
