"""Pipelines without redis-py's per-command bookkeeping: hiredis packs every command
into one buffer, one send, then one reply read per command.

For a cluster, the commands are grouped by the primary that owns each key's slot, and
every node's buffer is sent before any reply is read, so the nodes work at the same
time. A redirection, a node that went away or a command this module does not know
returns None: the caller then sends the chunk through redis-py's ClusterPipeline,
which follows MOVED / ASK and refreshes the slot map (every command the target
pipelines is safe to send twice).
"""

from __future__ import annotations

import typing as t

import hiredis
import redis
import redis.exceptions
from redis.crc import key_slot

if t.TYPE_CHECKING:
    from target_redis.layouts import Command

# Commands whose only key is their first argument: their node is the key's slot owner.
SINGLE_KEY_COMMANDS = frozenset(
    {"HSET", "HMSET", "SET", "JSON.SET", "SADD", "XADD", "EXPIRE", "PERSIST", "UNLINK", "DEL"}
)
_REROUTE = (
    redis.exceptions.AskError,  # and MovedError
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)


class PackedPipeline:
    """One buffer of commands on one pooled connection of ``client``."""

    def __init__(self, client: redis.Redis, commands: t.Sequence[Command]) -> None:
        """Pack now; nothing is sent yet."""
        self.pool = client.connection_pool
        self.count = len(commands)
        self.payload = b"".join([hiredis.pack_command(c) for c in commands])  # type: ignore[arg-type]
        self.connection: t.Any = None

    def send(self) -> None:
        """Send the buffer (replies stay unread)."""
        self.connection = self.pool.get_connection()
        try:
            self.connection.send_packed_command([self.payload])
        except BaseException:
            self.close(broken=True)
            raise

    def read(self) -> list[t.Any]:
        """Every reply, an error reply as its exception object; then release the connection."""
        replies: list[t.Any] = []
        try:
            for _ in range(self.count):
                try:
                    replies.append(self.connection.read_response())
                except redis.ResponseError as exc:
                    replies.append(exc)
        except BaseException:
            self.close(broken=True)  # replies may be left unread: never reuse it
            raise
        self.close()
        return replies

    def close(self, *, broken: bool = False) -> None:
        """Give the connection back (disconnected first if ``broken``)."""
        if self.connection is None:
            return
        if broken:
            self.connection.disconnect()
        self.pool.release(self.connection)
        self.connection = None


def send_packed(client: redis.Redis, chunk: t.Sequence[Command]) -> list[t.Any]:
    """Send ``chunk`` in one pipeline; raise the first error reply (inside a MULTI/EXEC
    chunk too), after every reply was read."""
    pipeline = PackedPipeline(client, chunk)
    pipeline.send()
    replies = pipeline.read()
    if chunk and chunk[0] == ("MULTI",) and not any(_errors(replies)):
        # EXEC's reply holds each command's outcome; errors come back as values.
        results = replies[len(chunk) - 1 - (chunk[-1][0] == "WAIT")] or []
        raise_first(chunk[1:], results)
    raise_first(chunk, replies)
    return replies


def send_to_cluster(client: redis.RedisCluster, chunk: t.Sequence[Command]) -> bool:
    """Send ``chunk`` per node; False when redis-py's ClusterPipeline must send it
    instead (see the module docstring). Raises the first error reply otherwise."""
    if not all(command[0] in SINGLE_KEY_COMMANDS for command in chunk):
        return False
    groups: dict[str, tuple[t.Any, list[int]]] = {}
    try:
        for index, command in enumerate(chunk):
            node = client.nodes_manager.get_node_from_slot(key_slot(command[1].encode()))
            groups.setdefault(node.name, (node, []))[1].append(index)
    except redis.exceptions.SlotNotCoveredError:
        return False
    pipelines = [
        (PackedPipeline(node.redis_connection, [chunk[i] for i in indexes]), indexes)
        for node, indexes in groups.values()
    ]
    replies: list[t.Any] = [None] * len(chunk)
    try:
        for pipeline, _ in pipelines:
            pipeline.send()
        for pipeline, indexes in pipelines:
            for index, reply in zip(indexes, pipeline.read(), strict=True):
                replies[index] = reply
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        for pipeline, _ in pipelines:
            pipeline.close(broken=True)  # only those left unread
    if any(isinstance(reply, _REROUTE) for reply in replies):
        return False
    raise_first(chunk, replies)
    return True


def raise_first(chunk: t.Sequence[Command], replies: t.Sequence[t.Any]) -> None:
    """Raise the first error reply, naming its command and key."""
    for command, reply in zip(chunk, replies, strict=False):
        if isinstance(reply, redis.ResponseError):
            msg = f"{command[0]} {command[1] if len(command) > 1 else ''}: {reply}"
            raise type(reply)(msg) from None


def _errors(replies: t.Sequence[t.Any]) -> t.Iterator[redis.ResponseError]:
    return (reply for reply in replies if isinstance(reply, redis.ResponseError))
