"""Load methods (the ``load_method`` setting): one class each, in ``LOAD_METHODS``.

Only the lifecycle differs between them (load_method.py has the shared part): which
key scheme they write, what they check at the start, an overwrite's lease, and what
they do at the end. Adding a load method: one class here and its registry entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import typing as t

from target_redis import start_checks
from target_redis.collection_schemes import IndexedGroups, SingleKey
from target_redis.errors import REDIS_ERRORS, TargetRedisError
from target_redis.key_schemes import Ids, KeyScheme, PrimaryKey, Template
from target_redis.keys import aside_key, parse_id_suffix
from target_redis.lease import Fence
from target_redis.load_method import LoadMethod, StreamSetup
from target_redis.redis_reads import ISSUED
from target_redis.schemes import KEY_SCHEMES
from target_redis.templates import KeyTemplate

if t.TYPE_CHECKING:
    from target_redis.key_schemes import Writing
    from target_redis.manifest import Manifest
    from target_redis.rows import Command, Row

LEASE_SECONDS = 300
"""An overwrite's lease lasts this long after its last batch or STATE message."""
LEASE_RENEW_SECONDS = 30
INCREMENTAL_BOOKMARKS = frozenset({"replication_key_value", "replication_key", "lsn"})
"""Bookmark keys of an incremental stream's STATE (SDK taps, LOG_BASED tap-postgres)."""


class AppendOnly(LoadMethod):
    """Every record gets a new id after the counter; nothing existing is touched."""

    name = "append-only"
    keys_from_values = False
    reads_back = False


class Upsert(LoadMethod):
    """One key per primary key, the latest record winning."""

    name = "upsert"
    needs_record_keys = True
    merges = True

    def default_scheme(self) -> type[KeyScheme]:
        """By key template, or by primary key; a collection per group, members indexed."""
        if self.cache.single_key:
            return IndexedGroups
        return Template if self.setup.template is not None else PrimaryKey


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
        self._latest: dict[str, int] = {}
        """Collections per group: the latest expiry of each one's records."""

    def choose_scheme(self) -> type[KeyScheme]:
        """A single key, a key template, or ``overwrite_keys``: ids, primary-key, or
        auto (what the stream holds)."""
        default = self.default_scheme()
        if default is not Ids:
            return default
        wanted = self.setup.overwrite_keys
        if wanted == "auto":
            held = self.held.scheme if self.held is not None else None
            by_key = held is PrimaryKey and bool(self.setup.key_properties)
            return PrimaryKey if by_key else Ids
        scheme = KEY_SCHEMES[wanted]
        if scheme.by_columns and not self.setup.key_properties:
            msg = (
                f"Stream '{self.stream}' has no key_properties: setting 'overwrite_keys: "
                f"{wanted}' needs them."
            )
            raise TargetRedisError(msg)
        return scheme

    def start(self) -> None:
        """Read what the stream holds, take the stream's lease (one overwrite at a
        time), and say what will replace what."""
        super().start()
        space = self.space
        lease = self.writer.leases.acquire(space.lease_key, self.setup.run_id, LEASE_SECONDS)
        if lease is not None:
            raise TargetRedisError(start_checks.busy(space, lease, self.name))
        self._leased = True
        self._renewed = time.monotonic()
        held, planned = self.held, self.planned()
        scheme = held.scheme if held is not None else None
        if scheme is SingleKey and (self.scheme.per_record or self.scheme.grouped):
            self._drop_single_key = True  # the counter, or collections per group, replace it
        if held is not None and scheme is not None and (scheme.takes_ids or scheme.by_columns):
            # A new key may be an old key of another type: remove it before writing.
            self._clear_first = held.cache_type != self.cache.name
        into = self.collection_key() if not self.scheme.per_record else "new keys"
        if self.scheme.grouped:
            into = "a key beside each collection, swapped in at the end"
        log = self.setup.logger
        if held is not None and held.same_space(planned):
            log.info(
                "Stream '%s': overwrite will rewrite its %s (written to %s), then remove "
                "those this run does not write.",
                self.stream,
                planned.describe(),
                into,
            )
            return
        log.info(
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

    def collection_key(self) -> str:
        """Single-key types are built in a temporary key, swapped in at the end."""
        final = t.cast("SingleKey", self.scheme).final_key()
        return (
            self.space.temp_key(self.setup.run_id) if final == self.space.key else aside_key(final)
        )

    def writing(self) -> Writing:
        """Claims in the run's SET, old keys of another type removed first, the lease
        renewed with every batch, collections built aside."""
        self._renewed = time.monotonic()
        return dataclasses.replace(
            super().writing(),
            clear_first=self._clear_first,
            run_key=self.owner.written_key,
            upkeep=(("EXPIRE", self.space.lease_key, str(LEASE_SECONDS)),),
            collection_key="" if self.scheme.per_record else self.collection_key(),
        )

    def write(self, rows: list[Row]) -> int:
        """As any load method's; collections per group remember their latest expiry."""
        if self.cache.per_record_expiry and self.scheme.grouped:
            for row in rows:
                if row.expires is not None and not row.deleted:
                    group = t.cast("str", row.group)
                    self._latest[group] = max(row.expires, self._latest.get(group, row.expires))
        return super().write(rows)

    def reserve_ids(self, count: int) -> int:
        """As any load method's, after removing a single key that held the stream."""
        if self._drop_single_key:
            self.writer.remove([self._old_single_key()], self.fence)
            self._drop_single_key = False
        return super().reserve_ids(count)

    def _old_single_key(self) -> str:
        """The key that held the whole stream: ``N:S``, or its template's literal key."""
        held = t.cast("Manifest", self.held)
        literal = KeyTemplate(held.key_template).literal if held.key_template else None
        return literal or self.space.key

    @property
    def fence(self) -> Fence | None:
        """The stream's lease, while this run holds it."""
        value = self.writer.leases.values.get(self.space.lease_key)
        if not self._leased or value is None:
            return None
        return Fence(self.space.lease_key, value, LEASE_SECONDS)

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

    def wrote(self, first_id: int, count: int) -> None:
        """Remember the id range: these are the keys to keep."""
        if count and self.scheme.takes_ids:
            self._id_ranges.append((first_id, first_id + count - 1))

    def _stale(self, keys: list[str]) -> list[str]:
        """Those of the stream's ``keys`` this run did not write: ids it wrote are known
        here, keys by primary key or template are looked up in the run's SET."""
        if not self.scheme.indexed:
            return [key for key in keys if not self._in_ranges(key)]
        written = self.owner.written_by_run(keys)
        return [key for key, by_run in zip(keys, written, strict=True) if not by_run]

    def _in_ranges(self, key: str) -> bool:
        ab_id = parse_id_suffix(key, self.space.key)
        return ab_id is not None and any(low <= ab_id <= high for low, high in self._id_ranges)

    def finish(self) -> None:
        """Swap in the single key, remove every record this run did not write, then
        record the manifest of what the stream now holds."""
        space, writer = self.space, self.writer
        holder = writer.leases.holder(space.lease_key)
        if holder != self.setup.run_id:
            self._leased = False
            msg = (
                f"Stream '{self.stream}': this overwrite lost its lease {space.lease_key} "
                f"(now held by {holder or 'no run'}): another run took the stream over, or "
                "the lease expired while this run was stopped; it did not finish, and "
                "removed nothing."
            )
            raise TargetRedisError(msg)
        counter = writer.counter(space.key)  # before a single key replaces it
        if self.scheme.grouped:  # each collection this run wrote, built aside
            for chunk in writer.set_chunks(self.owner.written_key):
                for key in chunk:
                    writer.swap_in(aside_key(key), key, self.cache.ttl_seconds, self.fence)
                    if key in self._latest:  # the latest of its records' own expiries
                        writer.run([("PEXPIREAT", key, str(self._latest[key]))], fence=self.fence)
        elif not self.scheme.per_record:
            final = t.cast("SingleKey", self.scheme).final_key()
            swapped = writer.swap_in(
                self.collection_key(), final, self.cache.ttl_seconds, self.fence
            )
            self.setup.logger.info(
                "Stream '%s': overwrite %s.", self.stream, "swapped in" if swapped else "emptied it"
            )
        if self.held is not None and self.held.keys == IndexedGroups.name:
            writer.remove([space.members_key], self.fence)  # upsert's member index
        if self._drop_single_key:  # no record this run, or groups: the old single key goes
            writer.remove([self._old_single_key()], self.fence)
        removed = 0
        for indexed, chunk in self.owned_chunks(counter=counter):
            stale = self._stale(chunk)
            removed += writer.remove(stale, self.fence)
            if indexed:
                writer.run(self.owner.forget(stale), fence=self.fence)
        manifest = dataclasses.replace(self.planned(), mixed_with="")
        issued: list[Command] = []
        if counter is not None and self.scheme.per_record:
            issued = [("HSET", space.manifest_key, ISSUED, str(counter))]
        writer.run(
            [
                *self.manifest_commands(manifest),
                *self.cache.expire(space.manifest_key),
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


def warn_incremental(loads: t.Iterable[LoadMethod], state: t.Any) -> None:
    """Warn once about each overwrite stream whose STATE bookmark looks incremental."""
    bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
    if not isinstance(bookmarks, dict):
        return
    for load in loads:
        mark = bookmarks.get(load.stream)
        if isinstance(load, Overwrite) and isinstance(mark, dict):
            keys = INCREMENTAL_BOOKMARKS.intersection(mark)
            if keys:
                load.warn_incremental(f"its STATE bookmark has {sorted(keys)[0]}")
