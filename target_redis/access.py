"""Start-up check that the connected user may run every command the load needs."""

from __future__ import annotations

import contextlib
import typing as t

import redis
import redis.exceptions

from target_redis.cache_types import temp_key_for
from target_redis.errors import TargetRedisError
from target_redis.keys import escape_glob, stream_key

if t.TYPE_CHECKING:
    from target_redis.cache_types import Layout
    from target_redis.connection import ServerInfo

PROBE_STREAM = "__target_redis_check__"


def probe_keys(namespace: str, layout: Layout, load_method: str) -> tuple[str, str]:
    """The two keys the check writes, as the load would: the stream's counter and a
    record; for a single-key overwrite, the stream key and the temporary key it is
    built in (same cluster slot)."""
    counter = stream_key(namespace, PROBE_STREAM)
    if layout.cache.single_key and load_method == "overwrite":
        return counter, temp_key_for(namespace, PROBE_STREAM, "check")
    return counter, f"{counter}:1"


def needed_commands(
    layout: Layout, load_method: str, delete_command: str, counter: str, record: str
) -> list[tuple[str, ...]]:
    """The commands (on the probe keys) that a load with this layout and method runs."""
    cache = layout.cache
    if cache.single_key:
        key = record if load_method == "overwrite" else counter  # record: the temp key
        add = {
            "set": ("SADD", key, "{}"),
            "list": ("RPUSH", key, "{}"),
            "stream": ("XADD", key, "*", "_airbyte_data", "{}"),
        }[cache.name]
        commands: list[tuple[str, ...]] = [add]
        if load_method == "overwrite":
            commands += [("EXISTS", record), ("RENAME", record, counter), ("PERSIST", counter)]
    else:
        write = {
            "hash": (layout.hash_set, record, "_airbyte_ab_id", "1"),
            "string": ("SET", record, "{}"),
            "json": ("JSON.SET", record, "$", "{}"),
        }[cache.name]
        commands = [("INCRBY", counter, "1"), write]
        if load_method == "overwrite":
            commands += [
                ("GET", counter),
                ("SCAN", "0", "MATCH", escape_glob(record), "COUNT", "10"),
            ]
        if load_method == "upsert":
            commands.append(layout.read_command(record))
    if layout.ttl_seconds:
        commands.append(("EXPIRE", record, "60"))
    if load_method in ("overwrite", "upsert"):
        commands.append((delete_command, record))
    return commands


def check_module(
    client: redis.Redis | redis.RedisCluster, layout: Layout, where: str, probe_key: str
) -> None:
    """Refuse a cache type whose module command the server lacks (e.g. RedisJSON)."""
    command = layout.cache.module_command
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
                f"Setting 'cache_type: {layout.cache.name}' needs the {command} command "
                f"(the RedisJSON module), which Redis at {where} does not have."
            )
            raise TargetRedisError(msg) from None


def check_write_access(
    client: redis.Redis | redis.RedisCluster,
    server: ServerInfo,
    *,
    username: str | None,
    namespace: str,
    layout: Layout,
    load_method: str,
    delete_command: str,
    where: str,
) -> str:
    """Raise TargetRedisError naming the first command the user may not run.

    Uses ``ACL DRYRUN`` (Redis 7+) when the user may run it; otherwise runs the
    commands on probe keys under the namespace and removes them. Returns how it
    checked, for the log.
    """
    counter, record = probe_keys(namespace, layout, load_method)
    check_module(client, layout, where, record)
    commands = needed_commands(layout, load_method, delete_command, counter, record)
    transaction = layout.cache.transactional or (
        layout.cache.single_key and load_method == "overwrite"
    )
    who = f"user '{username}'" if username else "the default user"
    if server.version >= (7, 0):
        try:
            for command in [*commands, *([("MULTI",), ("EXEC",)] if transaction else [])]:
                reply = client.execute_command("ACL", "DRYRUN", username or "default", *command)
                if reply not in ("OK", b"OK"):
                    _refuse(command[0], who, where, str(reply))
            # Permissions are fine; one real write still catches a read-only
            # replica or a server that is out of memory.
            _probe(
                client, [commands[0]], transaction, delete_command, (counter, record), who, where
            )
            return "ACL DRYRUN"
        except redis.exceptions.NoPermissionError:
            pass  # may not run ACL itself: probe instead
        except redis.ResponseError as exc:
            if "DRYRUN" not in str(exc).upper() and "unknown" not in str(exc).lower():
                raise
    _probe(client, commands, transaction, delete_command, (counter, record), who, where)
    return "probe keys"


def _probe(
    client: redis.Redis | redis.RedisCluster,
    commands: list[tuple[str, ...]],
    transaction: bool,
    delete_command: str,
    keys: tuple[str, str],
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
                _refuse(name, who, where, str(exc))
    finally:
        with contextlib.suppress(redis.RedisError):
            for key in keys:  # one at a time: a cluster may hold them apart
                client.execute_command(delete_command, key)


def _refuse(command: str, who: str, where: str, detail: str) -> t.NoReturn:
    msg = (
        f"Redis at {where}: {who} may not run {command} on the namespace's keys, which "
        f"this load needs ({' '.join(detail.split())})."
    )
    raise TargetRedisError(msg)
