"""Key schemes of the collection types (sets, lists, streams, sorted sets): the whole
stream in one key (``single-key``), or a collection per value of a template's
placeholders (``groups``). Pure, like key_schemes.py."""

from __future__ import annotations

import typing as t

from target_redis import ownership
from target_redis.key_schemes import (
    TEMP_KEY_SECONDS,
    Batch,
    Facts,
    KeyScheme,
    Warn,
    Writing,
    kept_rows,
    primary_key,
)
from target_redis.keys import aside_key

if t.TYPE_CHECKING:
    from target_redis.cache_types import CollectionType
    from target_redis.rows import Command, Row
    from target_redis.templates import KeyTemplate


class SingleKey(KeyScheme):
    """The whole stream in one key: ``N:S``, or a template without placeholders."""

    name = "single-key"
    per_record = False

    @property
    def keyed_by_record(self) -> bool:
        """A sorted set's members are the records' primary keys, when they have one."""
        return self.cache.members_by_key and bool(self.key_properties)

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The member: the encoded key properties (sorted sets)."""
        if not self.keyed_by_record:
            return None
        return primary_key(record, self.key_properties, self.stream)

    def template_text(self) -> str:
        """The template naming the key, if any."""
        return self.template.text if self.template is not None else ""

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``a list at the stream's key``."""
        return f"a {kind} at the stream's key"

    def final_key(self) -> str:
        """The stream's key: ``N:S``, or a key template without placeholders."""
        template = self.template
        return template.literal if template is not None and template.literal else self.space.key

    def prepare(self, rows: list[Row], writing: Writing, warn: Warn) -> Batch:
        """Delete rows: removed (hard_delete) where the type finds members, else
        dropped; a soft delete without a score leaves its member as it is."""
        cache = t.cast("CollectionType", self.cache)
        removed = [row for row in rows if row.deleted] if writing.hard_delete else []
        if removed and (cache.removes or all(r.member is not None for r in removed)):
            kept = [row for row in rows if not row.deleted]
        else:
            kept, removed = kept_rows(rows, writing, warn, self.stream), []
        # A sorted set finds members by key and holds no record: nothing to mark.
        if cache.scored and any(row.deleted and row.score is None for row in kept):
            warn(
                f"soft-delete-unscored:{self.stream}",
                "Stream '%s': a delete row without score_field leaves its member as it is "
                "(a sorted set holds no _sdc_deleted_at); hard_delete: true removes it.",
                self.stream,
            )
            kept = [row for row in kept if not (row.deleted and row.score is None)]
        return Batch(kept, removed=removed)

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """Adds and removals at the stream's key (or the overwrite's temporary key)."""
        cache = t.cast("CollectionType", self.cache)
        key = writing.collection_key or self.final_key()
        commands = cache.add_commands(key, batch.rows) + cache.remove_commands(key, batch.removed)
        if key != self.final_key():  # a temporary key: a crashed run's leftover expires
            commands.append(("EXPIRE", key, str(TEMP_KEY_SECONDS)))
        return commands + self.cache.expire(self.space.manifest_key) + list(writing.upkeep)

    def once(self, writing: Writing) -> str | None:
        """Pushes (lists, streams) would land twice if re-sent: applied once."""
        return (writing.collection_key or self.final_key()) if self.cache.transactional else None


class Groups(SingleKey):
    """A collection per value of a ``key_template``'s placeholders
    (``orders:{customer_id}``): each record goes to the collection its values name.
    The collections' keys are recorded in the stream's key index (ownership.py)."""

    name = "groups"
    indexed = True
    grouped = True

    def group_key(self, record: t.Mapping[str, t.Any], *, deleted: bool = False) -> str | None:
        """The template rendered with the record's values."""
        return t.cast("KeyTemplate", self.template).render(record, self.stream)

    def columns(self) -> tuple[str, ...]:
        """The template's placeholders."""
        return tuple(t.cast("KeyTemplate", self.template).placeholders)

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``a sorted_set per template orders:{customer_id}``."""
        return f"a {kind} per template {template}"

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """Claims of the batch's collections, then adds and removals per collection (an
        overwrite builds each beside its collection, ``keys.aside_key``, and swaps them
        in at the end)."""
        cache = t.cast("CollectionType", self.cache)
        added = _by_group(batch.rows)
        removed = _by_group(batch.removed)
        groups = sorted({*added, *removed})
        commands = ownership.claim(self.space.index_key, groups, writing.run_key)
        aside = aside_key if writing.run_key is not None else str
        for key, rows in added.items():
            commands += cache.add_commands(aside(key), rows)
            if writing.run_key is None:  # an overwrite sets it when it swaps (Overwrite)
                commands += cache.latest_expiry(key, rows)
        for key, rows in removed.items():
            commands += cache.remove_commands(aside(key), rows)
        if writing.run_key is not None:  # a crashed run's leftovers expire
            commands += [("EXPIRE", aside(key), str(TEMP_KEY_SECONDS)) for key in added]
        return commands + self.stream_keys_expiry(writing)

    def once(self, writing: Writing) -> str | None:
        """Pushes (lists, streams) are applied once (Writer.run: a mark per slot)."""
        return self.space.key if self.cache.transactional else None


def _by_group(rows: t.Sequence[Row]) -> dict[str, list[Row]]:
    """Rows per collection key, in record order within each."""
    found: dict[str, list[Row]] = {}
    for row in rows:
        found.setdefault(t.cast("str", row.group), []).append(row)
    return found


class IndexedGroups(Groups):
    """Collections per group under upsert: one member per key property value (or
    ``member_field`` value), in the collection its latest record names. A HASH in the
    slot of ``N:S`` (``KeySpace.members_key``) holds each member's collection, so a
    member whose group value changed moves, and a delete finds its member by the key
    properties alone. A move adds to the new collection, then removes from the old
    one, then records it: a reader in between may see the member in both."""

    name = "indexed-groups"

    @property
    def keyed_by_record(self) -> bool:
        """Rows carry their member (the key properties), unless ``member_field`` is it."""
        return bool(self.key_properties)

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The encoded key properties."""
        return primary_key(record, self.key_properties, self.stream)

    def group_key(self, record: t.Mapping[str, t.Any], *, deleted: bool = False) -> str | None:
        """A delete row may lack the group's values: the member index knows them."""
        if deleted and any(record.get(name) is None for name in self.columns()):
            return None
        return super().group_key(record)

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``a sorted_set per template orders:{customer_id}, members indexed``."""
        return f"a {kind} per template {template}, members indexed (upsert)"

    def prepare(self, rows: list[Row], writing: Writing, warn: Warn) -> Batch:
        """One action per member, the latest winning; soft deletes leave the member."""
        latest: dict[str, Row] = {}
        for row in rows:
            if row.deleted and not writing.hard_delete:
                warn(
                    f"soft-delete-group:{self.stream}",
                    "Stream '%s': a soft delete leaves its member where it is (a collection "
                    "holds no _sdc_deleted_at); hard_delete: true removes it.",
                    self.stream,
                )
                continue
            member = _identity(row)
            latest.pop(member, None)
            latest[member] = row
        kept = [row for row in latest.values() if not row.deleted]
        removed = [row for row in latest.values() if row.deleted]
        return Batch(kept, removed=removed, members=list(latest))

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """Adds to each member's collection, removals from the one it leaves (a move or
        a delete), then the member index; claims of the collections written."""
        cache = t.cast("CollectionType", self.cache)
        before = dict(zip(batch.members, facts.groups, strict=True))
        added = _by_group(batch.rows)
        leaving: dict[str, list[Row]] = {}
        for row in batch.rows:  # moved
            old = before.get(_identity(row))
            if old is not None and old != row.group:
                leaving.setdefault(old, []).append(row)
        for row in batch.removed:  # deleted: from the collection the index knows, ours
            old = before.get(_identity(row))
            if old is not None:
                leaving.setdefault(old, []).append(row)
        commands = ownership.claim(self.space.index_key, sorted(added))
        for key, rows in added.items():
            commands += cache.add_commands(key, rows) + cache.latest_expiry(key, rows)
        for key, rows in leaving.items():
            commands += cache.remove_commands(key, rows)
        index = self.space.members_key
        pairs = [part for row in batch.rows for part in (_identity(row), t.cast("str", row.group))]
        if pairs:
            commands.append(("HSET", index, *pairs))
        if batch.removed:
            commands.append(("HDEL", index, *(_identity(row) for row in batch.removed)))
        return commands + self.stream_keys_expiry(writing)


def _identity(row: Row) -> str:
    """A member's identity: ``member_field``'s value, else its key properties."""
    return row.member if row.member is not None else t.cast("str", row.pk)
