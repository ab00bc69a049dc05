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

    def group_key(self, record: t.Mapping[str, t.Any]) -> str:
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
        """Claims of the batch's collections, then adds and removals per collection."""
        cache = t.cast("CollectionType", self.cache)
        added = _by_group(batch.rows)
        removed = _by_group(batch.removed)
        commands = ownership.claim(self.space.index_key, sorted({*added, *removed}))
        for key, rows in added.items():
            commands += cache.add_commands(key, rows)
        for key, rows in removed.items():
            commands += cache.remove_commands(key, rows)
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
