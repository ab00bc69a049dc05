"""Pipelines without redis-py's per-command bookkeeping: hiredis packs every command
into one buffer, one send, then the replies are read in bulk: when every reply is an
integer or a status (``:1``, ``+OK``: no error), one regular expression over the bytes
received confirms it, with no Python call per reply; otherwise hiredis parses them
one by one, error replies as redis-py's exceptions.

For a cluster, the commands are grouped by the primary that owns each key's slot, and
every node's buffer is sent before any reply is read, so the nodes work at the same
time. A redirection, a node that went away or a command this module does not know
returns None, and nothing was done by a command redirected: the caller then sends the
chunk through redis-py's ClusterPipeline, which follows MOVED / ASK and refreshes the
slot map (a chunk that is not a transaction is safe to send twice; a transaction that
met a redirection was aborted whole).
"""

from __future__ import annotations

import collections.abc
import re
import socket
import typing as t

import hiredis
import redis
import redis.exceptions
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser
from redis.crc import key_slot

from target_redis import packing
from target_redis.errors import TargetRedisError

if t.TYPE_CHECKING:
    from target_redis.rows import Command

# Commands whose only key is their first argument: their node is the key's slot owner.
SINGLE_KEY_COMMANDS = frozenset(
    {
        *("HSET", "HMSET", "SET", "JSON.SET", "SADD", "SREM", "RPUSH", "XADD", "INCRBY"),
        *("ZADD", "ZREM", "HINCRBY", "HSETNX"),
        *("EXPIRE", "PEXPIREAT", "PERSIST", "UNLINK", "DEL", "HDEL", "JSON.MERGE"),
        # two keys, one slot (the second is built with the first's hash tag)
        *("COPY", "RENAME"),
    }
)
_REROUTE = (
    redis.exceptions.AskError,  # and MovedError
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)


_SIMPLE_REPLIES = re.compile(rb"(?:[:+][^\r\n]*\r\n)*")
_READ_SIZE = 1 << 18


class SimpleReplies(collections.abc.Sequence):
    """Replies that are all integers or statuses (so none is an error), kept as the
    bytes received and parsed only when looked at."""

    def __init__(self, data: bytes, count: int) -> None:
        """``data``: exactly ``count`` replies."""
        self._data = data
        self._count = count
        self._lines: list[bytes] | None = None

    def __len__(self) -> int:
        """How many replies."""
        return self._count

    def __getitem__(self, index: t.Any) -> t.Any:
        """A reply as hiredis gives it: an int, or a status as text."""
        if self._lines is None:
            self._lines = self._data.split(b"\r\n")[:-1]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        line = self._lines[index]
        return int(line[1:]) if line[:1] == b":" else line[1:].decode()


class PackedPipeline:
    """One buffer of commands on one pooled connection of ``client``."""

    def __init__(self, client: redis.Redis, commands: t.Sequence[Command]) -> None:
        """Nothing is packed or sent yet."""
        self.pool = client.connection_pool
        self.commands = commands
        self.count = len(commands)
        self.connection: t.Any = None

    def send(self) -> None:
        """Pack and send the commands, ~1 MiB at a time (a batch is never held twice:
        packed whole, then joined), replies left unread."""
        self.connection = self.pool.get_connection()
        try:
            for index, part in enumerate(packed_parts(self.commands)):
                self.connection.send_packed_command([part], check_health=not index)
        except BaseException:
            self.close(broken=True)
            raise

    def read(self) -> t.Sequence[t.Any]:
        """Every reply, an error reply as its exception object; then release the connection."""
        replies: list[t.Any] = []
        try:
            simple = self._read_simple()
            if simple is not None:
                self.close()
                return simple
            read = self._parsed_reply()
            for _ in range(self.count):
                reply = read()
                if reply is NOT_ENOUGH_DATA:
                    try:
                        reply = self.connection.read_response()
                    except redis.ResponseError as exc:
                        reply = exc
                elif isinstance(reply, redis.ConnectionError):
                    raise reply
                replies.append(reply)
        except BaseException:
            self.close(broken=True)  # replies may be left unread: never reuse it
            raise
        self.close()
        return replies

    def _parsed_reply(self) -> t.Callable[[], t.Any]:
        """The next reply the connection's hiredis reader already holds, or
        NOT_ENOUGH_DATA (then redis-py's read_response reads the socket); about a
        third of read_response's cost for a MULTI block's QUEUED replies."""
        parser = getattr(self.connection, "_parser", None)
        reader = getattr(parser, "_reader", None) if isinstance(parser, _HiredisParser) else None
        if reader is None:
            return lambda: NOT_ENOUGH_DATA
        return t.cast("t.Callable[[], t.Any]", reader.gets)

    def _read_simple(self) -> SimpleReplies | None:
        """Read the replies' bytes from the socket; SimpleReplies if they are all
        integers and statuses, else None, with the bytes handed to the connection's
        hiredis reader (which parses them and reads the rest)."""
        connection = self.connection
        parser = getattr(connection, "_parser", None)
        sock = getattr(connection, "_sock", None)
        if not isinstance(parser, _HiredisParser) or not isinstance(sock, socket.socket):
            return None
        reader = parser._reader
        if reader is None or reader.has_data() or not self.count:
            return None
        data = bytearray()
        lines = 0
        while lines < self.count:
            try:
                chunk = sock.recv(_READ_SIZE)
            except TimeoutError:
                msg = "Timeout reading from socket"
                raise redis.TimeoutError(msg) from None
            except OSError as exc:
                msg = f"Error while reading from socket: {exc.args}"
                raise redis.ConnectionError(msg) from None
            if not chunk:
                msg = "Connection closed by server."
                raise redis.ConnectionError(msg)
            data += chunk
            lines = data.count(b"\r\n")
        if lines == self.count and _SIMPLE_REPLIES.fullmatch(data):
            return SimpleReplies(bytes(data), self.count)
        reader.feed(bytes(data))
        return None

    def close(self, *, broken: bool = False) -> None:
        """Give the connection back (disconnected first if ``broken``)."""
        if self.connection is None:
            return
        if broken:
            self.connection.disconnect()
        self.pool.release(self.connection)
        self.connection = None


_PART_BYTES = 1 << 20


def whole_blocks(
    commands: t.Sequence[Command], max_commands: int = 0, max_chars: int = 0
) -> list[list[Command]]:
    """``commands`` cut into runs of about ``max_commands`` commands or ``max_chars``
    characters, never inside a MULTI/EXEC block (a block sent in two pieces would not
    be atomic, and a lost connection between them would leave half of it)."""
    if not max_chars and (not max_commands or len(commands) <= max_commands):
        return [list(commands)]
    runs: list[list[Command]] = [[]]
    size = 0
    inside = False
    for command in commands:
        full = (max_commands and len(runs[-1]) >= max_commands) or (max_chars and size >= max_chars)
        if full and not inside:
            runs.append([])
            size = 0
        runs[-1].append(command)
        if max_chars:
            size += sum(map(len, command))
        if command[0] == "MULTI":
            inside = True
        elif command[0] == "EXEC":
            inside = False
    return runs if runs[-1] or len(runs) == 1 else runs[:-1]


def joined_blocks(commands: t.Sequence[Command], max_commands: int = 1000) -> list[Command]:
    """Adjacent MULTI/EXEC blocks joined into blocks of up to about ``max_commands``
    (one server: each key stays atomic, and Redis runs two commands fewer per block).
    Not for a cluster, where a block must keep to one slot."""
    if ("MULTI",) not in commands:  # a scan in C: most batches have no block
        return list(commands)
    joined: list[Command] = []
    size = 0
    for command in commands:
        if command[0] == "MULTI" and joined and joined[-1][0] == "EXEC" and size < max_commands:
            joined.pop()  # this block goes on in the one before
            continue
        if command[0] == "MULTI":
            size = 0
        joined.append(command)
        size += 1
    return joined


def packed_parts(commands: t.Sequence[Command]) -> t.Iterator[bytes]:
    """The commands packed by hiredis, joined into parts of about 1 MiB."""
    part: list[bytes] = []
    size = 0
    pack = hiredis.pack_command
    for command in commands:
        first = command[0]
        packed = first if type(first) is bytes else pack(command)  # type: ignore[arg-type]
        part.append(packed)
        size += len(packed)
        if size >= _PART_BYTES:
            yield b"".join(part)
            part, size = [], 0
    if part:
        yield b"".join(part)


def send_packed(client: redis.Redis, chunk: t.Sequence[Command]) -> t.Sequence[t.Any]:
    """Send ``chunk`` in one pipeline; raise the first error reply (inside a MULTI/EXEC
    chunk too), after every reply was read."""
    pipeline = PackedPipeline(client, chunk)
    pipeline.send()
    replies = pipeline.read()
    raise_first(chunk, replies)
    return replies


def send_to_cluster(
    client: redis.RedisCluster,
    chunk: t.Sequence[Command],
    *,
    transaction: bool = False,
    wait: tuple[int, int] | None = None,
    values: bool = False,
) -> list[t.Any] | None:
    """Send ``chunk`` per node (a ``transaction`` only when its keys are on one node);
    with ``wait`` (replicas, ms), each node's pipeline ends with WAIT on its own
    connection. Returns the replies in chunk order (None for the integers and
    statuses of a node whose replies were all such), or None when redis-py's
    ClusterPipeline must send it instead (see the module docstring). Raises the first
    error reply, or TargetRedisError when a node's replicas did not acknowledge."""
    groups = _node_groups(client, chunk)
    if groups is None or (transaction and len(groups) > 1):
        return None
    sent = []
    for node, indexes in groups.values():
        commands = [chunk[i] for i in indexes]
        if transaction:
            commands = [("MULTI",), *commands, ("EXEC",)]
        if wait:
            commands.append(("WAIT", str(wait[0]), str(wait[1])))
        sent.append((node, indexes, PackedPipeline(node.redis_connection, commands)))
    answers = _send_and_read(sent)
    if answers is None:
        return None
    results: list[t.Any] = [None] * len(chunk)
    for node, indexes, replies in answers:
        commands = [chunk[i] for i in indexes]
        body = replies[:-1] if wait else replies
        if transaction:
            raise_first([("MULTI",), *commands, ("EXEC",)], body)
            body = body[-1]  # EXEC's reply: each command's outcome
        raise_first(commands, body)
        if values or not isinstance(body, SimpleReplies):  # else no error, no value read
            for index, reply in zip(indexes, body, strict=True):
                results[index] = reply
        if wait and int(replies[-1]) < wait[0]:
            msg = (
                f"Only {replies[-1]} of {wait[0]} replicas of node {node.name} acknowledged "
                f"a batch within {wait[1]} ms (setting 'wait_for_replicas')."
            )
            raise TargetRedisError(msg)
    return results


def _node_groups(
    client: redis.RedisCluster, chunk: t.Sequence[Command]
) -> dict[str, tuple[t.Any, list[int]]] | None:
    """The chunk's command indexes per node owning their keys' slots (None: a command
    this module does not route, or a slot no node covers)."""
    keys = routing_keys(chunk)
    if keys is None:
        return None
    groups: dict[str, tuple[t.Any, list[int]]] = {}
    try:
        for index, key in enumerate(keys):
            node = client.nodes_manager.get_node_from_slot(key_slot(key.encode()))
            groups.setdefault(node.name, (node, []))[1].append(index)
    except redis.exceptions.SlotNotCoveredError:
        return None
    return groups


def _send_and_read(
    sent: list[tuple[t.Any, list[int], PackedPipeline]],
) -> list[tuple[t.Any, list[int], t.Any]] | None:
    """Send every node's pipeline, then read each; None when a connection failed or a
    reply says the slot moved (redis-py's ClusterPipeline then resends)."""
    answers = []
    try:
        for _, _, pipeline in sent:
            pipeline.send()
        for node, indexes, pipeline in sent:
            answers.append((node, indexes, pipeline.read()))
    except (redis.ConnectionError, redis.TimeoutError):
        return None
    finally:
        for _, _, pipeline in sent:
            pipeline.close(broken=True)  # only those left unread
    complex_answers = (r for _, _, r in answers if not isinstance(r, SimpleReplies))
    if any(isinstance(r, _REROUTE) for replies in complex_answers for r in replies):
        return None
    return answers


def routing_keys(chunk: t.Sequence[Command]) -> list[str] | None:
    """The key routing each command (a MULTI/EXEC block goes whole with its commands'
    key), or None when a command is not one this module routes. Keys are text (only a
    record's JSON may be bytes)."""
    keys: list[t.Any] = []
    for index, command in enumerate(chunk):
        if command[0] == "MULTI" and index + 1 < len(chunk) and len(chunk[index + 1]) > 1:
            keys.append(chunk[index + 1][1])
        elif command[0] == "EXEC" and keys:
            keys.append(keys[-1])
        elif command[0] in SINGLE_KEY_COMMANDS:
            keys.append(command[1])
        elif command[0] == "EVAL" and int(command[2]) > 0:  # a script's keys share a slot
            keys.append(command[3])
        else:
            return None
    return keys


def split_blocks(chunk: t.Sequence[Command]) -> tuple[list[Command], list[list[Command]]]:
    """The commands outside MULTI/EXEC blocks, and each block's commands."""
    plain: list[Command] = []
    blocks: list[list[Command]] = []
    block: list[Command] | None = None
    for command in chunk:
        if command[0] == "MULTI":
            block = []
        elif command[0] == "EXEC" and block is not None:
            blocks.append(block)
            block = None
        elif block is not None:
            block.append(command)
        else:
            plain.append(command)
    return plain, blocks


def raise_first(chunk: t.Sequence[Command], replies: t.Sequence[t.Any]) -> None:
    """Raise the first error reply, naming its command and key (inside a MULTI/EXEC
    block too: EXEC's reply holds each command's outcome, errors as values)."""
    if isinstance(replies, SimpleReplies):
        return
    block = 0
    for index, (command, reply) in enumerate(zip(chunk, replies, strict=False)):
        if isinstance(reply, redis.ResponseError):
            name, target = packing.label(command)
            msg = f"{name} {target}: {reply}"
            raise type(reply)(msg) from None
        if command[0] == "MULTI":
            block = index + 1
        elif command[0] == "EXEC" and isinstance(reply, list):
            raise_first(chunk[block:index], reply)
