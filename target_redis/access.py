"""Start-up check that the connected user may run every command the load needs."""

from __future__ import annotations

import contextlib
import typing as t

import redis
import redis.exceptions

from target_redis.cache_types import RecordType
from target_redis.errors import TargetRedisError
from target_redis.keys import escape_glob, side_key

if t.TYPE_CHECKING:
    from target_redis.cache_types import CacheType
    from target_redis.load_method import LoadMethod
    from target_redis.rows import Command
    from target_redis.server import ServerInfo

PROBE_STREAM = "__target_redis_check__"
PROBE_TTL_SECONDS = 60


def probe_keys(namespace: str, cache: CacheType, load_method: type[LoadMethod]) -> tuple[str, ...]:
    """The keys the check writes in place of the stream's counter, a record (for a
    single-key overwrite, the temporary key) and the manifest. They are side keys
    (``N:{N:__target_redis_check__}:...``): under the namespace prefix, as the load's
    keys are (key-pattern ACLs), in one cluster slot, and in no stream's key space."""
    aside = cache.single_key and load_method.replaces_key_space
    record = "tmp" if aside else "record"
    return tuple(
        side_key(namespace, PROBE_STREAM, f"check-{kind}")
        for kind in ("counter", record, "manifest", "lease")
    )


def needed_commands(
    cache: CacheType,
    load_method: type[LoadMethod],
    delete_command: str,
    keys: tuple[str, ...],
    *,
    replaces: bool = False,
    merge: bool = False,
    grouped: bool = False,
) -> list[Command]:
    """The commands (on the probe keys) that a load with this cache type and method runs
    (``replaces``: records are replaced in place in MULTI/EXEC; ``merge``: JSON.MERGE
    for JSON documents)."""
    counter, record, manifest_key, lease = keys
    overwrite = load_method.replaces_key_space
    manifest = (cache.hash_set, manifest_key, "cache_type", "x")
    if not isinstance(cache, RecordType):
        key = record if overwrite or grouped else counter  # the temp key, or a group's
        commands: list[Command] = [*cache.probe_commands(key), manifest]
        if overwrite:
            commands += [("EXISTS", record), ("RENAME", record, counter), ("PERSIST", counter)]
    else:
        commands = [("INCRBY", counter, "1"), *cache.probe_commands(record), manifest]
        if overwrite:
            commands += [
                ("TYPE", counter),
                ("SCAN", "0", "MATCH", escape_glob(record), "COUNT", "10"),
            ]
        if load_method.reads_back:
            commands.append(cache.read_command(record))
        if replaces:  # on the probe record, which exists: DEL comes last
            commands.append(("HDEL", record, "x"))
        if merge and cache.module_command:
            commands.append(("JSON.MERGE", record, "$", "{}"))
    if overwrite:  # the lease: one overwrite of a stream at a time
        commands += [("SET", lease, "check", "NX", "EX", "60"), ("TTL", lease)]
    if cache.ttl_seconds or overwrite:
        commands.append(("EXPIRE", record, "60"))
    if cache.per_record_expiry:  # expire_at_field / ttl_field
        commands += [("PEXPIREAT", record, "4102444800000"), ("PERSIST", record)]
    if load_method.reads_back:
        commands.append((delete_command, record))
    if replaces:
        commands.append(("DEL", record))
    return commands


def check_module(
    client: redis.Redis | redis.RedisCluster, cache: CacheType, where: str, probe_key: str
) -> None:
    """Refuse a cache type whose module command the server lacks (e.g. RedisJSON)."""
    command = cache.module_command
    if command is None:
        return
    read = command.split(".")[0] + ".GET"  # harmless on a missing key
    try:
        client.execute_command(read, probe_key)
    except redis.RedisError as exc:
        # A server says "unknown command"; redis-py's cluster client, which routes by
        # the servers' COMMAND table, says the command "doesn't exist".
        if any(words in str(exc).lower() for words in ("unknown command", "doesn't exist")):
            msg = (
                f"Setting 'cache_type: {cache.name}' needs the {command} command "
                f"(the RedisJSON module), which Redis at {where} does not have."
            )
            raise TargetRedisError(msg) from None


def check_write_access(
    client: redis.Redis | redis.RedisCluster,
    server: ServerInfo,
    *,
    username: str | None,
    namespace: str,
    cache: CacheType,
    load_method: type[LoadMethod],
    delete_command: str,
    where: str,
    record_key: str | None = None,
    replaces: bool = False,
    merge: bool = False,
) -> str:
    """Raise TargetRedisError naming the first command the user may not run.

    Uses ``ACL DRYRUN`` (Redis 7+) when the user may run it; otherwise runs the
    commands on probe keys under the namespace (a record's under ``record_key`` when
    a key template puts records elsewhere) and removes them. Returns how it checked,
    for the log.
    """
    keys = probe_keys(namespace, cache, load_method)
    if record_key is not None:
        keys = (keys[0], record_key, *keys[2:])
    check_module(client, cache, where, keys[1])
    commands = needed_commands(
        cache,
        load_method,
        delete_command,
        keys,
        replaces=replaces,
        merge=merge,
        grouped=cache.single_key and record_key is not None,
    )
    if server.fakeredis and cache.module_command:
        # fakeredis cannot delete a JSON document: do not leave a probe one behind.
        commands = [c for c in commands if c[0] != cache.module_command]
    transaction = (
        cache.transactional or replaces or (cache.single_key and load_method.replaces_key_space)
    )
    who = f"user '{username}'" if username else "the default user"
    if server.version >= (7, 0) and not server.fakeredis:  # its ACL DRYRUN breaks the link
        try:
            for command in [*commands, *([("MULTI",), ("EXEC",)] if transaction else [])]:
                reply = client.execute_command("ACL", "DRYRUN", username or "default", *command)
                if reply not in ("OK", b"OK"):
                    _refuse(str(command[0]), who, where, str(reply))
            # Permissions are fine; one real write still catches a read-only
            # replica or a server that is out of memory.
            _probe(client, [commands[0]], transaction, delete_command, keys, who, where)
            return "ACL DRYRUN"
        except redis.exceptions.NoPermissionError:
            pass  # may not run ACL itself: probe instead
        except redis.ResponseError as exc:
            if "DRYRUN" not in str(exc).upper() and "unknown" not in str(exc).lower():
                raise
    _probe(client, commands, transaction, delete_command, keys, who, where)
    return "probe keys"


def _probe(
    client: redis.Redis | redis.RedisCluster,
    commands: list[Command],
    transaction: bool,
    delete_command: str,
    keys: tuple[str, ...],
    who: str,
    where: str,
) -> None:
    """Run the commands for real on the probe keys (the first in MULTI/EXEC when the
    load uses transactions), then remove the keys."""
    try:
        for index, command in enumerate(commands):
            try:
                if transaction and index == 0:
                    with client.pipeline(transaction=True) as pipe:
                        pipe.execute_command(*command)
                        pipe.execute()
                else:
                    client.execute_command(*command)
            except redis.exceptions.ReadOnlyError:
                msg = f"Redis at {where} is a read-only replica; point the target at the primary."
                raise TargetRedisError(msg) from None
            except redis.exceptions.OutOfMemoryError as exc:
                msg = f"Redis at {where} is out of memory (maxmemory with noeviction): {exc}"
                raise TargetRedisError(msg) from None
            except redis.ResponseError as exc:
                name = "MULTI" if transaction and "'multi'" in str(exc).lower() else command[0]
                _refuse(str(name), who, where, str(exc))
    finally:
        for key in keys:
            # Expire first: a user who may not delete keys still leaves nothing for long.
            with contextlib.suppress(redis.RedisError):
                client.execute_command("EXPIRE", key, str(PROBE_TTL_SECONDS))
            with contextlib.suppress(redis.RedisError):
                client.execute_command(delete_command, key)


SEARCH_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("FT.CREATE", "x", "SCHEMA", "a", "TEXT"),
    ("FT.ALTER", "x", "SCHEMA", "ADD", "a", "TEXT"),
    ("FT.DROPINDEX", "x"),
)
"""What ``search_index`` runs besides ``FT._LIST`` (as ACL DRYRUN checks them)."""


def check_search_commands(
    client: redis.Redis | redis.RedisCluster,
    server: ServerInfo,
    *,
    username: str | None,
    where: str,
) -> None:
    """Refuse a server without the search module, or a user who may not run its
    commands (ACL DRYRUN, where the user may run it)."""
    who = f"user '{username}'" if username else "the default user"
    try:
        client.execute_command("FT._LIST")
    except redis.exceptions.NoPermissionError as exc:
        _refuse_search("FT._LIST", who, where, str(exc))
    except redis.ResponseError as exc:
        if any(words in str(exc).lower() for words in ("unknown command", "doesn't exist")):
            msg = (
                "Setting 'search_index' needs the search module (RediSearch: FT.CREATE), "
                f"which {server.label} at {where} does not have; use Redis Stack, Redis 8, "
                "or set search_index's 'create: false'."
            )
            raise TargetRedisError(msg) from None
        raise
    if server.version < (7, 0) or server.fakeredis:
        return
    for command in SEARCH_COMMANDS:
        try:
            reply = client.execute_command("ACL", "DRYRUN", username or "default", *command)
        except redis.ResponseError:
            return  # may not run ACL itself: the commands will say
        if reply not in ("OK", b"OK"):
            _refuse_search(command[0], who, where, str(reply))


def _refuse_search(command: str, who: str, where: str, detail: str) -> t.NoReturn:
    msg = (
        f"Redis at {where}: {who} may not run {command}, which search_index needs "
        f"({' '.join(detail.split())})."
    )
    raise TargetRedisError(msg)


def _refuse(command: str, who: str, where: str, detail: str) -> t.NoReturn:
    msg = (
        f"Redis at {where}: {who} may not run {command} on the namespace's keys, which "
        f"this load needs ({' '.join(detail.split())})."
    )
    raise TargetRedisError(msg)
