"""`streams`: settings per stream name or pattern, each stream landing in its own shape
in one run; every entry checked at start."""

from __future__ import annotations

import json

import pytest
import redis
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.stream_settings import for_stream

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def streams_input(*streams: str, tag: str = "a") -> str:
    lines = []
    for stream in streams:
        lines += [schema_msg(stream, PROPS, ["id"])]
        lines += [record_msg(stream, {"id": i, "v": f"{tag}{i}"}) for i in (1, 2)]
    return singer_lines(*lines, state_msg({"done": True}))


STREAMS = {
    "orders": {"load_method": "upsert"},
    "events-*": {"cache_type": "stream", "ttl_seconds": 600},
    "events-audit*": {"cache_type": "list", "namespace": "audit"},
    "events-audit-eu": {"cache_type": "set"},
}


def test_each_stream_in_its_own_shape_in_one_run(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(namespace="shop", streams=STREAMS)
    text = streams_input("orders", "users", "events-web", "events-audit-us", "events-audit-eu")
    run = run_target(config, text)
    assert run.states == [{"done": True}]
    run_target(config, streams_input("orders", "users", tag="b"))
    # orders: upsert under the top-level namespace; users: the top-level append-only
    assert sorted(r.scan_iter(match="shop:orders:*")) == ["shop:orders:1", "shop:orders:2"]
    assert len(list(r.scan_iter(match="shop:users:*"))) == 4
    # events-web: the pattern; events-audit-us: the longer pattern; -eu: its exact name
    assert r.type("shop:events-web") == "stream" and 0 < r.ttl("shop:events-web") <= 600
    assert r.lrange("audit:events-audit-us", 0, -1) == ['{"id":1,"v":"a1"}', '{"id":2,"v":"a2"}']
    assert r.type("shop:events-audit-eu") == "set"  # the exact entry: no namespace override
    manifests = {
        stream: r.hget(key, "cache_type")
        for stream, key in (
            ("orders", "shop:{shop:orders}:target-redis-manifest:orders"),
            ("events-web", "shop:{shop:events-web}:target-redis-manifest:events-web"),
            (
                "events-audit-us",
                "audit:{audit:events-audit-us}:target-redis-manifest:events-audit-us",
            ),
        )
    }
    assert manifests == {"orders": "hash", "events-web": "stream", "events-audit-us": "list"}


@pytest.mark.parametrize(
    ("stream", "cache_type", "where"),
    [
        ("events-audit-eu", "set", " (streams 'events-audit-eu')"),
        ("events-audit-us", "list", " (streams 'events-audit*')"),
        ("events-web", "stream", " (streams 'events-*')"),
        ("orders", "hash", " (streams 'orders')"),
        ("other", "hash", ""),
    ],
)
def test_exact_name_then_longest_pattern(stream: str, cache_type: str, where: str) -> None:
    chosen = for_stream({"streams": STREAMS}, stream)
    assert (chosen.cache_type, chosen.where) == (cache_type, where)


@pytest.mark.parametrize(
    ("streams", "fragment"),
    [
        (
            {"events-*": {"cache_type": "list", "load_method": "upsert"}},
            "'load_method: upsert' does not apply to 'cache_type: list' (streams 'events-*')",
        ),
        ({"orders": {"cache_type": "zset"}}, "setting 'streams.orders.cache_type' must be one of"),
        ({"orders": {"colour": "red"}}, "setting 'streams.orders': Additional properties"),
    ],
)
def test_entries_are_checked_before_any_input(
    server: RedisServer, r: redis.Redis, streams: dict, fragment: str
) -> None:
    done = run_cli(server.config(streams=streams), streams_input("orders"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert fragment in done.stderr, done.stderr
    assert r.keys("*") == []


def test_streams_from_the_environment_as_json_text(server: RedisServer, r: redis.Redis) -> None:
    env = {
        "TARGET_REDIS_HOST": server.host,
        "TARGET_REDIS_PORT": str(server.port),
        "TARGET_REDIS_STREAMS": json.dumps({"orders": {"cache_type": "list"}}),
    }
    done = run_cli(None, streams_input("orders"), "--config", "ENV", env=env)
    assert done.returncode == 0, done.stderr
    assert r.llen(":orders") == 2


def test_streams_flattened_as_meltano_hands_them_over(server: RedisServer, r: redis.Redis) -> None:
    flat = {"public.orders.cache_type": "list", "users.load_method": "upsert"}
    done = run_cli(server.config(streams=flat), streams_input("public.orders", "users"))
    assert done.returncode == 0, done.stderr
    assert r.llen(":public.orders") == 2
    assert r.hget(":{:users}:target-redis-manifest:users", "load_method") == "upsert"
