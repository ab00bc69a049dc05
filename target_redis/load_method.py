"""The base of the load methods (load_methods.py): the lifecycle of one stream's load,
one instance per stream per run, shared by its sinks.

A load method starts the stream (checks its name, reads its manifest, chooses its key
scheme, refuses to mix schemes, takes an overwrite's lease), has each batch written
(the key scheme builds the commands; the load method reads what they need first and
sends them), and finishes it (an overwrite's swap and cleanup). The manifest goes
with the first batch, in the same pipeline.

Invariants: a run never writes keys of another scheme next to what the manifest says
the stream holds (only overwrite, which replaces the whole key space, changes it).
A batch's pipeline may be sent before its replies are read: ``Writer.settle`` reads
them before any STATE line and before any other Redis call.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import typing as t

from target_redis import start_checks
from target_redis.cache_types import CACHE_TYPES, RecordType
from target_redis.collection_schemes import Groups, SingleKey
from target_redis.errors import TargetRedisError
from target_redis.key_schemes import Facts, Ids, KeyScheme, Template, Writing
from target_redis.manifest import Manifest, conflicts, held_without_manifest
from target_redis.ownership import Ownership

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.keyspace import KeySpace
    from target_redis.lease import Fence
    from target_redis.record_formats import RecordFormat
    from target_redis.rows import Command, Row
    from target_redis.templates import KeyTemplate
    from target_redis.writer import Writer


@dataclasses.dataclass
class StreamSetup:
    """What a stream's load method works with, fixed for the run."""

    space: KeySpace
    cache: CacheType
    record_format: RecordFormat
    writer: Writer
    key_properties: tuple[str, ...]
    hard_delete: bool
    logger: logging.Logger
    warn_once: t.Callable[..., None]
    version: str
    run_id: str
    overwrite_keys: str = "auto"
    template: KeyTemplate | None = None
    """``key_template``: records at keys built from their values."""
    merge: bool = False
    """``on_update: merge``: a record's properties are laid over the stored ones."""
    known_streams: set[str] = dataclasses.field(default_factory=set)
    """The streams of the namespace started in this run (shared by its streams)."""
    bare_values: bool = False
    """``member_field`` / ``value_field``: a member or value holds no ``_sdc_deleted_at``."""


class LoadMethod:
    """How one stream is loaded in this run."""

    name: t.ClassVar[str]
    replaces_key_space: t.ClassVar[bool] = False
    needs_record_keys: t.ClassVar[bool] = False
    """True when it cannot write a single-key cache type."""
    keys_from_values: t.ClassVar[bool] = True
    """It can put records at keys built from their values (``key_template``)."""
    merges: t.ClassVar[bool] = False
    """``on_update: merge`` lays records over stored ones."""
    reads_back: t.ClassVar[bool] = True
    """It reads stored records and deletes keys (the access check probes that)."""

    @classmethod
    def check(cls, cache: type[CacheType], template: KeyTemplate | None, where: str) -> None:
        """Refuse what this method cannot do with the cache type or a key template."""
        grouped = template is not None and bool(template.placeholders) and cache.single_key
        if cls.needs_record_keys and cache.single_key and not (grouped and cache.member_found):
            msg = (
                f"Setting 'load_method: {cls.name}' does not apply to 'cache_type: "
                f"{cache.name}'{where} (records have no key of their own; a set or "
                "sorted_set per group, by key_template placeholders, has members to find)."
            )
            raise TargetRedisError(msg)
        if template is not None and not cls.keys_from_values and not cache.single_key:
            msg = (
                f"Setting 'key_template'{where} ({template.text!r}): keys built from values "
                f"need upsert or overwrite ({cls.name} numbers records)."
            )
            raise TargetRedisError(msg)

    def __init__(self, setup: StreamSetup) -> None:
        """Nothing is read or written until ``start``."""
        self.setup = setup
        self.space = setup.space
        self.cache = setup.cache
        self.writer = setup.writer
        self.held: Manifest | None = None
        self.owner = Ownership(setup.space, setup.writer, setup.run_id)
        self.scheme: KeyScheme = self.scheme_for(self.default_scheme())
        self._issued_before = 0
        """The ids target-redis issued before this run (the manifest's ``issued``)."""
        self._manifest_due = True
        self._last_id = 0

    @property
    def stream(self) -> str:
        """The stream's name."""
        return self.space.stream

    def scheme_for(self, scheme: type[KeyScheme]) -> KeyScheme:
        """``scheme`` for this stream."""
        setup = self.setup
        return scheme(
            setup.space, setup.cache, setup.record_format, setup.key_properties, setup.template
        )

    def default_scheme(self) -> type[KeyScheme]:
        """A single key for collection types (a collection per group with a template's
        placeholders), a template's keys, else ids."""
        template = self.setup.template
        if self.cache.single_key:
            return Groups if template is not None and template.placeholders else SingleKey
        return Template if self.setup.template is not None else Ids

    def choose_scheme(self) -> type[KeyScheme]:
        """The key scheme, once ``self.held`` is known."""
        return self.default_scheme()

    # Start

    def start(self) -> None:
        """First SCHEMA of the stream in this run: check its name against the others of
        its namespace, read what the stream holds and refuse (before writing anything)
        when this run would mix key schemes or write next to another writer's ids."""
        space, writer = self.space, self.writer
        start_checks.check_brace(space)
        facts = writer.read_stream(
            space.manifest_key, space.key, space.lease_key, space.extended_key
        )
        start_checks.check_name(space, writer, facts, self.setup.known_streams)
        self._issued_before = facts.issued or 0
        if facts.lease is not None and facts.lease.holder != self.setup.run_id:
            raise TargetRedisError(start_checks.busy(space, facts.lease, self.name))
        self.held = Manifest.from_fields(facts.manifest)
        # Ids issued but no manifest: a run stopped between its first INCRBY and its
        # first batch (the manifest comes first in it), so no record was written.
        fresh = facts.issued is not None and (facts.counter or 0) <= facts.issued
        if self.held is None and not fresh:
            single = {c.redis_type: c.name for c in CACHE_TYPES.values() if c.single_key}
            self.held = held_without_manifest(facts.key_type, single)
            if self.held is not None:
                self.setup.logger.info(
                    "Stream '%s' has no manifest: adopting the %s it holds (%s).",
                    self.stream,
                    self.held.describe(),
                    space.key,
                )
        self.scheme = self.scheme_for(self.choose_scheme())
        planned = self.planned()
        if self.held is not None and not self.replaces_key_space and conflicts(self.held, planned):
            raise TargetRedisError(start_checks.refusal(space, self.held, planned, self.name))
        start_checks.check_other_writer(
            space,
            writer,
            facts,
            self.held,
            planned,
            method=self.name,
            replaces=self.replaces_key_space,
        )
        start_checks.adopt(space, self.held, self.owner, self.setup.logger, self.setup.warn_once)

    def planned(self) -> Manifest:
        """The manifest of what this run writes."""
        scheme = self.scheme
        return Manifest(
            self.cache.name,
            scheme.name,
            scheme.columns(),
            self.name,
            self.setup.record_format.name,
            scheme.template_text(),
            key_index=self.space.index_key,
        )

    # Writing

    def writing(self) -> Writing:
        """How this load has batches written."""
        return Writing(
            hard_delete=self.setup.hard_delete,
            merge=self.setup.merge,
            delete_command=self.writer.delete_command,
            method=self.name,
            packed=self.writer.single_server and self.fence is None,
        )

    def write(self, rows: list[Row]) -> int:
        """Write a batch; how many records (or keys) it wrote. Its replies may be read
        later (``Writer.settle``), always before the next STATE line."""
        scheme = self.scheme
        if not rows and not scheme.indexed:
            return 0
        if self._manifest_due and rows:
            self._tell_shorter_names()
        writing = self.writing()
        if self.setup.bare_values and not writing.hard_delete:
            rows = self._without_soft_deletes(rows)
        batch = scheme.prepare(rows, writing, self.setup.warn_once)
        if scheme.takes_ids and not batch.rows:
            return 0
        facts = self._gather(batch.to_read, batch.ids, batch.to_delete)
        if batch.members:
            read = ("HMGET", self.space.members_key, *batch.members)
            facts.groups = self.writer.call("reading the members' collections", *read)
        commands = self._manifest_commands() + scheme.commands(batch, facts, writing)
        once = scheme.once(writing)
        if once is not None or not scheme.per_record:
            self.writer.run(commands, once=once, fence=self.fence)
        else:
            failed = f"Stream '{self.stream}': writing a batch of {len(rows)} records"
            defer = f"{failed} to Redis failed"
            self.writer.run(commands, defer=defer, fence=self.fence, owner=self.space.key)
        self.wrote(facts.first_id, batch.ids)
        if scheme.indexed:
            return len(batch.entries)
        return len(batch.rows) if scheme.takes_ids else len(rows)

    def _gather(self, to_read: list[str], ids: int, to_delete: list[str]) -> Facts:
        """What a batch's commands need from Redis: stored records, ids, ownership."""
        facts = Facts()
        if to_read:
            facts.stored = self.writer.read_values(to_read, t.cast("RecordType", self.cache))
        if ids:
            facts.first_id = self.reserve_ids(ids)
        if to_delete:
            facts.owned = self._owned_deletes(to_delete)
        return facts

    def _owned_deletes(self, keys: list[str]) -> set[str]:
        """Those of the keys to delete that the stream wrote; the others stay."""
        owned = set(self.owner.owned(keys))
        if len(owned) < len(keys):
            self.setup.warn_once(
                f"foreign-delete:{self.stream}",
                "Stream '%s': a delete names a key this stream never wrote (e.g. %s); it "
                "was left in place (a stream deletes only its own keys).",
                self.stream,
                next(key for key in keys if key not in owned),
            )
        return owned

    def wrote(self, first_id: int, count: int) -> None:
        """Ids ``first_id`` .. ``first_id + count - 1`` were written."""

    def _tell_shorter_names(self) -> None:
        """Before the first batch: name this stream in the ``extended-by`` SET of each
        stream whose name this one extends (another cluster slot than the batch's)."""
        commands: list[Command] = []
        for shorter in self.space.extends():
            commands.append(("SADD", shorter.extended_key, self.stream))
            commands += self.cache.expire(shorter.extended_key)
        if commands:
            self.writer.run(commands)

    def _without_soft_deletes(self, rows: list[Row]) -> list[Row]:
        """A soft delete of a member or value of one property cannot be marked, and
        adding it again would undo the delete: such rows are dropped, with a warning."""
        kept = [row for row in rows if not row.deleted]
        if len(kept) < len(rows):
            self.setup.warn_once(
                f"bare-delete:{self.stream}",
                "Stream '%s': a delete row of a member or value of one property is dropped "
                "(it cannot hold _sdc_deleted_at); hard_delete: true removes the member from "
                "a set or sorted set, or the key.",
                self.stream,
            )
        return kept

    def _manifest_commands(self) -> list[Command]:
        """The manifest's HSET, once per run, ahead of the first batch."""
        if not self._manifest_due:
            return []
        self._manifest_due = False
        return self.manifest_commands(self.planned())

    def manifest_commands(self, manifest: Manifest) -> list[Command]:
        """Commands storing ``manifest`` (HDEL of a field it no longer has)."""
        fields = manifest.fields(self.stream, self.space.namespace, self.setup.version)
        pairs = [part for item in fields.items() for part in item]
        commands: list[Command] = [(self.cache.hash_set, self.space.manifest_key, *pairs)]
        if not manifest.mixed_with:
            commands.append(("HDEL", self.space.manifest_key, "mixed_with"))
        return commands

    def reserve_ids(self, count: int) -> int:
        """Advance the counter by ``count`` (one INCRBY); the first id. A counter
        that went back (Redis lost it, or another writer replaced it) behind the ids
        this run or earlier ones used stops the run before an id is used twice."""
        first = self.writer.reserve_ids(self.space.key, self.space.manifest_key, count)
        used = max(self._last_id, self._issued_before)
        if first <= used:
            msg = (
                f"Stream '{self.stream}': Redis lost the stream's counter {self.space.key} "
                f"(it handed out id {first} after ids up to {used} were used): a restart "
                "without persistence, a FLUSH, a failover without replication, or another "
                f"writer that replaced or deleted the key. Ids {first}-{used} would be "
                "reused and overwrite records; nothing more was written. Resume the tap from "
                "a state emitted before this run."
            )
            raise TargetRedisError(msg)
        self._last_id = first + count - 1
        return first

    @property
    def fence(self) -> Fence | None:
        """The lease the stream's writes depend on (an overwrite's)."""
        return None

    def keepalive(self) -> None:
        """Called at STATE messages between batches."""

    def release(self) -> None:
        """Called when the run ends, successfully or not."""

    # End

    def finish(self) -> None:
        """At a successful end of input (after the last batch was written)."""

    def owned_chunks(
        self, redis_type: str | None = None, counter: int | None = None
    ) -> t.Iterator[tuple[bool, list[str]]]:
        """Every record key the stream owns (of ``redis_type`` only, when given), a
        chunk at a time with whether it comes from the key index: the index's members,
        and its id keys where it held or writes ids, up to ``counter`` (read here when
        not given; ownership.py)."""
        held = self.held
        legacy = held is not None and held.scheme is None
        held_ids = held is not None and held.scheme is not None and held.scheme.takes_ids
        ids = self.scheme.takes_ids or held_ids or (held is not None and bool(held.mixed_with))
        if counter is None and ids and not legacy:
            counter = self.writer.counter(self.space.key)
        return self.owner.chunks(ids=ids, legacy=legacy, counter=counter, redis_type=redis_type)

    def retire(self, version: int, encode: t.Callable[[dict], str]) -> int:
        """ACTIVATE_VERSION: delete (``hard_delete``) or mark deleted the stream's records
        whose ``_sdc_table_version`` is missing or older than ``version``; how many."""
        cache = t.cast("RecordType", self.cache)
        record_format = self.setup.record_format
        deleted_at = datetime.datetime.now(tz=datetime.timezone.utc).isoformat()
        touched = 0
        for indexed, chunk in self.owned_chunks(cache.redis_type):
            stored = self.writer.read_versions(chunk, cache, whole=record_format.versions_in_json)
            commands: list[Command] = []
            deleted: list[str] = []
            for key, record in zip(chunk, stored, strict=True):
                if not _older(record, version):
                    continue
                if self.setup.hard_delete:
                    commands.append((self.writer.delete_command, key))
                    deleted.append(key)
                elif record.get("_sdc_deleted_at") is None:
                    commands += record_format.retire_commands(
                        cache, key, record, deleted_at, encode
                    )
                else:
                    continue
                touched += 1
            if indexed:
                commands += self.owner.forget(deleted)
            self.writer.run(commands)
        return touched


def _older(record: t.Any, version: int) -> bool:
    """Whether a stored record's ``_sdc_table_version`` is missing or below ``version``."""
    if not isinstance(record, dict):
        return False
    row_version = record.get("_sdc_table_version")
    return row_version is None or row_version < version
