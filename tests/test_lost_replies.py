"""Lost replies: Redis applies a request, then the connection drops before the reply
comes back (a proxy that forwards the request and swallows the answer). The target
retries; every write must be applied exactly once, and STATE follow what landed.
"""

from __future__ import annotations

import collections
import json
import typing as t

import pytest
import redis
from conftest import need_server_binary
from helpers import record_msg, run_target, schema_msg, singer_lines, state_msg
from proxy import FaultyProxy

from devtools.cluster import LocalCluster
from devtools.server import RedisServer
from target_redis.pipelines import PackedPipeline, packed_parts

N = 500


def lines(tag: str = "v", bad_every: int = 0) -> str:
    """SCHEMA, N records (every ``bad_every``-th with a string id: invalid), STATE each 100."""
    messages: list[dict] = [
        schema_msg("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
    ]
    for i in range(1, N + 1):
        bad = bad_every and i % bad_every == 0
        messages.append(record_msg("s", {"id": f"x{i}" if bad else i, "v": f"{tag}{i}"}))
        if i % 100 == 0:
            messages.append(state_msg({"s": i}))
    return singer_lines(*messages)


def landed(client: redis.Redis, cache_type: str) -> list[tuple[int, str]]:
    """Every stored (id, v) of stream ``s``, duplicates included."""
    if cache_type == "list":
        texts = client.lrange(":s", 0, -1)
    elif cache_type == "stream":
        texts = [fields["_airbyte_data"] for _, fields in client.xrange(":s")]
    elif cache_type == "set":
        texts = list(client.smembers(":s"))
    elif cache_type == "sorted_set":
        return [(int(m), f"score {int(s)}") for m, s in client.zrange(":s", 0, -1, withscores=True)]
    elif cache_type == "json":
        keys = list(client.scan_iter(match=":s:*", _type="ReJSON-RL"))
        texts = [
            json.dumps(json.loads(client.execute_command("JSON.GET", k, "$"))[0]) for k in keys
        ]
    elif cache_type == "string":
        keys = [k for k in client.scan_iter(match=":s:*", _type="string")]
        texts = [client.get(k) for k in keys]
    else:
        keys = [k for k in client.scan_iter(match=":s:*", _type="hash")]
        texts = [client.hget(k, "_airbyte_data") for k in keys]
    return [(data["id"], data["v"]) for data in map(json.loads, texts)]


def expected(cache_type: str, tag: str = "v") -> list[tuple[int, str]]:
    if cache_type == "sorted_set":
        return [(i, f"score {i}") for i in range(1, N + 1)]
    return [(i, f"{tag}{i}") for i in range(1, N + 1)]


def load_config(cache_type: str, load_method: str, **extra: t.Any) -> dict[str, t.Any]:
    """Small batches (each request is one batch) and retries long enough to recover."""
    return {
        "host": "127.0.0.1",
        "cache_type": cache_type,
        "load_method": load_method,
        "batch_size_rows": 100,
        "retry_max_seconds": 20,
        **extra,
    }


def load_losing_one(
    server: RedisServer, config: dict[str, t.Any], lost: str, match: bytes, nth: int
) -> list[dict]:
    """Load ``lines()`` through a proxy that loses the reply of (or cuts) the ``nth``
    request holding ``match``, after an earlier run's records under overwrite; the
    STATE values."""
    if config["load_method"] == "overwrite":  # an earlier run's records, to be replaced
        assert run_target({**config, "port": server.port}, lines("old")).states
    proxy = FaultyProxy(server.port)
    try:
        (proxy.arm_lost_reply if lost == "reply" else proxy.arm_lost_request)(match, nth)
        run = run_target({**config, "port": proxy.port}, lines())
        assert proxy.drops == 1, "the fault was injected"
    finally:
        proxy.close()
    return run.states


CASES = [
    # cache type, load method, the request whose reply is lost (bytes it holds, nth)
    ("list", "append-only", b"RPUSH", 2),
    ("list", "append-only", b"RPUSH", 5),
    ("list", "overwrite", b"RPUSH", 3),
    ("list", "overwrite", b"RENAME", 1),
    ("stream", "append-only", b"XADD", 2),
    ("stream", "overwrite", b"XADD", 2),
    ("stream", "overwrite", b"RENAME", 1),
    ("set", "append-only", b"SADD", 2),
    ("set", "overwrite", b"RENAME", 1),
    ("sorted_set", "append-only", b"ZADD", 2),
    ("sorted_set", "overwrite", b"ZADD", 3),
    ("hash", "append-only", b"INCRBY", 2),
    ("hash", "append-only", b"HSET", 3),
    ("hash", "upsert", b"HSET", 2),
    ("hash", "overwrite", b"target-redis-lease", 1),
    ("hash", "overwrite", b"SSCAN", 1),
    ("string", "append-only", b"target-redis-manifest", 2),
    ("string", "overwrite", b"target-redis-keys", 2),
]


@pytest.mark.parametrize("lost", ["reply", "request"])
@pytest.mark.parametrize(("cache_type", "load_method", "match", "nth"), CASES)
def test_a_lost_reply_applies_the_write_once(
    server: RedisServer,
    r: redis.Redis,
    cache_type: str,
    load_method: str,
    match: bytes,
    nth: int,
    lost: str,
) -> None:
    config = load_config(
        cache_type,
        load_method,
        **({"score_field": "id"} if cache_type == "sorted_set" else {}),
        **({"overwrite_keys": "primary-key"} if match == b"SSCAN" else {}),
    )
    states = load_losing_one(server, config, lost, match, nth)
    assert states[-1] == {"s": N}
    assert sorted(landed(r, cache_type)) == expected(cache_type)
    if cache_type in ("hash", "string") and load_method != "upsert":
        assert len(r.keys(":s:*")) == N


@pytest.mark.parametrize("lost", ["reply", "request"])
@pytest.mark.parametrize(
    ("load_method", "match", "nth"),
    [("append-only", b"JSON.SET", 3), ("upsert", b"JSON.SET", 2), ("overwrite", b"SSCAN", 1)],
)
def test_a_lost_reply_of_json_documents(
    module_server: RedisServer,
    modules: redis.Redis,
    load_method: str,
    match: bytes,
    nth: int,
    lost: str,
) -> None:
    config = load_config("json", load_method)
    states = load_losing_one(module_server, config, lost, match, nth)
    assert states[-1] == {"s": N}
    assert sorted(landed(modules, "json")) == expected("json")


@pytest.mark.parametrize("lost", ["reply", "request"])
def test_a_lost_dead_letter_reply_keeps_one_entry(
    server: RedisServer, r: redis.Redis, lost: str
) -> None:
    config = {"host": "127.0.0.1", "on_invalid_record": "dead_letter", "retry_max_seconds": 20}
    proxy = FaultyProxy(server.port)
    try:
        (proxy.arm_lost_reply if lost == "reply" else proxy.arm_lost_request)(b"dead-letter", 3)
        run = run_target({**config, "port": proxy.port}, lines(bad_every=50))
        assert proxy.drops == 1
    finally:
        proxy.close()
    assert run.states[-1] == {"s": N}
    entries = r.xrange(":{:s}:target-redis-dead-letter:s")
    lines_kept = collections.Counter(fields["input_line"] for _, fields in entries)
    assert len(entries) == N // 50 and set(lines_kept.values()) == {1}


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[LocalCluster]:
    with LocalCluster(need_server_binary()) as started:
        yield started


def lose_reply(monkeypatch: pytest.MonkeyPatch, match: bytes, nth: int) -> list[int]:
    """Make the ``nth`` pipeline holding ``match`` lose its reply after Redis applied it
    (the cluster's nodes are reached directly: no proxy in between)."""
    seen: list[int] = []
    read = PackedPipeline.read

    def read_then_lose(self: PackedPipeline) -> t.Any:
        replies = read(self)
        if match in b"".join(packed_parts(self.commands)):
            seen.append(1)
            if len(seen) == nth:
                raise redis.ConnectionError("Connection closed by server.")
        return replies

    monkeypatch.setattr(PackedPipeline, "read", read_then_lose)
    return seen


CLUSTER_CASES = [
    ("list", "append-only", b"RPUSH", 2),
    ("list", "overwrite", b"RENAME", 1),
    ("stream", "append-only", b"XADD", 3),
    ("hash", "append-only", b"HSET", 2),
]


@pytest.mark.parametrize(("cache_type", "load_method", "match", "nth"), CLUSTER_CASES)
def test_a_lost_reply_on_a_cluster_applies_the_write_once(
    cluster: LocalCluster,
    monkeypatch: pytest.MonkeyPatch,
    cache_type: str,
    load_method: str,
    match: bytes,
    nth: int,
) -> None:
    client = cluster.client()
    try:
        client.flushall()
        config = cluster.config(
            cache_type=cache_type,
            load_method=load_method,
            batch_size_rows=100,
            retry_max_seconds=20,
        )
        if load_method == "overwrite":
            assert run_target(config, lines("old")).states
        seen = lose_reply(monkeypatch, match, nth)
        run = run_target(config, lines())
        assert len(seen) >= nth, "the fault was injected"
        assert run.states[-1] == {"s": N}
        assert sorted(landed(client, cache_type)) == expected(cache_type)
    finally:
        client.close()
