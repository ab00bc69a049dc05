"""Every cache type with each load method it supports, read back; TTL; refusals."""

from __future__ import annotations

import json
import threading
import time
import typing as t

import fakeredis
import pytest
import redis
from helpers import record_msg, run_target, schema_msg, singer_lines, state_msg
from live import LiveRun, stream_lines

from devtools.server import RedisServer
from target_redis import target as target_module
from target_redis.connection import Connection
from target_redis.errors import TargetRedisError
from target_redis.keyspace import KeySpace
from target_redis.server import ServerInfo
from target_redis.target import TargetRedis

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}

MANIFEST = KeySpace("", "s").manifest_key


def run_input(ids: t.Iterable[int], tag: str) -> str:
    ids = list(ids)
    return singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": f"{tag}{i}"}) for i in ids],
        state_msg({"s": ids[-1] if ids else 0}),
    )


def doc(i: int, tag: str) -> str:
    return json.dumps({"id": i, "v": f"{tag}{i}"}, separators=(",", ":"))


def per_record(client: redis.Redis, cache: str) -> dict[str, str]:
    """key -> stored record JSON, for per-record cache types."""
    kind = {"hash": "hash", "string": "string", "json": None}[cache]  # fakeredis: no JSON TYPE
    out = {}
    for key in client.scan_iter(match=":s:*", _type=kind):
        if cache == "hash":
            out[key] = client.hget(key, "_airbyte_data")
        elif cache == "string":
            out[key] = client.get(key)
        else:
            (value,) = json.loads(client.execute_command("JSON.GET", key, "$"))
            out[key] = json.dumps(value, separators=(",", ":"))
    return out


# -- per-record types on a real server (string; hash is covered in depth elsewhere)


@pytest.mark.parametrize("cache", ["hash", "string"])
def test_per_record_types_two_runs(server: RedisServer, r: redis.Redis, cache: str) -> None:
    append = server.config(cache_type=cache)
    run_target(append, run_input(range(1, 4), "a"))
    run_target(append, run_input(range(1, 3), "b"))
    assert per_record(r, cache) == {
        ":s:1": doc(1, "a"),
        ":s:2": doc(2, "a"),
        ":s:3": doc(3, "a"),
        ":s:4": doc(1, "b"),
        ":s:5": doc(2, "b"),
    }
    r.flushall()
    overwrite = server.config(cache_type=cache, load_method="overwrite")
    run_target(overwrite, run_input(range(1, 4), "a"))
    run_target(overwrite, run_input(range(1, 3), "b"))
    assert per_record(r, cache) == {":s:4": doc(1, "b"), ":s:5": doc(2, "b")}
    r.flushall()
    upsert = server.config(cache_type=cache, load_method="upsert")
    run_target(upsert, run_input(range(1, 4), "a"))
    run_target(upsert, run_input(range(2, 5), "b"))
    assert per_record(r, cache) == {
        ":s:1": doc(1, "a"),
        ":s:2": doc(2, "b"),
        ":s:3": doc(3, "b"),
        ":s:4": doc(4, "b"),
    }


# -- single-key types


def single(client: redis.Redis, cache: str) -> list[str]:
    if cache == "set":
        return sorted(client.smembers(":s"))
    if cache == "list":
        return client.lrange(":s", 0, -1)
    return [fields["_airbyte_data"] for _, fields in client.xrange(":s")]


@pytest.mark.parametrize("cache", ["set", "list", "stream"])
def test_single_key_types_two_runs(server: RedisServer, r: redis.Redis, cache: str) -> None:
    append = server.config(cache_type=cache, batch_size_rows=2)
    run_target(append, run_input(range(1, 4), "a"))
    run_target(append, run_input(range(1, 3), "b"))
    expected = [doc(i, "a") for i in (1, 2, 3)] + [doc(i, "b") for i in (1, 2)]
    assert single(r, cache) == (sorted(expected) if cache == "set" else expected)
    assert r.type(":s") == cache
    # nothing else: no counter, no leftovers; the manifest beside it
    assert sorted(r.keys("*")) == [":s", MANIFEST]
    r.flushall()
    overwrite = server.config(cache_type=cache, load_method="overwrite", batch_size_rows=2)
    run_target(overwrite, run_input(range(1, 4), "a"))
    run_target(overwrite, run_input(range(1, 3), "b"))
    expected = [doc(1, "b"), doc(2, "b")]
    assert single(r, cache) == (sorted(expected) if cache == "set" else expected)
    assert sorted(r.keys("*")) == [":s", MANIFEST]


def test_stream_entries_carry_airbyte_fields_and_trim(server: RedisServer, r: redis.Redis) -> None:
    run_target(server.config(cache_type="stream"), run_input(range(1, 4), "a"))
    (_, first), *_ = r.xrange(":s")
    assert set(first) == {"_airbyte_ab_id", "_airbyte_emitted_at", "_airbyte_data"}
    assert len(first["_airbyte_ab_id"]) == 36  # a UUID
    r.flushall()
    run_target(
        server.config(cache_type="stream", stream_maxlen=100), run_input(range(1, 2001), "a")
    )
    assert 100 <= r.xlen(":s") < 2000  # trimmed approximately (MAXLEN ~)


@pytest.mark.parametrize("cache", ["set", "list", "stream"])
def test_upsert_refused_for_single_key_types(server: RedisServer, cache: str) -> None:
    with pytest.raises(
        TargetRedisError, match=rf"'load_method: upsert' does not apply to 'cache_type: {cache}'"
    ):
        TargetRedis(config=server.config(cache_type=cache, load_method="upsert"))


def test_json_refused_without_module(server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match=r"needs the JSON\.SET command"):
        TargetRedis(config=server.config(cache_type="json"))


def test_single_key_overwrite_is_atomic(server: RedisServer, r: redis.Redis) -> None:
    config = {
        "host": server.host,
        "port": server.port,
        "cache_type": "list",
        "load_method": "overwrite",
        "batch_size_rows": 20,
    }
    assert LiveRun(config, stream_lines(range(1, 301), tag="old")).finish()[0] == 0
    seen: set[int] = set()
    done = threading.Event()

    def poll() -> None:
        with server.client() as client:
            while not done.is_set():
                seen.add(client.llen(":s"))
                time.sleep(0.002)

    poller = threading.Thread(target=poll)
    poller.start()
    code, stderr = LiveRun(
        config, stream_lines(range(1, 401), tag="new"), chunk=20, pause=0.01
    ).finish()
    done.set()
    poller.join()
    assert code == 0, stderr
    assert seen <= {300, 400} and 300 in seen  # the old full list or the new, never partial
    assert r.lrange(":s", 0, 0) == [doc(1, "new")] and r.llen(":s") == 400
    assert not [k for k in r.keys("*") if "tmp" in k]


# -- TTL on every key written


@pytest.mark.parametrize(
    ("cache", "method"),
    [
        ("hash", "append-only"),
        ("hash", "upsert"),
        ("string", "overwrite"),
        ("set", "append-only"),
        ("list", "overwrite"),
        ("stream", "append-only"),
    ],
)
def test_ttl_on_every_key(server: RedisServer, r: redis.Redis, cache: str, method: str) -> None:
    config = server.config(cache_type=cache, load_method=method, ttl_seconds=300)
    run_target(config, run_input(range(1, 6), "a"))
    keys = r.keys("*")
    assert keys
    ttls = {key: r.ttl(key) for key in keys}
    assert all(250 < ttl <= 300 for ttl in ttls.values()), ttls


@pytest.mark.parametrize(
    ("cache", "method"), [("hash", "upsert"), ("string", "upsert"), ("list", "append-only")]
)
def test_rewrite_refreshes_ttl(
    server: RedisServer, r: redis.Redis, cache: str, method: str
) -> None:
    config = server.config(cache_type=cache, load_method=method, ttl_seconds=300)
    run_target(config, run_input(range(1, 6), "a"))
    for key in r.keys("*"):
        r.expire(key, 100)
    run_target(config, run_input(range(1, 6), "b"))  # same keys written again
    assert all(r.ttl(key) > 250 for key in r.keys("*"))


# -- json on fakeredis (the Debian server has no RedisJSON module)


@pytest.fixture
def fake_json(monkeypatch: pytest.MonkeyPatch) -> fakeredis.FakeRedis:
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server, decode_responses=True)

    def fake_connect(config: t.Mapping[str, t.Any]) -> Connection:
        return Connection(
            fakeredis.FakeRedis(server=server, decode_responses=True),
            ServerInfo((7, 2)),
            "fakeredis",
            None,
        )

    monkeypatch.setattr(target_module, "connect", fake_connect)
    return client


def test_json_documents(fake_json: fakeredis.FakeRedis) -> None:
    run_target({"cache_type": "json", "ttl_seconds": 60}, run_input(range(1, 4), "a"))
    assert per_record(fake_json, "json") == {f":s:{i}": doc(i, "a") for i in (1, 2, 3)}
    assert 0 < fake_json.ttl(":s:1") <= 60
    fake_json.flushall()
    upsert = {"cache_type": "json", "load_method": "upsert"}
    run_target(upsert, run_input(range(1, 4), "a"))
    run_target(upsert, run_input(range(2, 4), "b"))
    assert per_record(fake_json, "json") == {
        ":s:1": doc(1, "a"),
        ":s:2": doc(2, "b"),
        ":s:3": doc(3, "b"),
    }
    # overwrite's cleanup filters keys by TYPE (ReJSON-RL), which fakeredis cannot report,
    # and no server with the RedisJSON module is installable here: not exercised.
