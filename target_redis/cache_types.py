"""The Redis data types a stream can be written as (the ``cache_type`` setting).

One class per type, holding everything about it: the commands that write records,
read them back and rewrite them, what ``TYPE`` reports for its keys, the commands the
access check probes, TTL handling, and whether the stream is one key or a key per
record. Adding a type means adding one class here and naming it in ``CACHE_TYPES``
(the setting's allowed values, the docs and the access check follow from it).

Pure: commands only (tuples of strings as sent to Redis), no I/O. Per-record types
put each record at its own key (``N:S:<id>`` or ``N:S:<key>``); single-key types keep
the whole stream in ``N:S``. A key scheme (key_schemes.py) decides the keys.
"""

from __future__ import annotations

import typing as t
import uuid

from target_redis import packing
from target_redis.cache_type import CacheType, CollectionType, RecordType
from target_redis.json_numbers import without_nulls
from target_redis.rows import AB_ID, DATA, EMITTED_AT, decode_json, encode_data

if t.TYPE_CHECKING:
    from target_redis.rows import Command, Row

_MEMBERS_PER_COMMAND = 1000
_COMMAND_CHARS = 1 << 20

__all__ = ["CACHE_TYPES", "CacheType", "CollectionType", "RecordType"]


class HashType(RecordType):
    """Airbyte's layout: a HASH per record with ``_airbyte_ab_id``,
    ``_airbyte_emitted_at`` and ``_airbyte_data``."""

    name = "hash"
    summary = "`hash` (Airbyte's layout)"
    redis_type = "hash"
    replaces_in_place = True
    airbyte_ids = True

    search_on = "HASH"

    @classmethod
    def can_merge(cls, field_values: bool) -> bool:
        """A hash of fields merges in Redis (HSET + HDEL of the nulls)."""
        return field_values

    @classmethod
    def searchable(cls, field_values: bool) -> bool:
        """A hash of fields (not Airbyte's JSON in one field)."""
        return field_values

    def record_commands(self, key: str, ab_id: int, row: Row) -> list[Command]:
        """HSET of the three Airbyte fields, or of the record's own fields."""
        if row.fields is not None:
            write: Command = (self.hash_set, key, *row.fields) if row.fields else ("DEL", key)
            return [write, *self.expiry(key, row)]
        return [self._airbyte_hset(key, ab_id, row), *self.expiry(key, row)]

    def id_commands(
        self, prefix: str, first_id: int, rows: t.Sequence[Row], *, packed: bool = False
    ) -> list[Command]:
        """Commands writing ``rows`` at ``prefix`` + consecutive ids (one HSET each
        when there is no TTL and the rows are Airbyte's layout; ``packed``: as RESP)."""
        if self.ttl_seconds or self.per_record_expiry or (rows and rows[0].fields is not None):
            return super().id_commands(prefix, first_id, rows)
        if packed:
            return packing.airbyte_hsets(self.hash_set, prefix, first_id, rows)
        hset = self._airbyte_hset
        return [hset(f"{prefix}{ab_id}", ab_id, row) for ab_id, row in enumerate(rows, first_id)]

    def _airbyte_hset(self, key: str, ab_id: int, row: Row) -> Command:
        fields = (AB_ID, str(ab_id), EMITTED_AT, str(row.emitted_at), DATA, row.text)
        return (self.hash_set, key, *fields)

    def keyed_commands(self, key: str, ab_id: int, row: Row, *, merge: bool) -> list[Command]:
        """A hash of the record's fields replaced in place, in one MULTI (``DEL`` +
        ``HSET``; merge: ``HSET`` + ``HDEL`` of its nulls), so readers and a RediSearch
        index see the old record or the new one, never a mix, and no other key."""
        if row.fields is None:
            return self.record_commands(key, ab_id, row)
        ttl = self.expiry(key, row)
        if merge and not row.nulls:
            return [(self.hash_set, key, *row.fields), *ttl] if row.fields else []
        if merge and not row.fields:
            return [("HDEL", key, *row.nulls)]
        if not row.fields:
            return [("DEL", key)]
        start: Command = ("HDEL", key, *row.nulls) if merge else ("DEL", key)
        return [("MULTI",), start, (self.hash_set, key, *row.fields), *ttl, ("EXEC",)]

    def read_command(self, key: str) -> Command:
        """HGET of ``_airbyte_data``."""
        return ("HGET", key, DATA)

    def rewrite_commands(self, key: str, text: str) -> list[Command]:
        """HSET of ``_airbyte_data`` alone."""
        return [("HSET", key, DATA, text)]

    def probe_commands(self, key: str) -> list[Command]:
        """An HSET."""
        return [(self.hash_set, key, AB_ID, "1")]


class StringType(RecordType):
    """A STRING per record: the record's JSON."""

    name = "string"
    summary = "`string` (the record's JSON)"
    redis_type = "string"
    value_by_field = True

    def record_commands(self, key: str, ab_id: int, row: Row) -> list[Command]:
        """SET of the record's JSON, or of its ``value_field`` (with EX when
        ``ttl_seconds`` is set; a row's own expiry: PEXPIREAT after it)."""
        value = row.text if row.member is None else row.member
        if row.expires is not None:
            return [("SET", key, value), *self.expiry(key, row)]
        if self.ttl_seconds:
            return [("SET", key, value, "EX", str(self.ttl_seconds))]
        return [("SET", key, value)]

    def read_command(self, key: str) -> Command:
        """GET."""
        return ("GET", key)

    def rewrite_commands(self, key: str, text: str) -> list[Command]:
        """SET ... KEEPTTL (before Redis 6.0: SET, then the TTL again)."""
        if self.keep_ttl:
            return [("SET", key, text, "KEEPTTL")]
        return [("SET", key, text), *self.expire(key)]

    def probe_commands(self, key: str) -> list[Command]:
        """A SET."""
        return [("SET", key, "{}")]


class JsonType(RecordType):
    """A RedisJSON document per record."""

    name = "json"
    summary = "`json` (a RedisJSON document; needs the module)"
    redis_type = "ReJSON-RL"
    module_command = "JSON.SET"
    merges_in_place = True
    doubles = True

    search_on = "JSON"

    @classmethod
    def can_merge(cls, field_values: bool) -> bool:
        """JSON.MERGE."""
        return True

    @classmethod
    def searchable(cls, field_values: bool) -> bool:
        """Any document."""
        return True

    def record_commands(self, key: str, ab_id: int, row: Row) -> list[Command]:
        """JSON.SET at the root."""
        return [("JSON.SET", key, "$", row.text), *self.expiry(key, row)]

    def read_command(self, key: str) -> Command:
        """JSON.GET of the root."""
        return ("JSON.GET", key, "$")

    def stored_text(self, reply: str | None) -> str | None:
        """JSON.GET with a path answers a one-element array."""
        if not reply:
            return reply
        items = decode_json(reply)
        return encode_data(items[0]) if items else None

    def rewrite_commands(self, key: str, text: str) -> list[Command]:
        """JSON.SET at the root (keeps the TTL)."""
        return [("JSON.SET", key, "$", text)]

    def keyed_commands(self, key: str, ab_id: int, row: Row, *, merge: bool) -> list[Command]:
        """JSON.SET replaces the document; a merge is JSON.MERGE (RFC 7396: a null
        removes the property), after a ``JSON.SET ... NX`` of the record without its nulls
        (JSON.MERGE into a missing key would keep them), in one MULTI. A soft delete row
        removes nothing: its nulls are left out of the merge too."""
        if not merge:
            return self.record_commands(key, ab_id, row)
        created = encode_data(without_nulls(row.record()))
        patch = created if row.deleted else row.text
        merged = [("JSON.SET", key, "$", created, "NX"), ("JSON.MERGE", key, "$", patch)]
        return [("MULTI",), *merged, *self.expiry(key, row), ("EXEC",)]

    def probe_commands(self, key: str) -> list[Command]:
        """A JSON.SET."""
        return [("JSON.SET", key, "$", "{}")]


class SetType(CollectionType):
    """A SET of the records' JSON (identical records count once)."""

    name = "set"
    summary = "`set` (members: record JSON)"
    redis_type = "set"
    member_by_field = True
    member_found = True

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """SADD, 1000 members a command."""
        return _members("SADD", key, rows) + (self.expire(key) if rows else [])

    def remove_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """SREM of the deleted rows' members (``member_field``: a record's JSON would
        not be found)."""
        members = [row.member for row in rows if row.member is not None]
        return [("SREM", key, *members)] if members else []

    def probe_commands(self, key: str) -> list[Command]:
        """An SADD."""
        return [("SADD", key, "{}")]


class ListType(CollectionType):
    """A LIST of the records' JSON, in record order."""

    name = "list"
    summary = "`list` (RPUSH in record order)"
    redis_type = "list"
    transactional = True
    member_by_field = True

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """RPUSH, 1000 members a command."""
        return _members("RPUSH", key, rows) + (self.expire(key) if rows else [])

    def probe_commands(self, key: str) -> list[Command]:
        """An RPUSH."""
        return [("RPUSH", key, "{}")]


class StreamType(CollectionType):
    """A STREAM with an entry per record carrying the Airbyte fields."""

    name = "stream"
    summary = "`stream` (XADD with the Airbyte fields)"
    redis_type = "stream"
    transactional = True

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """XADD per record (``MAXLEN ~`` with ``stream_maxlen``): the Airbyte fields, or
        the record's own (a record with no non-null property adds no entry)."""
        trim = ("MAXLEN", "~", str(self.stream_maxlen)) if self.stream_maxlen else ()
        commands: list[Command] = [
            (
                "XADD",
                key,
                *trim,
                "*",
                *(
                    row.fields
                    if row.fields is not None
                    else (AB_ID, str(uuid.uuid4()), EMITTED_AT, str(row.emitted_at), DATA, row.text)
                ),
            )
            for row in rows
            if row.fields is None or row.fields
        ]
        return commands + (self.expire(key) if rows else [])

    def probe_commands(self, key: str) -> list[Command]:
        """An XADD."""
        return [("XADD", key, "*", DATA, "{}")]


class SortedSetType(CollectionType):
    """A sorted set: member = the record's primary key (or its JSON without one), score =
    its ``score_field``; ZADD moves an existing member to its new score."""

    name = "sorted_set"
    summary = "`sorted_set` (ZADD, scored by `score_field`)"
    redis_type = "zset"
    removes = True
    members_by_key = True
    scored = True
    member_by_field = True
    member_found = True

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """ZADD, 1000 members a command."""
        pairs = [part for row in rows for part in (str(row.score), _member(row))]
        step = 2 * _MEMBERS_PER_COMMAND
        adds: list[Command] = [
            ("ZADD", key, *pairs[start : start + step]) for start in range(0, len(pairs), step)
        ]
        return adds + (self.expire(key) if rows else [])

    def remove_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """ZREM of the deleted rows' members."""
        members = [_member(row) for row in rows]
        return [("ZREM", key, *members)] if members else []

    def probe_commands(self, key: str) -> list[Command]:
        """A ZADD."""
        return [("ZADD", key, "0", "{}")]


def _member(row: Row) -> str | bytes:
    """A sorted set's member: ``member_field``'s value, else the primary key, else the
    record's JSON."""
    if row.member is not None:
        return row.member
    return row.pk or row.text


def _members(verb: str, key: str, rows: t.Sequence[Row]) -> list[Command]:
    """``verb`` with up to 1000 members, or ~1 MiB of them, a command (a command is
    packed whole: small ones keep the target's peak memory near the batch's size)."""
    commands: list[Command] = []
    members: list[str | bytes] = []
    size = 0
    for row in rows:
        member = row.text if row.member is None else row.member
        members.append(member)
        size += len(member)
        if len(members) >= _MEMBERS_PER_COMMAND or size >= _COMMAND_CHARS:
            commands.append((verb, key, *members))
            members, size = [], 0
    if members:
        commands.append((verb, key, *members))
    return commands


CACHE_TYPES: dict[str, type[CacheType]] = {
    cls.name: cls
    for cls in (HashType, StringType, JsonType, SetType, ListType, StreamType, SortedSetType)
}
"""Every cache type by its setting value (settings.py takes the allowed values from here)."""

RECORD_REDIS_TYPES = frozenset(
    cls.redis_type for cls in CACHE_TYPES.values() if issubclass(cls, RecordType)
)
"""What TYPE reports for a record key of any per-record type."""
