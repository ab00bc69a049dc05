"""WAIT for replicas, and a replica refused as a target."""

from __future__ import annotations

import time
import typing as t

import pytest
from conftest import need_server_binary
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    *[record_msg("s", {"id": i}) for i in range(1, 51)],
    state_msg({"s": 50}),
)


@pytest.fixture(scope="module")
def pair() -> t.Iterator[tuple[RedisServer, RedisServer]]:
    binary = need_server_binary()
    primary = RedisServer(binary)
    replica = RedisServer(binary, ["--replicaof", "127.0.0.1", str(primary.port)])
    deadline = time.monotonic() + 20
    with replica.client() as client:
        while client.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "replica did not sync"
            time.sleep(0.05)
    yield primary, replica
    replica.stop()
    primary.stop()


def test_wait_for_one_replica(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, replica = pair
    with primary.client() as client:
        client.flushall()
    run = run_target(primary.config(wait_for_replicas=1), INPUT)
    assert run.states == [{"s": 50}]
    with replica.client() as client:  # acknowledged by the replica before the state
        assert client.get(":s") == "50"
        assert client.hget(":s:50", "_airbyte_data") == '{"id":50}'


def test_too_few_replicas_fails_without_state(pair: tuple[RedisServer, RedisServer]) -> None:
    primary, _ = pair
    proc = run_cli(primary.config(wait_for_replicas=2, wait_timeout_ms=200), INPUT)
    assert proc.returncode == 1
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Only 1 of 2 replicas" in errors[0], proc.stderr


def test_replica_is_refused_at_start(pair: tuple[RedisServer, RedisServer]) -> None:
    _, replica = pair
    with pytest.raises(TargetRedisError, match="read-only replica"):
        TargetRedis(config=replica.config())
