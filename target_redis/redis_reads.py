"""The target's reads from Redis (stored records, stream facts, key scans and
membership), each retried on transient failures after every pending write settled.
``Writer`` (writer.py) has them."""

from __future__ import annotations

import functools
import typing as t

import redis

from target_redis.errors import REDIS_ERRORS, TargetRedisError, explain_redis_error
from target_redis.lease import Lease, Leases
from target_redis.rows import DELETED_AT, decode_json

if t.TYPE_CHECKING:
    from target_redis.cache_types import RecordType
    from target_redis.server import ServerInfo

_T = t.TypeVar("_T")
ISSUED = "issued"
"""The manifest field counting the ids target-redis took from the stream's counter."""
_SCAN_COUNT = 1000


class StreamFacts(t.NamedTuple):
    """What a stream's start reads: its manifest fields, the TYPE of ``N:S`` (and its
    integer value, for a counter), the ids target-redis issued (the manifest's field
    ``issued``), the live lease, the streams whose names extend its name."""

    manifest: dict[str, str]
    key_type: str
    counter: int | None
    issued: int | None
    lease: Lease | None
    extended_by: set[str]


def _int(value: t.Any) -> int | None:
    text = str(value) if value is not None else ""
    return int(text) if text.lstrip("-").isdigit() else None


def _chunked(items: t.Iterable[str]) -> t.Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= _SCAN_COUNT:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Reads:
    """Reads of the writer's client (``_call``: after settling, with retries)."""

    client: redis.Redis | redis.RedisCluster
    server: ServerInfo
    leases: Leases

    def _call(self, what: str, operation: t.Callable[[], _T]) -> _T:
        raise NotImplementedError

    def call(self, what: str, *command: str) -> t.Any:
        """One command's reply (after settling, with retries); TargetRedisError saying
        ``what`` failed when Redis refuses it."""
        try:
            return self._call(what, lambda: self.client.execute_command(*command))
        except REDIS_ERRORS as exc:
            raise TargetRedisError(f"{what}: {explain_redis_error(exc)}") from exc

    def read_values(self, keys: t.Sequence[str], cache: RecordType) -> list[str | None]:
        """The stored record JSON at each key (per-record cache types), in one pipeline."""

        def read() -> list[str | None]:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.execute_command(*cache.read_command(key))
                return [cache.stored_text(reply) for reply in pipe.execute()]

        return self._call("reading stored records", read)

    def read_versions(
        self, keys: t.Sequence[str], cache: RecordType, *, whole: bool
    ) -> list[t.Any]:
        """The stored records at ``keys`` (``whole``: their JSON decoded; else a hash's
        ``_sdc_table_version`` as a number and ``_sdc_deleted_at``)."""
        if not whole:
            return self._version_fields(keys)
        stored = self.read_values(keys, cache)
        return [decode_json(text) if isinstance(text, str) else text or {} for text in stored]

    def _version_fields(self, keys: t.Sequence[str]) -> list[dict[str, t.Any]]:
        """Each hash's ``_sdc_table_version`` (as a number) and ``_sdc_deleted_at``."""

        def read() -> list[dict[str, t.Any]]:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(key, "_sdc_table_version", DELETED_AT)
                found = []
                for version, deleted in pipe.execute():
                    number = int(version) if version and version.lstrip("-").isdigit() else None
                    found.append({"_sdc_table_version": number, DELETED_AT: deleted})
                return found

        return self._call("reading record versions", read)

    def read_stream(
        self, manifest_key: str, stream_key: str, lease_key: str, extended_key: str
    ) -> StreamFacts:
        """A stream's manifest fields, the type of its key ``N:S`` (and its value, for a
        STRING), which live run holds its overwrite lease, and the SET of the streams
        whose names extend its name (one slot)."""

        def read() -> StreamFacts:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.hgetall(manifest_key)
                pipe.type(stream_key)
                pipe.get(lease_key)
                pipe.ttl(lease_key)
                pipe.smembers(extended_key)
                fields, kind, holder, ttl, extended = pipe.execute()
            counter = self.client.get(stream_key) if kind == "string" else None
            lease = None
            if holder is not None and self.leases.holder_alive(lease_key, str(holder)):
                lease = Lease(str(holder).split(" ")[0], int(ttl))
            fields = dict(fields or {})
            issued = _int(fields.pop(ISSUED, None))
            return StreamFacts(fields, str(kind), _int(counter), issued, lease, set(extended or ()))

        return self._call(f"reading {manifest_key}", read)

    def counter(self, key: str) -> int | None:
        """The integer a counter key holds (None: no such key, or not an integer)."""

        def read() -> t.Any:
            try:
                return self.client.get(key)
            except redis.ResponseError:  # WRONGTYPE: a single key, not a counter
                return None

        return _int(self._call(f"reading {key}", read))

    def scan_chunks(self, pattern: str) -> t.Iterator[list[str]]:
        """The keys matching ``pattern`` (SCAN, every primary of a cluster), a chunk at a
        time: memory stays flat however many there are."""
        if not isinstance(self.client, redis.Redis):  # a cursor per node: redis-py's
            return _chunked(self.client.scan_iter(match=pattern, count=_SCAN_COUNT))
        client = self.client
        return _chunked(
            self._cursor(f"scanning {pattern}", lambda c: client.scan(c, pattern, _SCAN_COUNT))
        )

    def set_chunks(self, key: str) -> t.Iterator[list[str]]:
        """The members of the SET ``key`` (SSCAN), a chunk at a time."""
        client = self.client
        return _chunked(
            self._cursor(f"reading {key}", lambda c: client.sscan(key, c, count=_SCAN_COUNT))
        )

    def _cursor(
        self, what: str, step: t.Callable[[int], tuple[int, t.Sequence[t.Any]]]
    ) -> t.Iterator[str]:
        """What a SCAN-like command returns, each call retried from its own cursor
        (reading again is harmless)."""
        cursor = 0
        while True:
            cursor, items = self._call(what, functools.partial(step, cursor))
            yield from items
            if not int(cursor):
                return

    def members(self, key: str, candidates: t.Sequence[str]) -> list[bool]:
        """Whether each of ``candidates`` is a member of the SET ``key``."""

        def read() -> list[bool]:
            with self.client.pipeline(transaction=False) as pipe:
                for candidate in candidates:
                    pipe.sismember(key, candidate)
                return [bool(n) for n in pipe.execute()]

        return self._call(f"reading {key}", read) if candidates else []

    def scan(self, pattern: str) -> list[str]:
        """Every key matching ``pattern`` (SCAN, never KEYS; every primary of a cluster)."""
        return self._call(
            f"scanning {pattern}",
            lambda: list(self.client.scan_iter(match=pattern, count=_SCAN_COUNT)),
        )

    def types_and_values(self, keys: t.Sequence[str]) -> list[tuple[str, str | None]]:
        """Each key's TYPE and, for a STRING, its value."""

        def read() -> list[tuple[str, str | None]]:
            found: list[tuple[str, str | None]] = []
            for start in range(0, len(keys), _SCAN_COUNT):
                chunk = keys[start : start + _SCAN_COUNT]
                kinds = self._types(chunk)
                strings = [key for key, kind in zip(chunk, kinds, strict=True) if kind == "string"]
                with self.client.pipeline(transaction=False) as pipe:
                    for key in strings:
                        pipe.get(key)
                    values = dict(zip(strings, pipe.execute(), strict=True))
                found += [(kind, values.get(key)) for key, kind in zip(chunk, kinds, strict=True)]
            return found

        return self._call("reading key types", read)

    def _types(self, keys: t.Sequence[str]) -> list[str]:
        json_keys: set[str] = set()
        if self.server.fakeredis:  # its TYPE of a JSON key drops the connection
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.execute_command("JSON.TYPE", key)
                answers = pipe.execute(raise_on_error=False)
            json_keys = {
                key for key, answer in zip(keys, answers, strict=True) if answer == ["object"]
            }
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                if key not in json_keys:
                    pipe.type(key)
            kinds = iter(pipe.execute())
        return ["ReJSON-RL" if key in json_keys else str(next(kinds)) for key in keys]

    def exist_each(self, keys: t.Sequence[str]) -> list[bool]:
        """Whether each key exists."""

        def read() -> list[bool]:
            with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.exists(key)
                return [bool(n) for n in pipe.execute()]

        return self._call("checking keys", read) if keys else []
