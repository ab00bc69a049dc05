"""The Redis data types a stream can be written as (the ``cache_type`` setting).

Pure: what each type supports and the commands that write rows in it. Per-record
types (hash, string, json) put each record at ``N:S:<id>`` (or ``N:S:<key>`` under
upsert); single-key types (set, list, stream) keep the whole stream in ``N:S``.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import typing as t
import uuid

from redis.crc import key_slot

from target_redis.errors import TargetRedisError
from target_redis.keys import stream_key
from target_redis.layouts import AB_ID, DATA, EMITTED_AT, Command, Row, encode_data

if t.TYPE_CHECKING:
    from target_redis.connection import ServerInfo

APPEND, OVERWRITE, UPSERT = "append-only", "overwrite", "upsert"
_MEMBERS_PER_COMMAND = 1000


@dataclasses.dataclass(frozen=True)
class CacheType:
    """What one ``cache_type`` is and supports."""

    name: str
    single_key: bool
    load_methods: tuple[str, ...]
    redis_type: str
    """What Redis TYPE reports for its keys (used to filter SCANs)."""
    transactional: bool = False
    """Chunks run in MULTI/EXEC (non-idempotent pushes: a chunk lands whole or not)."""
    module_command: str | None = None
    """A command the server must have (a module)."""


CACHE_TYPES = {
    "hash": CacheType("hash", False, (APPEND, OVERWRITE, UPSERT), "hash"),
    "string": CacheType("string", False, (APPEND, OVERWRITE, UPSERT), "string"),
    "json": CacheType(
        "json", False, (APPEND, OVERWRITE, UPSERT), "ReJSON-RL", module_command="JSON.SET"
    ),
    "set": CacheType("set", True, (APPEND, OVERWRITE), "set"),
    "list": CacheType("list", True, (APPEND, OVERWRITE), "list", transactional=True),
    "stream": CacheType("stream", True, (APPEND, OVERWRITE), "stream", transactional=True),
}


@dataclasses.dataclass(frozen=True)
class Layout:
    """How rows become commands: the cache type and the settings that shape it."""

    cache: CacheType
    ttl_seconds: int = 0
    stream_maxlen: int = 0
    hash_set: str = "HSET"  # HMSET before Redis 4.0
    keep_ttl: bool = True  # SET ... KEEPTTL exists from Redis 6.0

    def for_server(self, server: ServerInfo) -> Layout:
        """This layout with the commands the server has."""
        return dataclasses.replace(
            self,
            hash_set="HSET" if server.has_multi_field_hset else "HMSET",
            keep_ttl=server.has_keepttl,
        )

    def record_commands(self, key: str, ab_id: int, row: Row) -> list[Command]:
        """Commands writing one record at its own key (per-record types)."""
        name = self.cache.name
        if name == "hash":
            command: Command = (
                self.hash_set,
                key,
                AB_ID,
                str(ab_id),
                EMITTED_AT,
                str(row.emitted_at),
                DATA,
                row.text,
            )
        elif name == "string":
            command = ("SET", key, row.text)
            if self.ttl_seconds:
                return [(*command, "EX", str(self.ttl_seconds))]
        else:
            command = ("JSON.SET", key, "$", row.text)
        return [command, *self.expire(key)]

    def single_key_commands(self, key: str, rows: t.Sequence[Row]) -> list[Command]:
        """Commands adding rows, in order, to a single-key stream."""
        name = self.cache.name
        commands: list[Command] = []
        if name in ("set", "list"):
            verb = "SADD" if name == "set" else "RPUSH"
            for start in range(0, len(rows), _MEMBERS_PER_COMMAND):
                chunk = rows[start : start + _MEMBERS_PER_COMMAND]
                commands.append((verb, key, *(row.text for row in chunk)))
        else:
            trim = ("MAXLEN", "~", str(self.stream_maxlen)) if self.stream_maxlen else ()
            for row in rows:
                commands.append(
                    (
                        "XADD",
                        key,
                        *trim,
                        "*",
                        AB_ID,
                        str(uuid.uuid4()),
                        EMITTED_AT,
                        str(row.emitted_at),
                        DATA,
                        row.text,
                    )
                )
        return [*commands, *self.expire(key)] if commands else []

    def read_command(self, key: str) -> Command:
        """Command reading a stored record's JSON (per-record types)."""
        name = self.cache.name
        if name == "hash":
            return ("HGET", key, DATA)
        if name == "string":
            return ("GET", key)
        return ("JSON.GET", key, "$")

    def stored_text(self, reply: str | None) -> str | None:
        """The record JSON from ``read_command``'s reply (JSON.GET with a path
        answers a one-element array)."""
        if self.cache.name != "json" or not reply:
            return reply
        items = json.loads(reply, parse_float=decimal.Decimal)
        return encode_data(items[0]) if items else None

    def rewrite_commands(self, key: str, text: str) -> list[Command]:
        """Replace a stored record's JSON in place, keeping its other fields and TTL
        (a string on a server without KEEPTTL gets ``ttl_seconds`` again)."""
        name = self.cache.name
        if name == "hash":
            return [("HSET", key, DATA, text)]
        if name == "string":
            if self.keep_ttl:
                return [("SET", key, text, "KEEPTTL")]
            return [("SET", key, text), *self.expire(key)]
        return [("JSON.SET", key, "$", text)]

    def expire(self, key: str) -> list[Command]:
        """EXPIRE for ``key`` when ``ttl_seconds`` is set (a rewrite refreshes it)."""
        return [("EXPIRE", key, str(self.ttl_seconds))] if self.ttl_seconds else []


def temp_key_for(namespace: str, stream: str, run_id: str) -> str:
    """Where a single-key overwrite of ``N:S`` is built: a key in the same cluster slot
    (so RENAME can swap it in), under the namespace prefix ``N:`` (so key-pattern ACLs
    that allow the namespace allow it) and outside the stream's ``N:S:`` records."""
    key = stream_key(namespace, stream)
    tag = hash_tag(key) or key
    suffix = f"target-redis-tmp:{run_id}:{stream}"
    for candidate in (f"{namespace}:{{{tag}}}:{suffix}", f"{{{tag}}}:{suffix}"):
        if key_slot(candidate.encode()) == key_slot(key.encode()):
            return candidate
    return f"{key}.{suffix}"  # no same-slot name exists (a '}' in the name)


def hash_tag(key: str) -> str | None:
    """The part of ``key`` that Redis Cluster hashes, when it is not the whole key."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if start >= 0 and end > start + 1 else None


def layout_from(config: t.Mapping[str, t.Any]) -> Layout:
    """The Layout the settings ask for; an unsupported load method is refused."""
    name = str(config.get("cache_type") or "hash")
    cache = CACHE_TYPES[name]
    method = str(config.get("load_method") or APPEND)
    if method not in cache.load_methods:
        why = " (records have no key of their own)" if cache.single_key else ""
        msg = (
            f"Setting 'load_method: {method}' does not apply to 'cache_type: {name}'{why}; "
            f"it supports {', '.join(cache.load_methods)}."
        )
        raise TargetRedisError(msg)
    return Layout(cache, int(config.get("ttl_seconds") or 0), int(config.get("stream_maxlen") or 0))
