"""Runs layout commands against Redis: id reservation, pipelines, cleanup scans."""

from __future__ import annotations

import typing as t

import hiredis
import redis

from target_redis.keys import parse_id_suffix, records_pattern, stream_key

if t.TYPE_CHECKING:
    from target_redis.connection import ServerInfo
    from target_redis.layouts import Command

_PIPELINE_CHUNK = 5000
_SCAN_COUNT = 1000


class Writer:
    """Redis I/O of the target, shared by all sinks (redis-py clients are
    thread-safe; each call uses its own pipeline)."""

    def __init__(self, client: redis.Redis, server: ServerInfo) -> None:
        self.client = client
        self.server = server
        self.delete_command = "UNLINK" if server.has_unlink else "DEL"

    def reserve_ids(self, counter_key: str, count: int) -> int:
        """Advance the counter by ``count`` with one INCRBY; return the first id."""
        last = int(self.client.incrby(counter_key, count))
        return last - count + 1

    def read_counter(self, counter_key: str) -> int:
        """The counter's current value (0 when it does not exist)."""
        value = self.client.get(counter_key)
        return int(value) if value is not None else 0

    def run(self, commands: t.Sequence[Command]) -> None:
        """Send commands in pipelines; return once Redis acknowledged all of them.

        Raises the first error reply (after reading every reply of its chunk).
        """
        for start in range(0, len(commands), _PIPELINE_CHUNK):
            chunk = commands[start : start + _PIPELINE_CHUNK]
            if isinstance(self.client, redis.Redis):
                self._run_packed(chunk)
            else:
                with self.client.pipeline(transaction=False) as pipe:
                    for command in chunk:
                        pipe.execute_command(*command)
                    pipe.execute()

    def _run_packed(self, chunk: t.Sequence[Command]) -> None:
        # A pipeline without redis-py's per-command bookkeeping: hiredis packs
        # every command, one send, then one reply read per command.
        payload = b"".join([hiredis.pack_command(command) for command in chunk])  # type: ignore[arg-type]
        pool = self.client.connection_pool
        connection = pool.get_connection()
        failed: tuple[int, redis.ResponseError] | None = None
        try:
            connection.send_packed_command([payload])
            for index in range(len(chunk)):
                try:
                    connection.read_response()
                except redis.ResponseError as exc:
                    failed = failed or (index, exc)
        except BaseException:
            connection.disconnect()  # replies may be left unread: never reuse it
            raise
        finally:
            pool.release(connection)
        if failed is not None:
            index, error = failed
            command = chunk[index]
            msg = f"{command[0]} {command[1] if len(command) > 1 else ''}: {error}"
            raise type(error)(msg) from None

    def read_fields(self, keys: t.Sequence[str], field: str) -> list[str | None]:
        """HGET ``field`` of each key, in one pipeline."""
        with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hget(key, field)
            return list(pipe.execute())

    def remove_ids_up_to(self, namespace: str, stream: str, floor: int) -> int:
        """UNLINK the stream's record keys whose id is at or below ``floor``.

        SCAN with an escaped pattern (never KEYS); keys of other shapes (upsert
        keys, streams whose names extend this one) are left alone.
        """
        if floor <= 0:
            return 0
        prefix = stream_key(namespace, stream)
        scan_type = "hash" if self.server.has_scan_type else None
        doomed: list[str] = []
        removed = 0
        for key in self.client.scan_iter(
            match=records_pattern(namespace, stream), count=_SCAN_COUNT, _type=scan_type
        ):
            ab_id = parse_id_suffix(key, prefix)
            if ab_id is not None and ab_id <= floor:
                doomed.append(key)
            if len(doomed) >= _SCAN_COUNT:
                removed += self._delete(doomed)
                doomed = []
        return removed + self._delete(doomed)

    def _delete(self, keys: list[str]) -> int:
        if not keys:
            return 0
        return int(self.client.execute_command(self.delete_command, *keys))
