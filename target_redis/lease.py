"""Overwrite leases: one overwrite of a stream at a time, taken over at once from a run
that died.

A lease is a STRING ``N:{N:S}:target-redis-lease:S`` holding ``<run id> client <id>``
with an expiry renewed by every batch. The client id is that of a connection the
holding run keeps open for as long as it holds the lease: when that connection is gone
(``CLIENT LIST ID`` finds nothing), so is the run, and the lease may be taken over.
"""

from __future__ import annotations

import typing as t

import redis

from target_redis.pipelines import whole_blocks

if t.TYPE_CHECKING:
    from target_redis.retry import Retrier
    from target_redis.rows import Command


FENCED = """
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  return redis.error_reply('LEASE_LOST ' .. KEYS[1] .. ' is held by ' ..
    (holder and string.match(holder, '^%S+') or 'no run'))
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local first, i, n = 1, 4, #ARGV
while i <= n do
  local count = tonumber(ARGV[i])
  local reply = redis.call(unpack(ARGV, i + 1, i + count))
  if i == 4 and type(reply) == 'number' then first = reply end
  i = i + count + 1
end
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[3], 'EX', '86400') end
return first
"""
"""Runs commands only while the lease at KEYS[1] holds ARGV[1] (renewing it for ARGV[2]
seconds), then sets the mark KEYS[2], if given, to ARGV[3]. ARGV[4:] holds each command
as its length and its words. Returns the first command's reply if it is an integer."""


_SCRIPT_CHARS = 1 << 20


class Fence(t.NamedTuple):
    """The lease an overwrite's writes depend on: its key, the value this run set, and
    how long each write renews it for."""

    key: str
    holder: str
    seconds: int

    @staticmethod
    def parts(commands: t.Sequence[Command]) -> list[list[Command]]:
        """``commands`` in runs of about 1 MiB, a script each (one script of a whole
        batch would be packed, and run by Redis, in one piece); a MULTI/EXEC block
        stays in one script."""
        return whole_blocks(commands, max_chars=_SCRIPT_CHARS)

    def command(self, commands: t.Sequence[Command], mark: str = "", token: str = "") -> Command:
        """One EVAL running ``commands`` (MULTI / EXEC left out: a script is atomic) only
        while this run holds the lease; with ``mark``, setting it to ``token`` too."""
        words: list[str | bytes] = []
        for command in commands:
            if command[0] not in ("MULTI", "EXEC"):
                words += [str(len(command)), *command]
        keys = [self.key, mark] if mark else [self.key]
        return (
            "EVAL",
            FENCED,
            str(len(keys)),
            *keys,
            self.holder,
            str(self.seconds),
            token,
            *words,
        )


class Lease(t.NamedTuple):
    """Who holds an overwrite lease, and for how many more seconds."""

    holder: str
    seconds: int


class Leases:
    """The leases of one run, and the connections that keep them alive."""

    def __init__(self, client: redis.Redis | redis.RedisCluster, retrier: Retrier) -> None:
        """Nothing held yet."""
        self.client = client
        self._retrier = retrier
        self._held: dict[str, tuple[t.Any, t.Any]] = {}
        self.values: dict[str, str] = {}
        """The value this run set in each lease it holds."""

    def acquire(self, key: str, run_id: str, seconds: int) -> Lease | None:
        """Take the lease at ``key`` for ``seconds`` (SET NX EX); None when taken, else
        who holds it. The lease names a connection this run keeps open: a holder whose
        connection is gone (its process died) is taken over at once, without waiting
        for the lease to expire (when the user may run CLIENT LIST)."""
        pool = self._pool_for(key)
        connection = pool.get_connection()
        try:
            connection.send_command("CLIENT", "ID")
            value = f"{run_id} client {connection.read_response()}"
        except redis.ResponseError:  # may not run CLIENT ID: the lease only expires
            value = run_id
        except BaseException:
            pool.release(connection)
            raise

        def take() -> Lease | None:
            if self.client.set(key, value, nx=True, ex=seconds):
                return None
            with self.client.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.ttl(key)
                current, ttl = pipe.execute()
            if current is None or current == value:
                return take() if current is None else None
            alive = self.holder_alive(key, str(current))
            if alive or not self._replace(key, current, value, seconds):
                return Lease(str(current).split(" ")[0], int(ttl))
            return None

        try:
            lease = self._retrier.call(f"taking {key}", take)
        except BaseException:
            pool.release(connection)
            raise
        if lease is None:
            self._held[key] = (pool, connection)
            self.values[key] = value
        else:
            pool.release(connection)
        return lease

    def release(self, key: str, run_id: str) -> None:
        """Give the lease back if this run still holds it; close its connection."""
        try:
            if self.holder(key) == run_id:
                self.client.delete(key)
        finally:
            held = self._held.pop(key, None)
            self.values.pop(key, None)
            if held is not None:
                held[0].release(held[1])

    def holder(self, key: str) -> str | None:
        """The run id holding the lease at ``key``."""
        value = self._retrier.call(f"reading {key}", lambda: self.client.get(key))
        return None if value is None else str(value).split(" ")[0]

    def _pool_for(self, key: str) -> t.Any:
        if isinstance(self.client, redis.Redis):
            return self.client.connection_pool
        return self.client.get_node_from_key(key).redis_connection.connection_pool

    def holder_alive(self, key: str, value: str) -> bool:
        """Whether the connection named in a lease is still open (True if unknown)."""
        parts = value.split(" ")
        if len(parts) != 3 or parts[1] != "client":
            return True
        try:
            if isinstance(self.client, redis.Redis):
                found = self.client.execute_command("CLIENT", "LIST", "ID", parts[2])
            else:
                node = self.client.get_node_from_key(key)
                found = self.client.execute_command(
                    "CLIENT", "LIST", "ID", parts[2], target_nodes=node
                )
        except redis.RedisError:
            return True  # may not run CLIENT LIST: wait for the lease to expire
        return bool(str(found or "").strip())

    def _replace(self, key: str, expected: str, value: str, seconds: int) -> bool:
        """Set ``key`` to ``value`` if it still holds ``expected`` (WATCH / MULTI)."""
        with self.client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) != expected:
                    return False
                pipe.multi()
                pipe.set(key, value, ex=seconds)
                pipe.execute()
                return True
            except redis.WatchError:
                return False
