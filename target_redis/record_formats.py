"""Record formats (the ``record_format`` setting): what a record's value holds. One
class per format, in ``RECORD_FORMATS``. Pure, no I/O.

- ``airbyte``: the record's JSON (``_airbyte_data``; per-record hashes also carry
  ``_airbyte_ab_id`` and ``_airbyte_emitted_at``), for every cache type;
- ``fields``: a field per property (hashes, stream entries).

Adding a format: one class here and its entry in ``RECORD_FORMATS``; rows.make_row
says what a row carries for it.
"""

from __future__ import annotations

import typing as t

from target_redis.rows import DELETED_AT

if t.TYPE_CHECKING:
    from target_redis.cache_types import RecordType
    from target_redis.rows import Command


class RecordFormat:
    """What a record's value holds."""

    name: t.ClassVar[str]
    summary: t.ClassVar[str]
    airbyte: t.ClassVar[bool] = False
    """Airbyte's layout: the record's JSON in ``_airbyte_data``."""
    field_values: t.ClassVar[bool] = False
    """Rows carry each property as a field (rows.Row.fields)."""
    cache_types: t.ClassVar[frozenset[str] | None] = None
    """The cache types it shapes (None: all); for the others a stream is ``airbyte``."""
    versions_in_json: t.ClassVar[bool] = True
    """ACTIVATE_VERSION reads a stored record's JSON (else two hash fields)."""

    @classmethod
    def for_cache(cls, cache_type: str) -> type[RecordFormat]:
        """This format where it shapes ``cache_type``'s values, else ``airbyte``."""
        if cls.cache_types is None or cache_type in cls.cache_types:
            return cls
        return Airbyte

    def retire_commands(
        self, cache: RecordType, key: str, record: dict, deleted_at: str, encode: t.Any
    ) -> list[Command]:
        """Mark the stored ``record`` at ``key`` deleted (ACTIVATE_VERSION)."""
        raise NotImplementedError


class Airbyte(RecordFormat):
    """The record's JSON."""

    name = "airbyte"
    summary = "`airbyte` (the record's JSON in `_airbyte_data`)"
    airbyte = True

    def retire_commands(
        self, cache: RecordType, key: str, record: dict, deleted_at: str, encode: t.Any
    ) -> list[Command]:
        """The record's JSON rewritten with ``_sdc_deleted_at``."""
        return cache.rewrite_commands(key, encode({**record, DELETED_AT: deleted_at}))


class Fields(RecordFormat):
    """A field per property."""

    name = "fields"
    summary = "`fields` (a field per property)"
    field_values = True
    cache_types = frozenset({"hash", "stream"})
    versions_in_json = False

    def retire_commands(
        self, cache: RecordType, key: str, record: dict, deleted_at: str, encode: t.Any
    ) -> list[Command]:
        """``_sdc_deleted_at`` set as a field."""
        return [("HSET", key, DELETED_AT, deleted_at)]


RECORD_FORMATS: dict[str, type[RecordFormat]] = {cls.name: cls for cls in (Airbyte, Fields)}
"""Every record format by its setting value."""
