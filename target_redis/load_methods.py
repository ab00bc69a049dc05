"""Load methods (the ``load_method`` setting): one class each, one instance per stream
per run, shared by the stream's sinks across schema changes.

A load method decides how a row gets its key (an id from the counter, its primary
key, or the stream's single key), writes batches with the cache type's commands
through the writer, and does the work at the stream's start (compare the manifest,
refuse to mix key schemes) and at a successful end of input (overwrite's cleanup or
swap). The stream's manifest is written with its first batch, in the same pipeline.

Invariants: a run never writes keys of another scheme next to what the manifest
says the stream holds (only overwrite, which replaces the whole key space, changes
it); ``write`` returns only after Redis acknowledged every command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import logging
import time
import typing as t

from target_redis import rows as rows_module
from target_redis.cache_types import CACHE_TYPES, RecordType, SingleKeyType, SortedSetType
from target_redis.errors import REDIS_ERRORS, RejectedRecord, TargetRedisError
from target_redis.keys import aside_key, encode_pk, parse_id_suffix
from target_redis.lease import Fence
from target_redis.manifest import (
    IDS,
    PRIMARY_KEY,
    SINGLE_KEY,
    TEMPLATE,
    UNKNOWN,
    Manifest,
    conflicts,
    held_without_manifest,
)
from target_redis.ownership import Ownership
from target_redis.writer import ISSUED

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.keyspace import KeySpace
    from target_redis.lease import Lease
    from target_redis.rows import Command, Row
    from target_redis.templates import KeyTemplate
    from target_redis.writer import StreamFacts, Writer

TEMP_KEY_SECONDS = 86_400
"""A crashed single-key overwrite's temporary key expires after a day."""
LEASE_SECONDS = 300
"""An overwrite's lease lasts this long after its last batch or STATE message."""
LEASE_RENEW_SECONDS = 30


@dataclasses.dataclass
class StreamSetup:
    """What a stream's load method works with, fixed for the run."""

    space: KeySpace
    cache: CacheType
    writer: Writer
    key_properties: tuple[str, ...]
    hard_delete: bool
    logger: logging.Logger
    warn_once: t.Callable[..., None]
    version: str
    run_id: str
    overwrite_keys: str = "auto"
    record_format: str = "airbyte"
    template: KeyTemplate | None = None
    """``key_template``: records at keys built from their values."""
    score_field: str = ""
    """``cache_type: sorted_set``: the property scoring a member."""
    properties: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    """The stream's schema properties at its first SCHEMA."""
    merge: bool = False
    """``on_update: merge``: a record's properties are laid over the stored ones."""
    json_inexact_numbers: str = "double"
    """``cache_type: json``: numbers RedisJSON would change stay ``double`` or ``string``."""
    known_streams: set[str] = dataclasses.field(default_factory=set)
    """The streams of the namespace started in this run (shared by its streams)."""


class LoadMethod:
    """How one stream is loaded in this run."""

    name: t.ClassVar[str]
    replaces_key_space: t.ClassVar[bool] = False
    needs_record_keys: t.ClassVar[bool] = False
    """True when it cannot write a single-key cache type."""

    def __init__(self, setup: StreamSetup) -> None:
        """Nothing is read or written until ``start``."""
        self.setup = setup
        self.space = setup.space
        self.cache = setup.cache
        self.writer = setup.writer
        self.keys = SINGLE_KEY if setup.cache.single_key else IDS
        self.held: Manifest | None = None
        self.owner = Ownership(setup.space, setup.writer, setup.run_id)
        self._issued_before = 0
        """The ids target-redis issued before this run (the manifest's ``issued``)."""
        self._manifest_due = True
        self._last_id = 0

    @property
    def stream(self) -> str:
        """The stream's name."""
        return self.space.stream

    # Start

    def start(self) -> None:
        """First SCHEMA of the stream in this run: check its name against the others of
        its namespace, read what the stream holds and refuse (before writing anything)
        when this run would mix key schemes or write next to another writer's ids."""
        self._check_brace()
        space = self.space
        facts = self.writer.read_stream(
            space.manifest_key, space.key, space.lease_key, space.extended_key
        )
        self._check_name(facts)
        self._issued_before = facts.issued or 0
        if facts.lease is not None and facts.lease.holder != self.setup.run_id:
            raise TargetRedisError(self._busy(facts.lease))
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
        self.choose_keys()
        self._check_schema()
        planned = self.planned()
        if not self.replaces_key_space and conflicts(self.held, planned):
            raise TargetRedisError(self._refusal(planned))
        self._check_other_writer(facts, planned)
        self._adopt()

    def _check_brace(self) -> None:
        """Refuse a name starting with ``{``: the target's side keys start with ``N:{``."""
        if self.stream.startswith("{"):
            msg = (
                f"Stream '{self.stream}': stream names starting with '{{' are reserved "
                f"(the target's own keys start with '{self.space.namespace}:{{'). Rename it "
                'with a stream map: {"stream_maps": {"<name>": {"__alias__": "<new name>"}}}.'
            )
            raise TargetRedisError(msg)

    def _check_name(self, facts: StreamFacts) -> None:
        """Refuse a name that extends, or is extended by, the name of a stream known in
        the namespace (this run's, or one whose manifest says so) after a ``:``."""
        known = self.setup.known_streams
        shorter = self.space.extends()
        written = self.writer.exist_each([space.manifest_key for space in shorter])
        found = {space.stream for space, w in zip(shorter, written, strict=True) if w}
        names = facts.extended_by | known | found
        for other in sorted(names - {self.stream}):
            if other.startswith(self.stream + ":") or self.stream.startswith(other + ":"):
                msg = (
                    f"Stream '{self.stream}' and stream '{other}' in namespace "
                    f"'{self.space.namespace}': one name extends the other after ':', so "
                    "their keys can be the same keys. Nothing was written. Give one of them "
                    "a namespace of its own (setting 'streams'), or rename it with a stream "
                    "map."
                )
                raise TargetRedisError(msg)
        known.add(self.stream)

    def _check_other_writer(self, facts: StreamFacts, planned: Manifest) -> None:
        """Keys by primary key share ``N:S:`` with ids: refuse when another writer took
        ids from the counter beyond those target-redis issued (its records could be
        overwritten). A manifest written before 0.3 has no such record: it starts now."""
        held, counter, issued = self.held, facts.counter, facts.issued
        if planned.keys != PRIMARY_KEY or held is None or counter is None:
            return
        if issued is None and not held.key_index:
            self.writer.run([("HSETNX", self.space.manifest_key, ISSUED, str(counter))])
            return
        if counter > (issued or 0) and not self.replaces_key_space:
            msg = (
                f"Stream '{self.stream}': another writer appended records to its key space "
                f"(its counter {self.space.key} is at {counter}, ids issued by target-redis: "
                f"{issued or 0}); {self.name} by primary key could overwrite them. Nothing "
                "was written. To convert the stream, run it once with load_method: "
                "overwrite and overwrite_keys: primary-key."
            )
            raise TargetRedisError(msg)

    def _adopt(self) -> None:
        """A key space written before 0.3 has no record of its keys: adopt the
        primary-key records under ``N:S:``; a key template's cannot be told apart."""
        held = self.held
        if held is None or held.key_index or held.keys not in (PRIMARY_KEY, TEMPLATE):
            return
        if held.keys == PRIMARY_KEY:
            count = self.owner.adopt()
            self.setup.logger.info(
                "Stream '%s': recorded the %d keys it holds under %s: (written before "
                "target-redis kept a record of them) in %s.",
                self.stream,
                count,
                self.space.key,
                self.space.index_key,
            )
            return
        self.setup.warn_once(
            f"template-0.2:{self.stream}",
            "Stream '%s' was written with key_template %r before target-redis kept a "
            "record of the keys a stream writes: keys of that shape written before this run "
            "are left alone by overwrite, deletes and ACTIVATE_VERSION (other writers' keys "
            "can have the same shape). Remove leftovers by hand if you know they are its own.",
            self.stream,
            held.key_template,
        )

    def _check_schema(self) -> None:
        """Placeholders and the score field must name properties of the stream."""
        properties = self.setup.properties
        if self.setup.template is not None:
            self.setup.template.check_schema(properties, self.stream, "")
        score = self.setup.score_field
        if score and score not in properties:
            msg = f"Setting 'score_field': stream '{self.stream}' has no property {score!r}."
            raise TargetRedisError(msg)

    def _busy(self, lease: Lease) -> str:
        return (
            f"Stream '{self.stream}' is being overwritten by another run (lease "
            f"{self.space.lease_key}, held by run {lease.holder} for up to {lease.seconds} s "
            f"more); this {self.name} would mix with it. Nothing was written. Run again when "
            "it has finished (the lease of a run that died expires by itself)."
        )

    def choose_keys(self) -> None:
        """Settle ``self.keys`` once ``self.held`` is known: a key template decides
        for per-record types."""
        if self.setup.template is not None and not self.cache.single_key:
            self.keys = TEMPLATE

    def planned(self) -> Manifest:
        """The manifest of what this run writes."""
        template = self.setup.template
        columns: tuple[str, ...] = ()
        if self.keys == PRIMARY_KEY:
            columns = self.setup.key_properties
        elif self.keys == TEMPLATE and template is not None:
            columns = tuple(template.placeholders)
        return Manifest(
            self.cache.name,
            self.keys,
            columns,
            self.name,
            self.setup.record_format,
            template.text if template is not None else "",
            key_index=self.space.index_key,
        )

    def _refusal(self, planned: Manifest) -> str:
        assert self.held is not None
        if self.held.mixed_with:
            holds = (
                f"{self.held.describe()} mixed with {self.held.mixed_with} (an overwrite "
                "that did not finish)"
            )
        else:
            holds = self.held.describe()
        how = f"load_method: overwrite with cache_type: {planned.cache_type}"
        if planned.record_format != "airbyte":
            how += f", record_format: {planned.record_format}"
        if planned.keys in (IDS, PRIMARY_KEY):
            how += f" and overwrite_keys: {planned.keys}"
        return (
            f"Stream '{self.stream}' holds {holds} (manifest {self.space.manifest_key}); "
            f"load_method {self.name} would write {planned.describe()} next to them. "
            f"Nothing was written. To convert the stream, run it once with {how}."
        )

    # Rows

    @property
    def keyed_by_record(self) -> bool:
        """Whether rows need ``row_key``: their key (or sorted-set member) comes from
        the record."""
        return self.keys in (PRIMARY_KEY, TEMPLATE) or self._members_by_key

    @property
    def _members_by_key(self) -> bool:
        return isinstance(self.cache, SortedSetType) and bool(self.setup.key_properties)

    def row_key(self, record: t.Mapping[str, t.Any]) -> str | None:
        """The record's key suffix (by primary key), its full key (by template) or its
        sorted-set member (by primary key); None when ids key the records."""
        if self.keys == TEMPLATE:
            return t.cast("KeyTemplate", self.setup.template).render(record, self.stream)
        if self.keys != PRIMARY_KEY and not self._members_by_key:
            return None
        values = []
        for name in self.setup.key_properties:
            value = record.get(name)
            if value is None:
                msg = (
                    f"Stream '{self.stream}': key property '{name}' is missing or null in "
                    f"a record; {self.name} by primary key needs every key property."
                )
                raise RejectedRecord(msg)
            values.append(value)
        return encode_pk(values)

    def row_score(self, record: t.Mapping[str, t.Any], *, deleted: bool = False) -> str | None:
        """``score_field``'s value as a sorted-set score (a number's own text, a date or
        date-time in epoch milliseconds); None without a score field, or for a delete
        row without it (a delete needs the member, not the score)."""
        name = self.setup.score_field
        if not name:
            return None
        value = record.get(name)
        if value is None and deleted:
            return None
        if value is None:
            msg = f"Stream '{self.stream}': score_field '{name}' is missing or null in a record."
            raise RejectedRecord(msg)
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return str(value)
        try:
            if isinstance(value, bool):
                raise ValueError
            return str(rows_module.date_ms(str(value)))
        except ValueError:
            msg = (
                f"Stream '{self.stream}': score_field '{name}' holds {str(value)[:40]!r}, "
                "neither a number nor a date / date-time."
            )
            raise RejectedRecord(msg) from None

    # Writing

    def key_of(self, suffix: str) -> str:
        """The full key of a row keyed by primary key (a suffix) or by template."""
        return suffix if self.keys == TEMPLATE else self.space.record_key(suffix)

    def write(self, rows: list[Row]) -> int:
        """Write a batch; return how many records (or keys) it wrote."""
        if self._manifest_due and rows:
            self._tell_shorter_names()
        if self.keys == SINGLE_KEY:
            return self._write_single(rows)
        if self.keys in (PRIMARY_KEY, TEMPLATE):
            return self._write_by_key(rows)
        return self._write_ids(self._kept(rows))

    def _kept(self, rows: list[Row]) -> list[Row]:
        if not self.setup.hard_delete:
            return rows
        kept = [row for row in rows if not row.deleted]
        if len(kept) < len(rows):
            self.setup.warn_once(
                f"append-delete:{self.stream}",
                "Stream '%s': hard_delete drops deleted rows under %s; records appended "
                "earlier are not removed (use load_method upsert with key_properties).",
                self.stream,
                self.name,
            )
        return kept

    def _write_ids(self, rows: list[Row]) -> int:
        if not rows:
            return 0
        first_id = self.reserve_ids(len(rows))
        commands = self._manifest_commands() + self.id_commands(first_id, rows)
        self.writer.run(
            [*commands, *self._expire_stream_keys()], defer=self._failed(rows), fence=self.fence
        )
        self.wrote_ids(first_id, len(rows))
        return len(rows)

    def _write_by_key(self, rows: list[Row]) -> int:
        cache = t.cast("RecordType", self.cache)
        plan = rows_module.plan_upsert(
            rows, hard_delete=self.setup.hard_delete, merge=self.setup.merge
        )
        # A partial delete row is laid over the stored record: read back here, or, for
        # a hash of fields, merged by Redis itself (keyed_commands with merge).
        in_place = self.setup.merge and cache.merges_in_place
        to_merge = [
            pk
            for pk, entry in plan.items()
            if entry.merge_stored
            and entry.row is not None
            and entry.row.fields is None
            and not in_place
        ]
        if to_merge:
            stored = self.writer.read_values([self.key_of(pk) for pk in to_merge], cache)
            for pk, data in zip(to_merge, stored, strict=True):
                entry = plan[pk]
                entry.row = rows_module.merge_into_stored(data, t.cast("Row", entry.row))
        writes = rows_module.count_writes(plan)
        ab_id = self.reserve_ids(writes) if writes and self.cache.uses_ids(self._fields) else 0
        written = [self.key_of(pk) for pk, entry in plan.items() if entry.row is not None]
        deleted = self._owned_deletes([self.key_of(pk) for pk, e in plan.items() if not e.row])
        commands = self._manifest_commands() + self.claim(written)
        for pk, entry in plan.items():
            key = self.key_of(pk)
            if entry.row is None:
                if key in deleted:
                    commands.append((self.writer.delete_command, key))
            else:
                merge = self.setup.merge or (entry.merge_stored and entry.row.fields is not None)
                commands += self.record_commands(key, ab_id, entry.row, merge=merge)
                ab_id += 1
        commands += self.owner.forget(sorted(deleted))
        self.writer.run(
            [*commands, *(self._expire_stream_keys() if writes else [])],
            defer=self._failed(rows),
            fence=self.fence,
        )
        return len(plan)

    @property
    def _fields(self) -> bool:
        return self.setup.record_format == "fields"

    def claim(self, keys: list[str]) -> list[Command]:
        """Commands recording ``keys`` as the stream's, ahead of writing them."""
        return self.owner.claim(keys)

    def _owned_deletes(self, keys: list[str]) -> set[str]:
        """Those of the keys to delete that the stream wrote; the others stay."""
        if not keys:
            return set()
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

    def _write_single(self, rows: list[Row]) -> int:
        if not rows:
            return 0
        cache = t.cast("SingleKeyType", self.cache)
        removed = [row for row in rows if row.deleted] if self.setup.hard_delete else []
        # A type that finds members by key removes them; the others drop deletes.
        if removed and cache.removes:
            kept = [row for row in rows if not row.deleted]
        else:
            kept, removed = self._kept(rows), []
        if any(row.deleted and row.score is None for row in kept):
            self.setup.warn_once(
                f"soft-delete-unscored:{self.stream}",
                "Stream '%s': a delete row without score_field leaves its member as it is "
                "(a sorted set holds no _sdc_deleted_at); hard_delete: true removes it.",
                self.stream,
            )
            kept = [row for row in kept if not (row.deleted and row.score is None)]
        key = self.single_key()
        commands = self._manifest_commands() + cache.add_commands(key, kept)
        commands += cache.remove_commands(key, removed)
        if key != self.final_key():  # a temporary key: a crashed run's leftover expires
            commands.append(("EXPIRE", key, str(TEMP_KEY_SECONDS)))
        commands += self.cache.expire(self.space.manifest_key) + self.upkeep()
        once = key if cache.transactional else None  # pushes: re-sent, they would land twice
        self.writer.run(commands, once=once, fence=self.fence)
        return len(rows)

    def record_commands(
        self, key: str, ab_id: int, row: Row, *, merge: bool | None = None
    ) -> list[Command]:
        """The cache type's commands writing one record at ``key``: a new key, or (with
        ``merge`` given) a key that may hold an earlier version."""
        cache = t.cast("RecordType", self.cache)
        if merge is None:
            return cache.record_commands(key, ab_id, row)
        return cache.keyed_commands(key, ab_id, row, merge=merge)

    def _failed(self, rows: t.Sequence[Row]) -> str:
        return f"Stream '{self.stream}': writing a batch of {len(rows)} records to Redis failed"

    def id_commands(self, first_id: int, rows: t.Sequence[Row]) -> list[Command]:
        """The commands writing ``rows`` at consecutive ids from ``first_id``."""
        cache = t.cast("RecordType", self.cache)
        return cache.id_commands(self.space.record_key(""), first_id, rows)

    def _expire_stream_keys(self) -> list[Command]:
        # With ttl_seconds, counter and manifest outlive every record they describe.
        space, expire = self.space, self.cache.expire
        keys = expire(space.key) + expire(space.manifest_key)
        return keys + expire(space.index_key) + self.upkeep()

    def upkeep(self) -> list[Command]:
        """Commands sent with every batch (an overwrite renews its lease)."""
        return []

    @property
    def fence(self) -> Fence | None:
        """The lease the stream's writes depend on (an overwrite's)."""
        return None

    def keepalive(self) -> None:
        """Called at STATE messages between batches."""

    def release(self) -> None:
        """Called when the run ends, successfully or not."""

    def reserve_ids(self, count: int) -> int:
        """Advance the counter by ``count`` (one INCRBY); the first id. A counter
        that went back (Redis lost it, or another writer replaced it) behind the ids
        this run or earlier ones used stops the run before an id is used twice."""
        first = self.writer.reserve_ids(self.space.key, self.space.manifest_key, count)
        last = first + count - 1
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
        self._last_id = last
        return first

    def single_key(self) -> str:
        """Where a single-key type's rows go."""
        return self.final_key()

    def final_key(self) -> str:
        """The single key: ``N:S``, or a key template without placeholders."""
        template = self.setup.template
        return template.literal if template is not None and template.literal else self.space.key

    def wrote_ids(self, first_id: int, count: int) -> None:
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
        legacy = held is not None and held.keys == UNKNOWN
        ids = self.keys == IDS or (held is not None and (held.keys == IDS or bool(held.mixed_with)))
        if counter is None and ids and not legacy:
            counter = self.writer.counter(self.space.key)
        return self.owner.chunks(ids=ids, legacy=legacy, counter=counter, redis_type=redis_type)

    def retire(self, version: int, encode: t.Callable[[dict], str]) -> int:
        """ACTIVATE_VERSION: delete (``hard_delete``) or mark deleted the stream's records
        whose ``_sdc_table_version`` is missing or older than ``version``; how many."""
        cache = t.cast("RecordType", self.cache)
        touched = 0
        for indexed, chunk in self.owned_chunks(cache.redis_type):
            count, deleted = self.writer.retire_versions(
                cache,
                chunk,
                version,
                hard_delete=self.setup.hard_delete,
                encode=encode,
                fields=self._fields,
            )
            if indexed:
                self.writer.run(self.owner.forget(deleted))
            touched += count
        return touched


class AppendOnly(LoadMethod):
    """Every record gets a new id after the counter; nothing existing is touched."""

    name = "append-only"


class Upsert(LoadMethod):
    """One key per primary key, the latest record winning."""

    name = "upsert"
    needs_record_keys = True

    def choose_keys(self) -> None:
        """By primary key, or by key template."""
        self.keys = TEMPLATE if self.setup.template is not None else PRIMARY_KEY


class Overwrite(LoadMethod):
    """Replaces the stream's whole key space when the input ends successfully: the
    old keys stay readable until then, whatever scheme or cache type wrote them."""

    name = "overwrite"
    replaces_key_space = True

    def __init__(self, setup: StreamSetup) -> None:
        """Tracks what this run writes (id ranges, or keys), to keep only those."""
        super().__init__(setup)
        self._id_ranges: list[tuple[int, int]] = []
        self._drop_single_key = False
        self._clear_first = False
        self._leased = False
        self._renewed = 0.0

    def choose_keys(self) -> None:
        """A key template, or ``overwrite_keys``: ids, primary-key, or auto (what the
        stream holds)."""
        if self.cache.single_key:
            return
        if self.setup.template is not None:
            self.keys = TEMPLATE
            return
        wanted = self.setup.overwrite_keys
        if wanted == "auto":
            by_key = self.held is not None and self.held.keys == PRIMARY_KEY
            wanted = PRIMARY_KEY if by_key and self.setup.key_properties else IDS
        if wanted == PRIMARY_KEY and not self.setup.key_properties:
            msg = (
                f"Stream '{self.stream}' has no key_properties: setting 'overwrite_keys: "
                "primary-key' needs them."
            )
            raise TargetRedisError(msg)
        self.keys = wanted

    def start(self) -> None:
        """Read what the stream holds, take the stream's lease (one overwrite at a
        time), and say what will replace what."""
        super().start()
        lease = self.writer.leases.acquire(self.space.lease_key, self.setup.run_id, LEASE_SECONDS)
        if lease is not None:
            raise TargetRedisError(self._busy(lease))
        self._leased = True
        self._renewed = time.monotonic()
        held, planned = self.held, self.planned()
        if held is not None and held.keys == SINGLE_KEY and not self.cache.single_key:
            self._drop_single_key = True  # the counter takes the single key's place
        if held is not None and held.keys in (IDS, PRIMARY_KEY):
            # A new key may be an old key of another type: remove it before writing.
            self._clear_first = held.cache_type != self.cache.name
        into = self.single_key() if self.cache.single_key else "new keys"
        if held is not None and held.same_space(planned):
            self.setup.logger.info(
                "Stream '%s': overwrite will rewrite its %s (written to %s), then remove "
                "those this run does not write.",
                self.stream,
                planned.describe(),
                into,
            )
            return
        self.setup.logger.info(
            "Stream '%s': overwrite will replace %s with %s, written to %s.",
            self.stream,
            "its records" if held is None else held.describe(),
            planned.describe(),
            into,
        )

    def warn_incremental(self, why: str) -> None:
        """An incremental stream under overwrite keeps only this run's records."""
        self.setup.warn_once(
            f"overwrite-incremental:{self.stream}",
            "Stream '%s' looks incremental (%s): overwrite will leave only the records "
            "of this run, not the whole table. Use append-only or upsert, or run the "
            "tap without state for a full refresh.",
            self.stream,
            why,
        )

    def planned(self) -> Manifest:
        """What the stream will hold; ``mixed_with`` what it held, if that differs."""
        planned = super().planned()
        if self.held is not None and not self.held.same_space(planned):
            return dataclasses.replace(planned, mixed_with=self.held.describe())
        return planned

    def single_key(self) -> str:
        """Single-key types are built in a temporary key, swapped in at the end."""
        final = self.final_key()
        return (
            self.space.temp_key(self.setup.run_id) if final == self.space.key else aside_key(final)
        )

    def reserve_ids(self, count: int) -> int:
        """As any load method's, after removing a single key that held the stream."""
        if self._drop_single_key:
            self.writer.remove([self.space.key], self.fence)
            self._drop_single_key = False
        return super().reserve_ids(count)

    @property
    def fence(self) -> Fence | None:
        """The stream's lease, while this run holds it."""
        value = self.writer.leases.values.get(self.space.lease_key)
        if not self._leased or value is None:
            return None
        return Fence(self.space.lease_key, value, LEASE_SECONDS)

    def upkeep(self) -> list[Command]:
        """Renew the lease with every batch."""
        self._renewed = time.monotonic()
        return [("EXPIRE", self.space.lease_key, str(LEASE_SECONDS))]

    def keepalive(self) -> None:
        """Renew the lease between batches (at most every 30 s)."""
        fence = self.fence
        if fence is not None and time.monotonic() - self._renewed >= LEASE_RENEW_SECONDS:
            self._renewed = time.monotonic()
            self.writer.renew(fence)

    def release(self) -> None:
        """Give the lease back (a failed run's old records stay; the next may start)."""
        if self._leased:
            self._leased = False
            with contextlib.suppress(*REDIS_ERRORS):
                self.writer.leases.release(self.space.lease_key, self.setup.run_id)

    def record_commands(
        self, key: str, ab_id: int, row: Row, *, merge: bool | None = None
    ) -> list[Command]:
        """As any load method's, after removing an old key of another type there."""
        commands = super().record_commands(key, ab_id, row, merge=merge)
        return [(self.writer.delete_command, key), *commands] if self._clear_first else commands

    def id_commands(self, first_id: int, rows: t.Sequence[Row]) -> list[Command]:
        """As any load method's, each after removing an old key of another type there."""
        if not self._clear_first:
            return super().id_commands(first_id, rows)
        commands: list[Command] = []
        for ab_id, row in enumerate(rows, start=first_id):
            commands += self.record_commands(self.space.record_key(ab_id), ab_id, row)
        return commands

    def wrote_ids(self, first_id: int, count: int) -> None:
        """Remember the range: these are the keys to keep."""
        self._id_ranges.append((first_id, first_id + count - 1))

    def claim(self, keys: list[str]) -> list[Command]:
        """As any load method's, and as keys this run wrote (kept in Redis, not here)."""
        return self.owner.claim(keys, run=True)

    def _stale(self, keys: list[str]) -> list[str]:
        """Those of the stream's ``keys`` this run did not write: ids it wrote are known
        here, keys by primary key or template are looked up in the run's SET."""
        if self.keys not in (PRIMARY_KEY, TEMPLATE):
            return [key for key in keys if not self._in_ranges(key)]
        written = self.owner.written_by_run(keys)
        return [key for key, by_run in zip(keys, written, strict=True) if not by_run]

    def _in_ranges(self, key: str) -> bool:
        ab_id = parse_id_suffix(key, self.space.key)
        return ab_id is not None and any(low <= ab_id <= high for low, high in self._id_ranges)

    def finish(self) -> None:
        """Swap in the single key, remove every record this run did not write, then
        record the manifest of what the stream now holds."""
        holder = self.writer.leases.holder(self.space.lease_key)
        if holder != self.setup.run_id:
            self._leased = False
            msg = (
                f"Stream '{self.stream}': this overwrite lost its lease "
                f"{self.space.lease_key} (now held by {holder or 'no run'}): another run "
                "took the stream over, or the lease expired while this run was stopped; "
                "it did not finish, and removed nothing."
            )
            raise TargetRedisError(msg)
        counter = self.writer.counter(self.space.key)  # before a single key replaces it
        if self.cache.single_key:
            swapped = self.writer.swap_in(
                self.single_key(), self.final_key(), self.cache.ttl_seconds, self.fence
            )
            self.setup.logger.info(
                "Stream '%s': overwrite %s.", self.stream, "swapped in" if swapped else "emptied it"
            )
        if self._drop_single_key:  # no record this run: the old single key goes too
            self.writer.remove([self.space.key], self.fence)
        removed = 0
        for indexed, chunk in self.owned_chunks(counter=counter):
            stale = self._stale(chunk)
            removed += self.writer.remove(stale, self.fence)
            if indexed:
                self.writer.run(self.owner.forget(stale), fence=self.fence)
        manifest = dataclasses.replace(self.planned(), mixed_with="")
        issued: list[Command] = []
        if counter is not None and not self.cache.single_key:
            issued = [("HSET", self.space.manifest_key, ISSUED, str(counter))]
        self.writer.run(
            [
                *self.manifest_commands(manifest),
                *self.cache.expire(self.space.manifest_key),
                *issued,  # what the counter handed out is this stream's now
                *self.owner.drop_run(),
            ],
            fence=self.fence,
        )
        self.release()
        self.setup.logger.info(
            "Stream '%s': overwrite removed %d records of earlier runs.", self.stream, removed
        )


LOAD_METHODS: dict[str, type[LoadMethod]] = {
    cls.name: cls for cls in (AppendOnly, Overwrite, Upsert)
}
"""Every load method by its setting value (settings.py takes the allowed values here)."""


def load_method_for(name: str, setup: StreamSetup) -> LoadMethod:
    """The stream's load method; upsert without key_properties appends (with a warning)."""
    method = LOAD_METHODS[name]
    if method.needs_record_keys and not setup.key_properties:
        setup.warn_once(
            f"upsert-no-key:{setup.space.stream}",
            "Stream '%s' has no key_properties: upsert falls back to append-only.",
            setup.space.stream,
        )
        method = AppendOnly
    return method(setup)


def check_combination(load_method: str, cache_type: str, where: str = "") -> None:
    """Refuse a load method the cache type cannot do (before connecting)."""
    cache = CACHE_TYPES[cache_type]
    if LOAD_METHODS[load_method].needs_record_keys and cache.single_key:
        supported = ", ".join(n for n, m in LOAD_METHODS.items() if not m.needs_record_keys)
        msg = (
            f"Setting 'load_method: {load_method}' does not apply to 'cache_type: "
            f"{cache_type}'{where} (records have no key of their own); it supports {supported}."
        )
        raise TargetRedisError(msg)
