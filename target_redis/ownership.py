"""Which keys a stream owns: decided by what it wrote, kept in Redis, never by key shape.

- Keys by primary key or key template: the SET ``N:{N:S}:target-redis-keys:S`` (the
  key index) holds every record key the stream wrote. Each batch adds its keys in the
  pipeline that writes them, ahead of them (a key is claimed before it is written: a
  lost reply leaves at worst a member whose key does not exist); a delete removes the
  member with the key. About 50 bytes of Redis memory per key plus the key's length;
  in the slot of ``N:S`` (one node of a cluster).
- Ids: ``N:S:<n>`` for n up to the counter ``N:S`` (the counter records the ids handed
  out), except keys of other streams whose names extend this one (keyspace.py).
- An overwrite adds the keys it writes to a second SET, ``N:{N:S}:target-redis-written:
  <run>:S``; at its end, every member of the index and every id key not written by the
  run is removed, a chunk at a time (the target's memory stays flat). That SET expires
  a day after the run's last batch, should the run die.
- Key spaces written before 0.3 have no index: per-record keys under ``N:S:`` that no
  other stream claims are adopted (as 0.2 decided); keys of a 0.2 key template are not
  (their shape is all there is, and other writers' keys share it).
"""

from __future__ import annotations

import typing as t

from target_redis.keys import parse_id_suffix

if t.TYPE_CHECKING:
    from target_redis.keyspace import KeySpace
    from target_redis.rows import Command
    from target_redis.writer import Writer

WRITTEN_KEY_SECONDS = 86_400
"""An overwrite's SET of written keys outlives a run that died by a day."""


def claim(index_key: str, keys: t.Sequence[str], run_key: str | None = None) -> list[Command]:
    """Commands recording ``keys`` as the stream's (``run_key``: and as this overwrite
    run's), sent ahead of the commands writing them."""
    if not keys:
        return []
    commands: list[Command] = [("SADD", index_key, *keys)]
    if run_key is not None:
        commands += [("SADD", run_key, *keys), ("EXPIRE", run_key, str(WRITTEN_KEY_SECONDS))]
    return commands


def forget(index_key: str, keys: t.Sequence[str]) -> list[Command]:
    """Commands dropping ``keys`` from the record (they are being deleted)."""
    return [("SREM", index_key, *keys)] if keys else []


class Ownership:
    """The record of one stream's keys."""

    def __init__(self, space: KeySpace, writer: Writer, run_id: str) -> None:
        """Nothing is read until asked."""
        self.space = space
        self.writer = writer
        self.written_key = space.written_key(run_id)

    def forget(self, keys: t.Sequence[str]) -> list[Command]:
        """Commands dropping ``keys`` from the record (they are being deleted)."""
        return forget(self.space.index_key, keys)

    def owned(self, keys: t.Sequence[str]) -> list[str]:
        """Those of ``keys`` the stream wrote (by primary key or template)."""
        found = self.writer.members(self.space.index_key, keys)
        return [key for key, mine in zip(keys, found, strict=True) if mine]

    def written_by_run(self, keys: t.Sequence[str]) -> list[bool]:
        """Whether this overwrite run wrote each of ``keys``."""
        return self.writer.members(self.written_key, keys)

    def chunks(
        self, *, ids: bool, legacy: bool, counter: int | None, redis_type: str | None = None
    ) -> t.Iterator[tuple[bool, list[str]]]:
        """The stream's record keys, a chunk at a time, each with whether it comes from
        the key index: the index's members, then (with ``ids``) its id keys up to
        ``counter``, or (``legacy``: a key space written before 0.3) every per-record key
        under ``N:S:`` that no other stream claims. With ``redis_type``, only keys of that
        type. Without a counter (it was replaced by a single key, or expired) every id
        key is the stream's."""
        for chunk in self.writer.set_chunks(self.space.index_key):
            if redis_type is not None:
                kinds = self.writer.types_and_values(chunk)
                chunk = [k for k, (kind, _) in zip(chunk, kinds, strict=True) if kind == redis_type]
            if chunk:
                yield True, chunk
        if not ids and not legacy:
            return
        for chunk in self.writer.scan_chunks(self.space.pattern):
            if not legacy:
                chunk = [key for key in chunk if self._is_id(key, counter)]
            own = self.space.own_records(chunk, self.writer, redis_type) if chunk else []
            if own:
                yield False, own

    def _is_id(self, key: str, counter: int | None) -> bool:
        number = parse_id_suffix(key, self.space.key)
        return number is not None and 0 < number <= (number if counter is None else counter)

    def adopt(self) -> int:
        """Record the per-record keys under ``N:S:`` that no other stream claims (a
        primary-key stream written before 0.3); how many."""
        adopted = 0
        for _, chunk in self.chunks(ids=False, legacy=True, counter=None):
            self.writer.run(claim(self.space.index_key, chunk))
            adopted += len(chunk)
        return adopted

    def drop_run(self) -> list[Command]:
        """Commands removing the overwrite run's SET of written keys."""
        return [("DEL", self.written_key)]
