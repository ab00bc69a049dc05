"""The base classes of the cache types (cache_types.py has one class per type and the
registry): what a type says about its keys and commands. Pure, no I/O."""

from __future__ import annotations

import dataclasses
import typing as t

from target_redis.errors import TargetRedisError

if t.TYPE_CHECKING:
    from target_redis.rows import Command, Row
    from target_redis.server import ServerInfo
    from target_redis.templates import KeyTemplate

_Self = t.TypeVar("_Self", bound="CacheType")


@dataclasses.dataclass(frozen=True)
class CacheType:
    """A cache type with the settings and server facts that shape its commands."""

    name: t.ClassVar[str]
    summary: t.ClassVar[str]
    """One line for the setting's description."""
    single_key: t.ClassVar[bool]
    """The whole stream is one key ``N:S`` (records have no key of their own)."""
    redis_type: t.ClassVar[str]
    """What Redis ``TYPE`` reports for its keys."""
    transactional: t.ClassVar[bool] = False
    """Writes run in MULTI/EXEC per chunk (pushes that must not land twice)."""
    module_command: t.ClassVar[str | None] = None
    """A command the server must have (a module's)."""
    airbyte_ids: t.ClassVar[bool] = False
    """Airbyte's layout stores an id from the counter (``_airbyte_ab_id``) with each
    record, whatever keys it."""
    members_by_key: t.ClassVar[bool] = False
    """A collection whose members are found by the records' primary key."""
    scored: t.ClassVar[bool] = False
    """Members carry a score (``score_field``, which it needs and others refuse)."""
    named_by_template: t.ClassVar[bool] = False
    """A collection whose single key a template without placeholders may name."""
    merges_in_place: t.ClassVar[bool] = False
    """``on_update: merge`` runs in Redis (no read of the stored record)."""
    replaces_in_place: t.ClassVar[bool] = False
    """A record of fields is replaced in place in MULTI/EXEC (``DEL`` + ``HSET``)."""
    doubles: t.ClassVar[bool] = False
    """Numbers are stored as 64-bit integers or doubles (``json_inexact_numbers``)."""

    ttl_seconds: int = 0
    stream_maxlen: int = 0
    per_record_expiry: bool = False
    """``expire_at_field`` / ``ttl_field``: rows may carry their own expiry."""
    hash_set: str = "HSET"  # HMSET before Redis 4.0
    keep_ttl: bool = True  # SET ... KEEPTTL exists from Redis 6.0
    expire_options: bool = True  # PEXPIREAT ... NX / GT exist from Redis 7.0

    def for_server(self: _Self, server: ServerInfo) -> _Self:
        """This cache type with the commands the server has."""
        return dataclasses.replace(
            self,
            hash_set="HSET" if server.has_multi_field_hset else "HMSET",
            keep_ttl=server.has_keepttl,
            expire_options=server.version >= (7, 0),
        )

    member_found: t.ClassVar[bool] = False
    """Its members can be found again (sets, sorted sets): upsert per group may move them."""
    member_by_field: t.ClassVar[bool] = False
    """``member_field`` may name the property a member is (sets, sorted sets, lists)."""
    value_by_field: t.ClassVar[bool] = False
    """``value_field`` may name the property the value is (strings)."""
    search_on: t.ClassVar[str | None] = None
    """What a search index over its keys is ``ON`` (``HASH``, ``JSON``); None: none."""

    @classmethod
    def can_merge(cls, field_values: bool) -> bool:
        """Whether ``on_update: merge`` can lay a record over the stored one
        (``field_values``: ``record_format: fields``)."""
        return False

    @classmethod
    def searchable(cls, field_values: bool) -> bool:
        """Whether a search index can read its records' values (``search_index``)."""
        return False

    @classmethod
    def check(
        cls,
        score_field: str,
        template: KeyTemplate | None,
        where: str,
        types: t.Iterable[type[CacheType]],
    ) -> None:
        """Refuse settings this type cannot use: a score field where members have no
        score (or none where they do); a key template for a collection, unless it
        names the collection's key; a template without placeholders for records that
        need a key each (``types``: every cache type, for the message)."""
        types = list(types)
        if cls.scored != bool(score_field):
            scored = next(c.name for c in types if c.scored)
            msg = (
                f"Setting 'score_field'{where} goes with 'cache_type: {scored}' and it "
                f"needs one; here cache_type is {cls.name} and score_field "
                f"{score_field or 'unset'}."
            )
            raise TargetRedisError(msg)
        if template is not None and not cls.single_key and template.literal is not None:
            msg = (
                f"Setting 'key_template'{where} ({template.text!r}) has no placeholder: every "
                f"record would overwrite key {template.literal!r}, and a delete row would be "
                "laid over another record. Add a placeholder, such as 'user:{id}'."
            )
            raise TargetRedisError(msg)
        if template is not None and cls.single_key:
            if cls.named_by_template:  # its key, or with placeholders a key per group
                return
            msg = (
                f"Setting 'key_template'{where} ({template.text!r}): cache_type {cls.name} "
                "keeps a stream in one key (a template without placeholders may name it)."
            )
            raise TargetRedisError(msg)

    def expire(self, key: str) -> list[Command]:
        """EXPIRE for ``key`` when ``ttl_seconds`` is set (a rewrite refreshes it)."""
        return [("EXPIRE", key, str(self.ttl_seconds))] if self.ttl_seconds else []

    def expiry(self, key: str, row: Row) -> list[Command]:
        """The row's own expiry (``PEXPIREAT``; a time past deletes the key), else
        ``expire``; without either, where rows carry their own, ``PERSIST`` (a merged
        hash or a JSON document would keep an earlier record's expiry)."""
        if row.expires is not None:
            return [("PEXPIREAT", key, str(row.expires))]
        if self.per_record_expiry and not self.ttl_seconds:
            return [("PERSIST", key)]
        return self.expire(key)

    def probe_commands(self, key: str) -> list[Command]:
        """One write of this type at ``key``, for the access check."""
        raise NotImplementedError


class RecordType(CacheType):
    """A key per record."""

    single_key = False

    def record_commands(self, key: str, ab_id: int, row: Row) -> list[Command]:
        """Commands writing one record at its own key."""
        raise NotImplementedError

    def id_commands(
        self, prefix: str, first_id: int, rows: t.Sequence[Row], *, packed: bool = False
    ) -> list[Command]:
        """Commands writing ``rows`` at ``prefix`` + consecutive ids from ``first_id``
        (``packed``: they may be packed RESP, packing.py)."""
        commands: list[Command] = []
        for ab_id, row in enumerate(rows, start=first_id):
            commands += self.record_commands(f"{prefix}{ab_id}", ab_id, row)
        return commands

    def keyed_commands(self, key: str, ab_id: int, row: Row, *, merge: bool) -> list[Command]:
        """Commands writing a record at a key that may already hold one: after them the
        key holds exactly this record, or with ``merge`` the stored one with this
        record's properties laid over it (its nulls removed). Atomic per key."""
        return self.record_commands(key, ab_id, row)

    def read_command(self, key: str) -> Command:
        """Command reading a stored record's JSON."""
        raise NotImplementedError

    def stored_text(self, reply: str | None) -> str | None:
        """The record JSON from ``read_command``'s reply."""
        return reply

    def rewrite_commands(self, key: str, text: str) -> list[Command]:
        """Replace a stored record's JSON in place, keeping its other fields and TTL."""
        raise NotImplementedError


class CollectionType(CacheType):
    """The whole stream in one key."""

    single_key = True
    named_by_template = True
    removes: t.ClassVar[bool] = False
    """Whether ``remove_commands`` can find a deleted record's entry."""

    def add_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """Commands adding rows, in record order, to the stream's key."""
        raise NotImplementedError

    def latest_expiry(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """A collection per group expires at the latest of its records' own expiries:
        set when it has none (NX), moved only later (GT); records without one leave it."""
        times = [row.expires for row in rows if row.expires is not None]
        if not times:
            return []
        latest = str(max(times))
        return [("PEXPIREAT", key, latest, "NX"), ("PEXPIREAT", key, latest, "GT")]

    def remove_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """Commands removing deleted rows (``hard_delete``) where the type can find them."""
        return []
