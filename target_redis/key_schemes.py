"""Key schemes: where a stream's records go, which keys are its own, and the commands
writing a batch. One class per scheme, in ``KEY_SCHEMES`` by the name manifests
record (``keys``).

- ``ids``: ``N:S:<n>`` from the counter ``N:S`` (Airbyte's layout);
- ``primary-key``: ``N:S:<encoded key properties>``;
- ``template``: ``key_template`` rendered with the record's values;
(collection_schemes.py: ``single-key`` and ``groups``; schemes.py: the registry.)

Pure: ``prepare`` (rows -> what to read first), then ``commands`` (with what was read).
Adding a scheme: one class and its ``schemes.KEY_SCHEMES`` entry, named by a load method.
"""

from __future__ import annotations

import dataclasses
import typing as t

from target_redis import ownership
from target_redis.cache_types import RecordType
from target_redis.errors import RejectedRecord
from target_redis.keys import encode_pk
from target_redis.rows import merge_into_stored, plan_upsert

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.keyspace import KeySpace
    from target_redis.record_formats import RecordFormat
    from target_redis.rows import Command, Row, UpsertEntry
    from target_redis.templates import KeyTemplate

TEMP_KEY_SECONDS = 86_400
"""A crashed single-key overwrite's temporary key expires after a day."""

Warn = t.Callable[..., None]
"""``warn_once(topic, message, *args)``."""


@dataclasses.dataclass(frozen=True)
class Writing:
    """How the load method has a batch written (its state at that batch)."""

    hard_delete: bool = False
    merge: bool = False
    """``on_update: merge``: a record's properties are laid over the stored ones."""
    clear_first: bool = False
    """An overwrite over keys of another type: remove a key before writing it."""
    run_key: str | None = None
    """An overwrite's SET of the keys it wrote (they are claimed there too)."""
    upkeep: tuple[Command, ...] = ()
    """Sent with every batch (an overwrite renews its lease)."""
    collection_key: str = ""
    """Where a single-key stream's rows go (an overwrite's temporary key)."""
    delete_command: str = "UNLINK"
    method: str = ""
    """The load method's name, for messages."""
    packed: bool = False
    """Commands may be packed RESP (packing.py): a single server, no lease fence."""


@dataclasses.dataclass
class Batch:
    """A batch prepared for writing: what to read before its commands can be built."""

    rows: list[Row]
    entries: dict[str, UpsertEntry] = dataclasses.field(default_factory=dict)
    """Keyed schemes: one action per key."""
    removed: list[Row] = dataclasses.field(default_factory=list)
    """Single key: delete rows whose members are removed."""
    to_read: list[str] = dataclasses.field(default_factory=list)
    """Keys whose stored record a partial delete row is laid over."""
    to_delete: list[str] = dataclasses.field(default_factory=list)
    """Keys delete rows remove: only those the stream wrote go."""
    ids: int = 0
    """How many ids to take from the counter."""
    members: list[str] = dataclasses.field(default_factory=list)
    """Members whose collection to look up in the member index (collections per group)."""


@dataclasses.dataclass
class Facts:
    """What was read for a batch."""

    first_id: int = 0
    stored: list[str | None] = dataclasses.field(default_factory=list)
    owned: set[str] = dataclasses.field(default_factory=set)
    groups: list[str | None] = dataclasses.field(default_factory=list)
    """The collection of each of ``Batch.members`` (None: none yet)."""


class KeyScheme:
    """Where one stream's records go."""

    name: t.ClassVar[str]
    """What manifests record (``keys``)."""
    per_record: t.ClassVar[bool] = True
    """A key per record (else one key for the stream)."""
    takes_ids: t.ClassVar[bool] = False
    """Its keys are ids from the counter ``N:S``."""
    indexed: t.ClassVar[bool] = False
    """Its keys are recorded in the key index (ownership.py)."""
    shares_id_space: t.ClassVar[bool] = False
    """Its keys live under ``N:S:`` next to counter ids another writer may add."""
    by_columns: t.ClassVar[bool] = False
    """Its keys are built from the key properties (a change of them is a new scheme)."""
    grouped: t.ClassVar[bool] = False
    """Rows go to the collection their values name (``group_key``)."""

    def __init__(
        self,
        space: KeySpace,
        cache: CacheType,
        record_format: RecordFormat,
        key_properties: tuple[str, ...] = (),
        template: KeyTemplate | None = None,
    ) -> None:
        """The scheme of stream ``space.stream`` written as ``cache``."""
        self.space = space
        self.cache = cache
        self.format = record_format
        self.key_properties = key_properties
        self.template = template

    @property
    def stream(self) -> str:
        """The stream's name."""
        return self.space.stream

    @property
    def keyed_by_record(self) -> bool:
        """Whether rows need ``row_key``."""
        return False

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The record's key (or key suffix, or member); None when it has none."""
        return None

    def columns(self) -> tuple[str, ...]:
        """The properties keys are built from (the manifest's ``key_properties``)."""
        return ()

    def group_key(self, record: t.Mapping[str, t.Any], *, deleted: bool = False) -> str | None:
        """The key of the collection a record goes to (``grouped`` schemes)."""
        raise NotImplementedError

    def template_text(self) -> str:
        """The template the manifest records."""
        return ""

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """What a key space of this scheme holds, for messages."""
        raise NotImplementedError

    def prepare(self, rows: list[Row], writing: Writing, warn: Warn) -> Batch:
        """The batch, and what must be read before its commands can be built."""
        return Batch(kept_rows(rows, writing, warn, self.stream))

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """The commands writing the batch (pure)."""
        raise NotImplementedError

    def once(self, writing: Writing) -> str | None:
        """The key whose batches must be applied once even if re-sent (pushes)."""
        return None

    def stream_keys_expiry(self, writing: Writing) -> list[Command]:
        """With ttl_seconds, counter, manifest and key index outlive every record."""
        expire, space = self.cache.expire, self.space
        keys = expire(space.key) + expire(space.manifest_key) + expire(space.index_key)
        return keys + list(writing.upkeep)


class Ids(KeyScheme):
    """``N:S:<n>``, n from the counter ``N:S``: Airbyte's layout."""

    name = "ids"
    takes_ids = True

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``hash records keyed by ids``."""
        return f"{kind} records keyed by ids"

    def prepare(self, rows: list[Row], writing: Writing, warn: Warn) -> Batch:
        """Every kept row takes an id."""
        batch = super().prepare(rows, writing, warn)
        batch.ids = len(batch.rows)
        return batch

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """The cache type's commands at consecutive ids from ``facts.first_id``."""
        if not batch.rows:
            return []
        cache = t.cast("RecordType", self.cache)
        if writing.clear_first:
            commands: list[Command] = []
            for ab_id, row in enumerate(batch.rows, start=facts.first_id):
                key = self.space.record_key(ab_id)
                commands += [(writing.delete_command, key), *cache.record_commands(key, ab_id, row)]
        else:
            prefix = self.space.record_key("")
            commands = cache.id_commands(prefix, facts.first_id, batch.rows, packed=writing.packed)
        return commands + self.stream_keys_expiry(writing)


class PrimaryKey(KeyScheme):
    """``N:S:<key properties>``: one key per primary key, the latest record winning."""

    name = "primary-key"
    indexed = True
    shares_id_space = True
    by_columns = True

    @property
    def keyed_by_record(self) -> bool:
        """Rows carry their key."""
        return True

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The encoded key properties (keys.encode_pk)."""
        return primary_key(record, self.key_properties, self.stream)

    def key_of(self, suffix: str) -> str:
        """The key of a row keyed by ``suffix``."""
        return self.space.record_key(suffix)

    def columns(self) -> tuple[str, ...]:
        """The key properties."""
        return self.key_properties

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``hash records keyed by primary key (id)``."""
        return f"{kind} records keyed by primary key ({', '.join(columns)})"

    def prepare(self, rows: list[Row], writing: Writing, warn: Warn) -> Batch:
        """One action per key; partial delete rows to lay over stored records (read
        back, unless the cache type merges in Redis); keys to delete."""
        entries = plan_upsert(rows, hard_delete=writing.hard_delete, merge=writing.merge)
        in_place = writing.merge and self.cache.merges_in_place
        to_read = [
            pk
            for pk, entry in entries.items()
            if entry.merge_stored
            and entry.row is not None
            and entry.row.fields is None
            and not in_place
        ]
        writes = sum(1 for entry in entries.values() if entry.row is not None)
        return Batch(
            rows,
            entries,
            to_read=[self.key_of(pk) for pk in to_read],
            to_delete=[self.key_of(pk) for pk, entry in entries.items() if entry.row is None],
            ids=writes if writes and self.cache.airbyte_ids and self.format.airbyte else 0,
        )

    def commands(self, batch: Batch, facts: Facts, writing: Writing) -> list[Command]:
        """Claims, then each key written (or deleted when the stream wrote it)."""
        cache = t.cast("RecordType", self.cache)
        stored = dict(zip(batch.to_read, facts.stored, strict=True))
        written = [self.key_of(pk) for pk, entry in batch.entries.items() if entry.row is not None]
        commands = ownership.claim(self.space.index_key, written, writing.run_key)
        ab_id = facts.first_id
        for pk, entry in batch.entries.items():
            key = self.key_of(pk)
            if entry.row is None:
                if key in facts.owned:
                    commands.append((writing.delete_command, key))
                continue
            row = entry.row
            if key in stored:
                row = merge_into_stored(stored[key], row)
            merge = writing.merge or (entry.merge_stored and row.fields is not None)
            if writing.clear_first:
                commands.append((writing.delete_command, key))
            commands += cache.keyed_commands(key, ab_id, row, merge=merge)
            ab_id += 1
        commands += ownership.forget(self.space.index_key, sorted(facts.owned))
        return commands + (self.stream_keys_expiry(writing) if written else [])


class Template(PrimaryKey):
    """``key_template`` rendered with the record's values (a key of its own prefix)."""

    name = "template"
    shares_id_space = False
    by_columns = False

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The rendered template: the full key."""
        return t.cast("KeyTemplate", self.template).render(record, self.stream)

    def key_of(self, suffix: str) -> str:
        """The row's key is its full key."""
        return suffix

    def columns(self) -> tuple[str, ...]:
        """The template's placeholders."""
        return tuple(t.cast("KeyTemplate", self.template).placeholders)

    def template_text(self) -> str:
        """The template."""
        return t.cast("KeyTemplate", self.template).text

    @classmethod
    def describe(cls, kind: str, columns: t.Sequence[str], template: str) -> str:
        """``hash records keyed by template user:{id}``."""
        return f"{kind} records keyed by template {template}"


def primary_key(record: t.Mapping[str, t.Any], names: t.Sequence[str], stream: str) -> str:
    values = []
    for name in names:
        value = record.get(name)
        if value is None:
            msg = (
                f"Stream '{stream}': key property '{name}' is missing or null in a record; "
                "it is keyed by primary key, which needs every key property."
            )
            raise RejectedRecord(msg)
        values.append(value)
    return encode_pk(values)


def kept_rows(rows: list[Row], writing: Writing, warn: Warn, stream: str) -> list[Row]:
    """Without keys to remove, hard_delete drops delete rows (with a warning)."""
    if not writing.hard_delete:
        return rows
    kept = [row for row in rows if not row.deleted]
    if len(kept) < len(rows):
        warn(
            f"append-delete:{stream}",
            "Stream '%s': hard_delete drops deleted rows under %s; records appended "
            "earlier are not removed (use load_method upsert with key_properties).",
            stream,
            writing.method,
        )
    return kept
