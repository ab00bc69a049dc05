"""Runs layout commands against Redis: id reservation, pipelines, cleanup scans.

Every operation is idempotent or made safe to repeat, so transient failures are
retried (see retry.py): a chunk of commands is resent whole (same keys, same ids,
same values); an id reservation retried after a lost reply may leave a gap in the
ids, never a reuse.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import threading
import typing as t
import uuid

import redis
from redis.crc import key_slot

from target_redis import cluster_send
from target_redis.errors import REDIS_ERRORS, TargetRedisError, explain_redis_error
from target_redis.keys import slot_mate
from target_redis.lease import Fence, Leases
from target_redis.pipelines import (
    PackedPipeline,
    joined_blocks,
    raise_first,
    routing_keys,
    send_packed,
    whole_blocks,
)
from target_redis.redis_reads import ISSUED, Reads
from target_redis.retry import Retrier

if t.TYPE_CHECKING:
    from target_redis.rows import Command
    from target_redis.server import ServerInfo

logger = logging.getLogger("target-redis")
_T = t.TypeVar("_T")


_PIPELINE_CHUNK = 25_000
"""Commands per pipeline: a default batch of 10k records (with TTLs) is one."""
_SCAN_COUNT = 1000
MARK_SECONDS = 86_400
"""How long a write's mark (see ``Writer.run`` with ``once``) outlives the write."""


class Writer(Reads):
    """Redis I/O of the target, shared by all sinks (redis-py clients are
    thread-safe; each call uses its own connection from the pool)."""

    def __init__(
        self,
        client: redis.Redis | redis.RedisCluster,
        server: ServerInfo,
        retrier: Retrier | None = None,
        *,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
        run_id: str = "",
    ) -> None:
        """``wait_replicas`` > 0 makes every chunk wait (WAIT) for that many replicas;
        ``run_id`` names this run's marks (``run`` with ``once``)."""
        self.client = client
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self._scripts: bool | None = None
        self._marks: set[str] = set()
        self._tokens = itertools.count(1)
        self.server = server
        self.retrier = retrier or Retrier(0, 0)
        self.delete_command = "UNLINK" if server.has_unlink else "DEL"
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.leases = Leases(client, self.retrier)
        self._pending: list[tuple[PackedPipeline, t.Sequence[Command], str]] = []
        self._pending_owner: str | None = None
        """The stream key of the batch in flight (``run`` with ``owner``)."""
        self._settling = threading.Lock()  # sinks may be drained by parallel threads

    def _call(self, what: str, operation: t.Callable[[], _T]) -> _T:
        """``operation`` once the batch sent last is acknowledged (so Redis applies
        everything in the order it was written), retried on transient failures."""
        self.settle()
        return self.retrier.call(what, operation)

    @property
    def single_server(self) -> bool:
        """Not a cluster: pipelines may send packed commands (packing.py)."""
        return isinstance(self.client, redis.Redis)

    def settle(self) -> None:
        """Read the replies of batches whose reading was deferred (``run`` with
        ``defer``); raise TargetRedisError, with the batch's own description, if Redis
        refused any command (a lost connection: the batch is sent again). Other
        threads wait until it is done, so no write overtakes one still unread."""
        with self._settling:
            pending, self._pending = self._pending, []
            self._pending_owner = None
            failure: TargetRedisError | None = None
            for pipeline, chunk, failed in pending:
                if failure is not None:
                    pipeline.close(broken=True)
                    continue
                try:
                    self._settle(pipeline, chunk, failed)
                except TargetRedisError as exc:
                    failure = exc
            if failure is not None:
                raise failure

    def _settle(self, pipeline: PackedPipeline, chunk: t.Sequence[Command], failed: str) -> None:
        # The first attempt reads the replies; a retry sends the chunk again.
        attempts = [lambda: raise_first(chunk, pipeline.read())]

        def attempt() -> None:
            if attempts:
                attempts.pop()()
            else:
                self._send(chunk)

        try:
            self.retrier.call(f"writing {len(chunk)} commands", attempt)
        except REDIS_ERRORS as exc:
            raise TargetRedisError(f"{failed}: {explain_redis_error(exc)}") from exc

    def discard(self) -> None:
        """Forget deferred batches without reading their replies (the run is failing)."""
        with self._settling:
            for pipeline, _, _ in self._pending:
                pipeline.close(broken=True)
            self._pending = []

    def reserve_ids(self, counter_key: str, manifest_key: str, count: int) -> int:
        """Advance the counter, and the manifest's record of ids issued (field ``issued``),
        by ``count`` in one pipeline (one slot, one connection: Redis runs them one after
        the other); return the first id. It does not wait for the replies of the same
        stream's batch still in flight (nothing it reads depends on them): the next
        batch's commands are built while Redis works on the last one, and ``run``
        settles before sending it. Another stream's batch is settled first, so that a
        failed batch stops the run before another stream's counter moves."""
        if self._pending and self._pending_owner != counter_key:
            self.settle()
        commands = [
            ("INCRBY", counter_key, str(count)),
            ("HINCRBY", manifest_key, ISSUED, str(count)),
        ]
        what = f"reserving ids at {counter_key}"
        replies = self.retrier.call(what, lambda: self._both(commands))
        return int(replies[0]) - count + 1

    def _both(self, commands: t.Sequence[Command]) -> list[t.Any]:
        """``commands`` (keys of one slot) in one pipeline; their replies. In a cluster
        with ``wait_replicas`` the node WAITs too (a failover must not hand ids out again)."""
        if isinstance(self.client, redis.Redis):
            with self.client.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(pipe.execute())
        return self._send_to_cluster(self.client, commands, False, values=True)

    def run(
        self,
        commands: t.Sequence[Command],
        *,
        transaction: bool = False,
        defer: str | None = None,
        once: str | None = None,
        fence: Fence | None = None,
        owner: str | None = None,
    ) -> None:
        """Send commands in pipelines; return once Redis acknowledged all of them
        (and, with ``wait_replicas``, that many replicas did). With ``transaction``,
        each chunk runs in MULTI/EXEC: it lands whole or not at all (in a cluster
        its keys must share a slot).

        With ``once`` (the key the commands write, such as a list they push to), each
        chunk is applied exactly once even when its reply is lost: it runs in a MULTI
        that also sets a mark (``<prefix>{<tag>}:target-redis-applied:<run>:<key>``, in
        the key's slot) to a number unique in the run; after a lost reply the mark is
        read, and the chunk is sent again only if it does not hold that number.

        With ``fence`` (an overwrite's lease), the commands land only while this run
        holds the lease: each chunk runs in a script that checks it first (on a single
        server, or a cluster slot holding all of the chunk's keys); elsewhere the lease
        is read just before the chunk is sent. A lost lease raises TargetRedisError.

        With ``defer`` (what failed, should it fail), a single Redis server and no
        WAIT, the last chunk's replies are read later, by ``settle``: before any other
        Redis operation of this writer and before a STATE is emitted. The target
        goes on reading input while Redis works.

        ``owner``: the stream key the commands write for (``reserve_ids`` of that
        stream need not wait for their replies).

        Raises the first error reply (after reading every reply of its chunk).
        """
        self.settle()
        if fence is not None and not self._scripted(fence, commands):
            self.check_lease(fence)
            fence = None
        deferrable = (
            defer is not None
            and isinstance(self.client, redis.Redis)
            and not transaction
            and not self.wait_replicas
        )
        chunks = whole_blocks(commands, max_commands=_PIPELINE_CHUNK)
        for number, chunk in enumerate(chunks, start=1):
            if once is not None:
                self._run_once(chunk, once, fence)
                continue
            if fence is not None:
                chunk = [fence.command(part) for part in fence.parts(chunk)]
                transaction = False
            elif isinstance(self.client, redis.Redis):
                chunk = joined_blocks(chunk)
            if deferrable and number == len(chunks):
                send = functools.partial(self._send_deferred, chunk, t.cast("str", defer))
                self._pending_owner = owner
            else:
                send = functools.partial(self._send, chunk, transaction=transaction)
            self.retrier.call(f"writing {len(chunk)} commands", send)

    def drop_marks(self) -> None:
        """Remove the marks of ``run`` with ``once`` (only this run reads them)."""
        with contextlib.suppress(*REDIS_ERRORS):
            if self._marks:
                self.delete_keys(sorted(self._marks))
        self._marks.clear()

    def _run_once(self, chunk: t.Sequence[Command], guarded: str, fence: Fence | None) -> None:
        if fence is None and not isinstance(self.client, redis.Redis):
            # A MULTI spans one slot: each slot's commands (a grouped collection's spread
            # over many) run in a MULTI with a mark of their own, one round trip each.
            keys = routing_keys(chunk) or [guarded] * len(chunk)
            slots: dict[int, tuple[str, list[Command]]] = {}
            for key, command in zip(keys, chunk, strict=True):
                slots.setdefault(key_slot(key.encode()), (key, []))[1].append(command)
            for key, commands in slots.values():
                mark = slot_mate(key, f"applied:{self.run_id}")
                self._marks.add(mark)
                self._send_marked(commands, mark, None)
            return
        mark = slot_mate(guarded, f"applied:{self.run_id}")
        self._marks.add(mark)
        for part in fence.parts(chunk) if fence is not None else [chunk]:
            self._send_marked(part, mark, fence)

    def _send_marked(self, chunk: t.Sequence[Command], mark: str, fence: Fence | None) -> None:
        token = str(next(self._tokens))
        if fence is not None:
            marked = [fence.command(chunk, mark, token)]
        else:
            marked = [*chunk, ("SET", mark, token, "EX", str(MARK_SECONDS))]
        sent = False

        def send() -> None:
            nonlocal sent
            if sent and self.client.get(mark) == token:
                return  # applied: only its reply was lost
            sent = True
            self._send(marked, transaction=fence is None, once=True)

        self.retrier.call(f"writing {len(chunk)} commands", send)

    def _scripted(self, fence: Fence, commands: t.Sequence[Command]) -> bool:
        """Whether the fence can be a script: the server runs them (not fakeredis without
        Lua, nor a user without +@scripting), and on a cluster the commands' keys are
        all in the lease's slot."""
        if self._scripts is None:
            try:
                self._scripts = not self.server.fakeredis and bool(
                    self._call("checking scripts", lambda: self.client.eval("return 1", 0))
                )
            except redis.ResponseError as exc:
                self._scripts = False
                logger.warning(
                    "Redis refuses scripts (%s): an overwrite reads its lease before each "
                    "batch instead of checking it with the batch.",
                    " ".join(str(exc).split())[:200],
                )
        if not self._scripts:
            return False
        if isinstance(self.client, redis.Redis):
            return True
        keys = routing_keys(commands)
        slot = key_slot(fence.key.encode())
        return keys is not None and all(key_slot(key.encode()) == slot for key in keys)

    def renew(self, fence: Fence) -> None:
        """Renew the lease if this run still holds it; else raise TargetRedisError."""
        if not self._scripted(fence, []):
            self.check_lease(fence)
            self.run([("EXPIRE", fence.key, str(fence.seconds))])
            return
        self._call(f"renewing {fence.key}", lambda: self._send([fence.command([])]))

    def check_lease(self, fence: Fence) -> None:
        """Raise TargetRedisError unless this run still holds the lease."""
        holder = self._call(f"reading {fence.key}", lambda: self.client.get(fence.key))
        if holder != fence.holder:
            who = str(holder).split(" ")[0] if holder else "no run"
            lost = f"LEASE_LOST {fence.key} is held by {who}"
            raise TargetRedisError(explain_redis_error(redis.ResponseError(lost)))

    def _send_deferred(self, chunk: t.Sequence[Command], failed: str) -> None:
        pipeline = PackedPipeline(t.cast("redis.Redis", self.client), chunk)
        pipeline.send()
        with self._settling:
            self._pending.append((pipeline, chunk, failed))

    def _send(
        self, chunk: t.Sequence[Command], *, transaction: bool = False, once: bool = False
    ) -> None:
        if not isinstance(self.client, redis.Redis):
            self._send_to_cluster(self.client, chunk, transaction, once=once)
            return
        packed = list(chunk)
        if transaction:
            packed = [("MULTI",), *packed, ("EXEC",)]
        if self.wait_replicas:
            packed.append(("WAIT", str(self.wait_replicas), str(self.wait_timeout_ms)))
        replies = send_packed(self.client, packed)
        if self.wait_replicas and int(replies[-1]) < self.wait_replicas:
            msg = (
                f"Only {replies[-1]} of {self.wait_replicas} replicas acknowledged a "
                f"batch within {self.wait_timeout_ms} ms (setting 'wait_for_replicas')."
            )
            raise TargetRedisError(msg)

    def _send_to_cluster(
        self,
        client: redis.RedisCluster,
        chunk: t.Sequence[Command],
        transaction: bool,
        *,
        values: bool = False,
        once: bool = False,
    ) -> list[t.Any]:
        wait = (self.wait_replicas, self.wait_timeout_ms) if self.wait_replicas else None
        return cluster_send.send(client, chunk, transaction, wait, values=values, once=once)

    def swap_in(
        self, temp_key: str, key: str, ttl_seconds: int, fence: Fence | None = None
    ) -> bool:
        """Atomically replace ``key`` with the overwrite built in ``temp_key``
        (RENAME; same hash tag, so same cluster slot). No temp key (no records this
        run) empties the stream. Returns whether there was anything to swap in."""
        expiry: Command = ("EXPIRE", key, str(ttl_seconds)) if ttl_seconds else ("PERSIST", key)
        if not self._call(f"reading {temp_key}", lambda: self.client.exists(temp_key)):
            self.remove([key], fence)
            return False
        self.run([("RENAME", temp_key, key), expiry], once=key, fence=fence)  # not re-sent
        return True

    def remove(self, keys: t.Sequence[str], fence: Fence | None = None) -> int:
        """UNLINK (DEL) the keys in chunks; how many existed. With ``fence``, only while
        this run holds that lease (see ``run``)."""
        removed = 0
        for start in range(0, len(keys), _SCAN_COUNT):
            chunk = keys[start : start + _SCAN_COUNT]
            delete: Command = (self.delete_command, *chunk)
            if fence is not None and self._scripted(fence, [delete]):
                script = fence.command([delete])
                removed += int(self._call("removing keys", functools.partial(self._eval, script)))
                continue
            if fence is not None:
                self.check_lease(fence)
            removed += self._call("removing keys", functools.partial(self.delete_keys, chunk))
        return removed

    def _eval(self, script: Command) -> t.Any:
        try:
            return self.client.execute_command(*script)
        except redis.ResponseError as exc:
            if "LEASE_LOST" in str(exc):
                raise TargetRedisError(explain_redis_error(exc)) from None
            raise

    def delete_keys(self, keys: t.Sequence[str]) -> int:
        """UNLINK (DEL before Redis 4.0) the keys; in a cluster, one call per slot."""
        if self.delete_command == "UNLINK":
            return int(self.client.unlink(*keys))
        return int(self.client.delete(*keys))
