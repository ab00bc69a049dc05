"""Sending a chunk of commands to a Redis Cluster, redirects and WAIT included."""

from __future__ import annotations

import contextlib
import time
import typing as t

import redis
import redis.exceptions

from target_redis.pipelines import send_to_cluster, split_blocks

if t.TYPE_CHECKING:
    from target_redis.rows import Command

_RESEND_ATTEMPTS = 8


def send(
    client: redis.RedisCluster,
    chunk: t.Sequence[Command],
    transaction: bool,
    wait: tuple[int, int] | None,
    *,
    values: bool = False,
    once: bool = False,
) -> list[t.Any]:
    """``chunk`` sent per node (pipelines.send_to_cluster), or, when it met a redirect or
    a lost connection: raised for a resend after the mark is read (``once``), resent
    after a slot-map refresh (``wait``), else sent by redis-py's cluster pipeline."""
    replies = send_to_cluster(client, chunk, transaction=transaction, wait=wait, values=values)
    if replies is not None:
        return replies
    if once:
        # It may have been applied (a lost reply): the caller reads its mark first.
        with contextlib.suppress(redis.RedisError, redis.exceptions.RedisClusterException):
            client.nodes_manager.initialize()
        msg = "a batch met a redirection or lost its connection; sending it again"
        raise redis.exceptions.TryAgainError(msg)
    if wait:
        # redis-py's pipeline cannot WAIT on the connections it wrote with: refresh
        # the slot map and send again (a redirected command did nothing); while
        # slots keep moving, the retrier takes over.
        for attempt in range(1, _RESEND_ATTEMPTS + 1):
            with contextlib.suppress(redis.RedisError, redis.exceptions.RedisClusterException):
                client.nodes_manager.initialize()
            replies = send_to_cluster(
                client, chunk, transaction=transaction, wait=wait, values=values
            )
            if replies is not None:
                return replies
            time.sleep(0.01 * attempt)
        msg = "slots are moving or a node is unreachable; resending to WAIT for replicas"
        raise redis.exceptions.TryAgainError(msg)
    # redis-py's cluster pipeline: per node as well, follows MOVED / ASK; a MULTI
    # block of the chunk goes in a transaction of its own.
    plain, blocks = split_blocks(chunk)
    for block in blocks:
        with client.pipeline(transaction=True) as pipe:
            for command in block:
                pipe.execute_command(*command)
            pipe.execute()
    with client.pipeline(transaction=transaction) as pipe:
        for command in plain:
            pipe.execute_command(*command)
        return list(pipe.execute())
