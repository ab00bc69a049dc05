"""Redis-native shapes, read back from a real server: a hash field per property, keys
from templates, sorted sets, replace vs merge, each over two runs with changes and
deletes; refused combinations; JSON merge on fakeredis (no RedisJSON server here)."""

from __future__ import annotations

import fakeredis
import pytest
import redis
from helpers import manifest, record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.testing import load

PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "score": {"type": ["null", "number"]},
    "vip": {"type": ["null", "boolean"]},
    "tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "seen": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_deleted_at": {"type": ["null", "string"]},
}
DELETED = "2024-02-01T00:00:00Z"


def lines(*records: dict, stream: str = "users") -> str:
    return singer_lines(
        schema_msg(stream, PROPS, ["id"]),
        *[record_msg(stream, rec) for rec in records],
        state_msg({"done": True}),
    )


ADA = {"id": 1, "name": "Ada", "score": 1.5, "vip": True, "tags": ["a", "b"], "seen": None}
BOB = {"id": 2, "name": "Bob", "score": 7, "vip": False, "tags": None, "seen": None}
CY = {"id": 3, "name": "Cy", "score": 2, "vip": None, "tags": [], "seen": None}


# -- record_format: fields


def test_fields_hash_upsert_two_runs_with_changes_and_deletes(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(record_format="fields", load_method="upsert", namespace="app")
    run_target(config, lines(ADA, BOB, CY))
    assert r.hgetall("app:users:1") == {
        "id": "1",
        "name": "Ada",
        "score": "1.5",
        "vip": "true",
        "tags": '["a","b"]',
    }
    assert r.hgetall("app:users:2") == {"id": "2", "name": "Bob", "score": "7", "vip": "false"}
    changed = {**ADA, "name": "Ada L", "vip": None, "tags": None}  # two properties gone
    run_target(config, lines(changed, {"id": 2, "_sdc_deleted_at": DELETED}))
    assert r.hgetall("app:users:1") == {"id": "1", "name": "Ada L", "score": "1.5"}  # replace
    # a partial delete row is laid over the stored record, never replacing it
    assert r.hgetall("app:users:2") == {
        "id": "2",
        "name": "Bob",
        "score": "7",
        "vip": "false",
        "_sdc_deleted_at": DELETED,
    }
    hard = server.config(
        record_format="fields", load_method="upsert", namespace="app", hard_delete=True
    )
    run_target(hard, lines({"id": 3, "_sdc_deleted_at": DELETED}))
    assert sorted(r.scan_iter(match="app:users:*")) == ["app:users:1", "app:users:2"]
    assert manifest(r, "app", "users")["record_format"] == "fields"
    assert not r.keys("*target-redis-tmp*")


def test_merge_keeps_absent_properties_and_removes_nulls(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(record_format="fields", load_method="upsert", on_update="merge")
    run_target(config, lines(ADA))
    run_target(
        config,
        lines({"id": 1, "name": "Ada L", "vip": None}, {"id": 1, "seen": "2024-01-01T00:00:00Z"}),
    )
    assert r.hgetall(":users:1") == {
        "id": "1",
        "name": "Ada L",
        "score": "1.5",
        "tags": '["a","b"]',
        "seen": "2024-01-01T00:00:00Z",
    }
    assert not r.keys("*target-redis-tmp*")


@pytest.mark.parametrize("method", ["append-only", "overwrite"])
def test_fields_in_stream_entries(server: RedisServer, r: redis.Redis, method: str) -> None:
    config = server.config(record_format="fields", cache_type="stream", load_method=method)
    run_target(config, lines(ADA, BOB))
    run_target(config, lines(CY))
    entries = [fields for _, fields in r.xrange(":users")]
    names = [e["name"] for e in entries]
    assert names == (["Ada", "Bob", "Cy"] if method == "append-only" else ["Cy"])
    assert entries[-1] == {"id": "3", "name": "Cy", "score": "2", "tags": "[]"}


def test_fields_keep_number_text(server: RedisServer, r: redis.Redis) -> None:
    text = lines() + '{"type":"RECORD","stream":"users","record":{"id":9,"score":1.50e3}}\n'
    run_target(server.config(record_format="fields", load_method="upsert"), text)
    assert r.hget(":users:9", "score") == "1.50e3"


# -- key_template


def test_key_template_with_composite_values(server: RedisServer, r: redis.Redis) -> None:
    props = {
        "customer": {"type": "string"},
        "order_no": {"type": "string"},
        "v": {"type": "integer"},
    }
    rows = [("a:b", "c", 1), ("a", "b:c", 2), ("x\\", "y", 3), ("李雷", "🚀", 4)]
    text = singer_lines(
        schema_msg("orders", props, ["customer", "order_no"]),
        *[record_msg("orders", {"customer": c, "order_no": o, "v": v}) for c, o, v in rows],
    )
    config = server.config(
        record_format="fields", load_method="upsert", key_template="order:{customer}:{order_no}"
    )
    run_target(config, text)
    assert sorted(r.scan_iter(match="order:*")) == sorted(
        ["order:a\\:b:c", "order:a:b\\:c", "order:x\\\\:y", "order:李雷:🚀"]
    )
    assert r.hget("order:a\\:b:c", "v") == "1" and r.hget("order:a:b\\:c", "v") == "2"
    assert manifest(r, "", "orders")["key_template"] == "order:{customer}:{order_no}"


def test_key_template_overwrite_retires_the_rest(server: RedisServer, r: redis.Redis) -> None:
    upsert = server.config(load_method="upsert", key_template="user:{id}", record_format="fields")
    run_target(upsert, lines(ADA, BOB, CY))
    r.set("user-count", "3")  # another key of the same prefix, not of the template's shape
    overwrite = {**upsert, "load_method": "overwrite"}
    run_target(overwrite, lines(ADA, CY))  # Bob deleted at the source
    assert sorted(r.scan_iter(match="user:*")) == ["user:1", "user:3"]
    assert r.get("user-count") == "3"
    with pytest.raises(TargetRedisError, match=r"keyed by template user:\{id\}"):
        run_target(server.config(load_method="upsert", record_format="fields"), lines(ADA))


def test_null_placeholder_stops_the_run_naming_property_and_line(server: RedisServer) -> None:
    text = lines(ADA, {"id": 2, "name": None})
    props_text = text.replace('"id": {"type": "integer"}', '"id": {"type": ["null", "integer"]}')
    config = server.config(load_method="upsert", key_template="user:{name}")
    done = run_cli(config, props_text)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert "Input line 3" in error
    assert (
        "Stream 'users': property 'name' of key_template 'user:{name}' is missing or null" in error
    )


# -- sorted_set


def test_sorted_set_scores_numbers_and_date_times(server: RedisServer, r: redis.Redis) -> None:
    points = server.config(cache_type="sorted_set", score_field="score", namespace="lb")
    run_target(points, lines(ADA, BOB, CY))
    run_target(points, lines({**ADA, "score": 9}))  # a member's score moves
    assert r.zrange("lb:users", 0, -1, withscores=True) == [("3", 2.0), ("2", 7.0), ("1", 9.0)]
    recent = server.config(
        cache_type="sorted_set", score_field="seen", key_template="recent", load_method="overwrite"
    )
    run_target(
        recent,
        lines({**ADA, "seen": "2024-01-02T00:00:00Z"}, {**BOB, "seen": "2024-01-01T00:00:00.5Z"}),
    )
    run_target(recent, lines({**BOB, "seen": "2024-01-03T00:00:00Z"}))  # overwrite: swapped whole
    assert r.zrange("recent", 0, -1, withscores=True) == [("2", 1704240000000.0)]
    hard = server.config(
        cache_type="sorted_set", score_field="score", namespace="lb", hard_delete=True
    )
    run_target(hard, lines({"id": 2, "score": 0, "_sdc_deleted_at": DELETED}))
    assert r.zrange("lb:users", 0, -1) == ["3", "1"]
    assert not [k for k in r.keys("*") if "tmp" in k]


def test_sorted_set_without_key_properties_holds_record_json(
    server: RedisServer, r: redis.Redis
) -> None:
    text = singer_lines(
        schema_msg("events", {"n": {"type": "integer"}}), record_msg("events", {"n": 5})
    )
    run_target(server.config(cache_type="sorted_set", score_field="n"), text)
    assert r.zrange(":events", 0, -1, withscores=True) == [('{"n":5}', 5.0)]


def test_null_score_stops_the_run(server: RedisServer, r: redis.Redis) -> None:
    done = run_cli(
        server.config(cache_type="sorted_set", score_field="score"),
        lines(ADA, {"id": 4, "score": None}),
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Input line 3: Stream 'users': score_field 'score' is missing or null" in done.stderr


# -- refused combinations: one line at start, nothing written

REFUSED = [
    (
        {"key_template": "user:{id}"},
        "key_template' ('user:{id}'): keys built from values need upsert",
    ),
    (
        {"key_template": "u:{id}", "cache_type": "list", "load_method": "upsert"},
        "Setting 'load_method: upsert' does not apply to 'cache_type: list'",
    ),
    (
        {"key_template": "board", "load_method": "upsert"},
        "('board') has no placeholder: every record would overwrite key 'board'",
    ),
    (
        {"key_template": "board", "load_method": "overwrite", "cache_type": "json"},
        "('board') has no placeholder",
    ),
    ({"key_template": "u:{id}{name}", "load_method": "upsert"}, "put a ':' between placeholders"),
    (
        {"key_template": "u:{nope}", "load_method": "upsert"},
        "stream 'users' has no property 'nope'",
    ),
    (
        {"cache_type": "sorted_set"},
        "'score_field' goes with 'cache_type: sorted_set' and it needs one",
    ),
    ({"score_field": "score"}, "'score_field' goes with 'cache_type: sorted_set'"),
    ({"cache_type": "sorted_set", "score_field": "nope"}, "stream 'users' has no property 'nope'"),
    (
        {"on_update": "merge", "load_method": "upsert"},
        "'on_update: merge' applies to 'record_format: fields'",
    ),
    (
        {"cache_type": "sorted_set", "score_field": "score", "load_method": "upsert"},
        "does not apply to 'cache_type: sorted_set'",
    ),
    (
        {"streams": {"users": {"record_format": "fields", "on_update": "merge"}}},
        "(streams 'users')",
    ),
]


@pytest.mark.parametrize(("settings", "fragment"), REFUSED)
def test_refused_combinations(
    server: RedisServer, r: redis.Redis, settings: dict, fragment: str
) -> None:
    done = run_cli(server.config(**settings), lines(ADA))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert fragment in error, error
    assert r.keys("*") == []


# -- every stream in its own shape, one run


def test_streams_each_in_its_own_native_shape(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        streams={
            "users": {
                "record_format": "fields",
                "load_method": "upsert",
                "key_template": "user:{id}",
            },
            "scores": {
                "cache_type": "sorted_set",
                "score_field": "score",
                "key_template": "leaderboard",
            },
            "events-*": {"cache_type": "stream", "record_format": "fields", "ttl_seconds": 600},
        }
    )
    text = lines(ADA, BOB) + lines(ADA, BOB, stream="scores") + lines(CY, stream="events-web")
    run_target(config, text)
    assert r.hget("user:1", "name") == "Ada"
    assert r.zrange("leaderboard", 0, -1) == ["1", "2"]
    assert [f["name"] for _, f in r.xrange(":events-web")] == ["Cy"]
    assert 0 < r.ttl(":events-web") <= 600


# -- JSON documents: replace and merge (fakeredis: no RedisJSON server on this machine)


def test_json_replace_and_merge_on_fakeredis() -> None:
    client = fakeredis.FakeRedis(decode_responses=True)
    config = {"cache_type": "json", "load_method": "upsert", "key_template": "doc:{id}"}
    load(lines(ADA), client, config)
    load(lines({"id": 1, "name": "Ada L"}), client, config)
    assert client.json().get("doc:1") == {"id": 1, "name": "Ada L"}  # replace
    merge = {**config, "on_update": "merge"}
    # fakeredis's JSON.MERGE keeps nulls of absent properties and fails on a new key
    with pytest.raises(TargetRedisError, match="on_update: merge: fakeredis"):
        load(lines({"id": 1, "score": 3, "name": None}), client, merge)
    assert client.json().get("doc:1") == {"id": 1, "name": "Ada L"}


def test_access_check_covers_template_keys(server: RedisServer, r: redis.Redis) -> None:
    rules = ["reset", "on", ">shop-pw", "~shop:*", "+@all", "-@dangerous"]
    r.execute_command("ACL", "SETUSER", "shoponly", *rules)
    try:
        config = server.config(
            username="shoponly",
            password="shop-pw",
            namespace="shop",
            load_method="upsert",
            record_format="fields",
        )
        assert run_cli(config, lines(ADA)).returncode == 0  # shop:users:1 is allowed
        done = run_cli({**config, "key_template": "user:{id}"}, lines(ADA))
    finally:
        r.execute_command("ACL", "DELUSER", "shoponly")
    assert done.returncode == 1
    assert "user 'shoponly' may not run" in done.stderr
    assert r.keys("user:*") == []


@pytest.mark.parametrize("method", ["append-only", "overwrite", "upsert"])
def test_fields_hash_each_load_method_two_runs(
    server: RedisServer, r: redis.Redis, method: str
) -> None:
    config = server.config(record_format="fields", load_method=method)
    run_target(config, lines(ADA, BOB))
    run_target(config, lines({**ADA, "name": "Ada L", "tags": None}, {"id": 4, "name": "Di"}))
    found = sorted(
        (h.get("name"), h.get("tags"))
        for h in (r.hgetall(k) for k in r.scan_iter(match=":users:*"))
    )
    expected = {
        "append-only": [("Ada", '["a","b"]'), ("Ada L", None), ("Bob", None), ("Di", None)],
        "overwrite": [("Ada L", None), ("Di", None)],
        "upsert": [("Ada L", None), ("Bob", None), ("Di", None)],
    }[method]
    assert found == expected
    assert not r.keys("*target-redis-tmp*")


@pytest.mark.parametrize("hard", [False, True])
def test_activate_version_with_fields(server: RedisServer, r: redis.Redis, hard: bool) -> None:
    config = server.config(
        record_format="fields",
        load_method="upsert",
        key_template="user:{id}",
        add_record_metadata=True,
        process_activate_version_messages=True,
        hard_delete=hard,
    )

    def version(n: int, *records: dict) -> str:
        return singer_lines(
            schema_msg("users", PROPS, ["id"]),
            *[record_msg("users", rec, version=n) for rec in records],
            {"type": "ACTIVATE_VERSION", "stream": "users", "version": n},
        )

    run_target(config, version(1, ADA, BOB))
    run_target(config, version(2, {**BOB, "name": "Bob 2"}))
    assert r.hget("user:2", "name") == "Bob 2" and r.hget("user:2", "_sdc_deleted_at") is None
    if hard:
        assert r.exists("user:1") == 0
    else:
        assert r.hget("user:1", "name") == "Ada" and r.hget("user:1", "_sdc_deleted_at")
