"""Start-up check that the connected user may run every command the load needs."""

from __future__ import annotations

import contextlib
import typing as t

import redis
import redis.exceptions

from target_redis.errors import TargetRedisError
from target_redis.keys import escape_glob, stream_key

if t.TYPE_CHECKING:
    from target_redis.cache_types import Layout
    from target_redis.connection import ServerInfo

PROBE_STREAM = "__target_redis_check__"


def needed_commands(
    layout: Layout, load_method: str, delete_command: str, counter: str, record: str
) -> list[tuple[str, ...]]:
    """The commands (on probe keys) that a load with this layout and method runs."""
    cache = layout.cache
    if cache.single_key:
        add = {
            "set": ("SADD", counter, "{}"),
            "list": ("RPUSH", counter, "{}"),
            "stream": ("XADD", counter, "*", "_airbyte_data", "{}"),
        }[cache.name]
        commands: list[tuple[str, ...]] = [add]
        if load_method == "overwrite":
            commands += [("EXISTS", counter), ("RENAME", counter, record), ("PERSIST", record)]
    else:
        write = {
            "hash": ("HSET", record, "_airbyte_ab_id", "1"),
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


def check_module(client: redis.Redis, layout: Layout, where: str, probe_key: str) -> None:
    """Refuse a cache type whose module command the server lacks (e.g. RedisJSON)."""
    command = layout.cache.module_command
    if command is None:
        return
    read = command.split(".")[0] + ".GET"  # harmless on a missing key
    try:
        client.execute_command(read, probe_key)
    except redis.ResponseError as exc:
        if "unknown command" in str(exc).lower():
            msg = (
                f"Setting 'cache_type: {layout.cache.name}' needs the {command} command "
                f"(the RedisJSON module), which Redis at {where} does not have."
            )
            raise TargetRedisError(msg) from None


def check_write_access(
    client: redis.Redis,
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
    counter = stream_key(namespace, PROBE_STREAM)
    record = f"{counter}:1"
    check_module(client, layout, where, record)
    commands = needed_commands(layout, load_method, delete_command, counter, record)
    who = f"user '{username}'" if username else "the default user"
    if server.version >= (7, 0):
        try:
            for command in commands:
                reply = client.execute_command("ACL", "DRYRUN", username or "default", *command)
                if reply not in ("OK", b"OK"):
                    _refuse(command[0], who, where, str(reply))
            # Permissions are fine; one real write still catches a read-only
            # replica or a server that is out of memory.
            _probe(client, [commands[0]], delete_command, counter, record, who, where)
            return "ACL DRYRUN"
        except redis.exceptions.NoPermissionError:
            pass  # may not run ACL itself: probe instead
        except redis.ResponseError as exc:
            if "DRYRUN" not in str(exc).upper() and "unknown" not in str(exc).lower():
                raise
    _probe(client, commands, delete_command, counter, record, who, where)
    return "probe keys"


def _probe(
    client: redis.Redis,
    commands: list[tuple[str, ...]],
    delete_command: str,
    counter: str,
    record: str,
    who: str,
    where: str,
) -> None:
    """Run the commands for real on the probe keys, then remove them."""
    try:
        for command in commands:
            try:
                client.execute_command(*command)
            except redis.exceptions.ReadOnlyError:
                msg = f"Redis at {where} is a read-only replica; point the target at the primary."
                raise TargetRedisError(msg) from None
            except redis.exceptions.OutOfMemoryError as exc:
                msg = f"Redis at {where} is out of memory (maxmemory with noeviction): {exc}"
                raise TargetRedisError(msg) from None
            except redis.ResponseError as exc:
                _refuse(command[0], who, where, str(exc))
    finally:
        with contextlib.suppress(redis.RedisError):
            client.execute_command(delete_command, counter, record)


def _refuse(command: str, who: str, where: str, detail: str) -> t.NoReturn:
    msg = (
        f"Redis at {where}: {who} may not run {command} on the namespace's keys, which "
        f"this load needs ({' '.join(detail.split())})."
    )
    raise TargetRedisError(msg)
