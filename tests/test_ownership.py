"""Ownership: a stream deletes, overwrites, retires and expires only keys it wrote, next to
other streams, foreign keys and other writers. Read back from a real server."""

from __future__ import annotations

import io
import json
import logging

import pytest
import redis
from helpers import manifest, record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.keyspace import KeySpace
from target_redis.target import TargetRedis

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def rows(stream: str, ids: list[int], tag: str, **extra: object) -> str:
    return singer_lines(
        schema_msg(stream, PROPS, ["id"]),
        *[record_msg(stream, {"id": i, "v": f"{tag}{i}", **extra}) for i in ids],
        state_msg({"done": stream}),
    )


def snapshot(r: redis.Redis, keep: object) -> dict[str, bytes]:
    """Every key for which ``keep(key)`` is true, with its serialized value."""
    kwargs = r.connection_pool.connection_kwargs
    with redis.Redis(host=kwargs["host"], port=kwargs["port"]) as raw:
        return {key: raw.dump(key) for key in r.keys("*") if keep(key)}


def foreign_world(r: redis.Redis, server: RedisServer) -> None:
    """Another stream (upsert, namespace app), keys of other writers, and keys that have
    the shape of the keys under test without being any stream's."""
    run_target(server.config(namespace="app", load_method="upsert"), rows("orders", [1, 2], "o"))
    r.set("app:session:abc", "x")
    r.hset("usr:7", "name", "foreign")  # the shape of usr:{id}, written by someone else
    r.set("unrelated:app:key", "y")
    r.hset(":s:x", "name", "foreign")  # under an ids stream's prefix, not a counter id
    r.zadd("board2", {"m": 1})


SCHEMES = {
    "ids": {"load_method": "overwrite", "overwrite_keys": "ids"},
    "primary-key": {"load_method": "overwrite", "overwrite_keys": "primary-key"},
    "template": {"load_method": "overwrite", "record_format": "fields", "key_template": "usr:{id}"},
    "fixed-key": {"cache_type": "sorted_set", "score_field": "id", "key_template": "board"},
    "single-key": {"cache_type": "list", "load_method": "overwrite"},
}


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_overwrite_touches_only_its_own_keys(
    server: RedisServer, r: redis.Redis, scheme: str
) -> None:
    foreign_world(r, server)
    config = server.config(**SCHEMES[scheme])
    if scheme == "fixed-key":
        config["load_method"] = "overwrite"
    run_target(config, rows("s", [1, 2, 3], "a"))
    mine = {*r.keys(":s*"), *r.keys(":{:s}*"), *r.keys("usr:[0-9]"), "board", *r.keys("usr:1*")}
    mine -= {":s:x", "usr:7"}
    before = snapshot(r, lambda key: key not in mine)
    run = run_target(config, rows("s", [2, 4], "b"))
    assert run.states == [{"done": "s"}]
    assert snapshot(r, lambda key: key in before) == before  # nothing else changed
    assert r.keys(":{:s}:target-redis-written*") == []  # the run's record is gone
    if scheme == "ids":
        assert sorted(r.keys(":s:[0-9]*")) == [":s:4", ":s:5"]
    elif scheme == "primary-key":
        assert sorted(r.keys(":s:[0-9]*")) == [":s:2", ":s:4"]
        assert r.smembers(KeySpace("", "s").index_key) == {":s:2", ":s:4"}
    elif scheme == "template":
        assert sorted(r.keys("usr:*")) == ["usr:2", "usr:4", "usr:7"]
        assert r.hgetall("usr:2") == {"id": "2", "v": "b2"}
        assert r.smembers(KeySpace("", "s").index_key) == {"usr:2", "usr:4"}
    elif scheme == "fixed-key":
        assert r.zrange("board", 0, -1, withscores=True) == [("2", 2.0), ("4", 4.0)]
    else:
        assert r.lrange(":s", 0, -1) == ['{"id":2,"v":"b2"}', '{"id":4,"v":"b4"}']


def test_template_overwrite_from_the_issue_keeps_other_streams(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 21, item 1, with the template moved out of namespace app (refused there)."""
    foreign_world(r, server)
    before = snapshot(r, lambda key: True)
    config = server.config(
        namespace="app", load_method="overwrite", record_format="fields", key_template="usr:{id}"
    )
    run_target(config, rows("users", [1], "a"))
    with caplog.at_level(logging.INFO):
        run_target(config, rows("users", [2], "b"))
    assert "overwrite removed 1 records of earlier runs" in caplog.text
    assert "will rewrite its hash (fields) records keyed by template usr:{id}" in caplog.text
    assert manifest(r, "app", "users")["key_properties"] == '["id"]'
    assert not r.exists("app:users")  # no counter: fields records store no id
    assert snapshot(r, lambda key: key in before) == before
    assert sorted(set(r.keys("*")) - set(before)) == sorted(
        ["usr:2", *(KeySpace("app", "users").index_key, KeySpace("app", "users").manifest_key)]
    )


@pytest.mark.parametrize(
    ("namespace", "template"),
    [
        ("", "{id}"),
        ("", ":{id}"),
        ("", ":orders:{id}"),
        ("user", "user:{id}"),
        ("app", "app:{id}"),
        ("app", "ap{id}"),
        ("", "{id}:user"),
    ],
)
@pytest.mark.parametrize("method", ["upsert", "overwrite"])
def test_templates_inside_a_namespace_are_refused_at_start(
    server: RedisServer, r: redis.Redis, namespace: str, template: str, method: str
) -> None:
    r.set("untouched", "1")
    config = server.config(namespace=namespace, load_method=method, key_template=template)
    with pytest.raises(TargetRedisError, match="Setting 'key_template'"):
        TargetRedis(config=config)
    # A namespace named only in 'streams' counts too.
    config = server.config(
        load_method=method, key_template="user:{id}", streams={"x": {"namespace": "user"}}
    )
    with pytest.raises(TargetRedisError, match="namespace 'user''s stream keys"):
        TargetRedis(config=config)
    assert r.keys("*") == ["untouched"]


def test_string_upsert_with_template_cannot_replace_a_counter(
    server: RedisServer, r: redis.Redis
) -> None:
    """Issue 21: template ':{id}' and a record whose id is 's' replaced stream s's counter."""
    run_target(server.config(), rows("s", [1], "a"))
    config = server.config(cache_type="string", load_method="upsert", key_template=":{id}")
    with pytest.raises(TargetRedisError, match="key_template"):
        run_target(config, rows("t", [1], "a"))
    assert r.get(":s") == "1"


def test_delete_leaves_a_key_the_stream_never_wrote(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = server.config(
        load_method="upsert", record_format="fields", key_template="usr:{id}", hard_delete=True
    )
    run_target(config, rows("s", [1, 2], "a"))
    r.hset("usr:7", "name", "foreign")
    deletes = singer_lines(
        schema_msg("s", {**PROPS, "_sdc_deleted_at": {"type": ["null", "string"]}}, ["id"]),
        record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        record_msg("s", {"id": 7, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    )
    with caplog.at_level(logging.WARNING):
        run_target(config, deletes)
    assert sorted(r.keys("usr:*")) == ["usr:2", "usr:7"]
    assert r.hgetall("usr:7") == {"name": "foreign"}
    assert r.smembers(KeySpace("", "s").index_key) == {"usr:2"}
    assert "a delete names a key this stream never wrote (e.g. usr:7)" in caplog.text


def test_activate_version_retires_only_its_own_keys(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        load_method="upsert",
        record_format="fields",
        key_template="usr:{id}",
        hard_delete=True,
        add_record_metadata=True,
        process_activate_version_messages=True,
    )
    run_target(config, rows("s", [1, 2], "a"))
    r.hset("usr:7", "name", "foreign")  # no version: would be retired if it were ours
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 5},
        {"type": "RECORD", "stream": "s", "record": {"id": 2, "v": "b2"}, "version": 5},
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 5},
    )
    run_target(config, text)
    assert sorted(r.keys("usr:*")) == ["usr:2", "usr:7"]
    assert r.smembers(KeySpace("", "s").index_key) == {"usr:2"}


def test_primary_key_stream_of_0_2_is_adopted(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = server.config(load_method="upsert", hard_delete=True)
    run_target(config, rows("s", [1, 2], "a"))
    space = KeySpace("", "s")
    r.delete(space.index_key)
    r.hdel(space.manifest_key, "key_index", "issued")  # as 0.2 wrote it
    with caplog.at_level(logging.INFO):
        run_target(config, rows("s", [3], "b"))
    assert "recorded the 2 keys it holds under :s:" in caplog.text
    assert r.smembers(space.index_key) == {":s:1", ":s:2", ":s:3"}
    run_target(
        config,
        singer_lines(
            schema_msg("s", PROPS, ["id"]),
            record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        ),
    )
    assert sorted(r.keys(":s:*")) == [":s:2", ":s:3"]


def test_template_stream_of_0_2_is_not_adopted_by_shape(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = server.config(load_method="overwrite", record_format="fields", key_template="usr:{id}")
    run_target(config, rows("s", [1, 2], "a"))
    space = KeySpace("", "s")
    r.delete(space.index_key)
    r.hdel(space.manifest_key, "key_index")
    with caplog.at_level(logging.WARNING):
        run_target(config, rows("s", [2, 3], "b"))
    assert "written with key_template 'usr:{id}' before target-redis kept a record" in caplog.text
    assert sorted(r.keys("usr:*")) == ["usr:1", "usr:2", "usr:3"]  # usr:1 left, as said
    assert r.smembers(space.index_key) == {"usr:2", "usr:3"}
    assert manifest(r, "", "s")["key_properties"] == '["id"]'


# -- another writer appending into an upsert stream's key space (issue 21, item 5)


def test_upsert_refuses_after_another_writer_appended(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="upsert")
    run_target(config, rows("p", [1, 2], "a"))
    last = r.incrby(":p", 1)  # Airbyte appends its record 3
    r.hset(f":p:{last}", mapping={"_airbyte_ab_id": str(last), "_airbyte_data": "{}"})
    before = snapshot(r, lambda key: True)
    with pytest.raises(TargetRedisError, match="another writer appended records to its key"):
        run_target(config, rows("p", [3], "b"))
    assert snapshot(r, lambda key: True) == before


def test_concurrent_upserts_of_one_stream_are_not_another_writer(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(load_method="upsert", batch_size_rows=1)
    run_target(config, rows("p", [1], "a"))
    first = TargetRedis(config=config)
    try:
        first.process_lines(io.StringIO(rows("p", [2, 3], "b")))  # batches written
        run_target(config, rows("p", [4, 5], "c"))  # a second run meanwhile
        first.process_lines(io.StringIO(rows("p", [6], "b")))
        first.process_endofpipe()
    finally:
        first.close()
    run_target(config, rows("p", [7], "d"))
    assert sorted(int(k.split(":")[2]) for k in r.keys(":p:*")) == [1, 2, 3, 4, 5, 6, 7]


def test_a_lost_counter_stops_the_next_append(server: RedisServer, r: redis.Redis) -> None:
    """Issue 21: stream a:1's counter clobbered, then deleted; its next append overwrote
    its own records. A counter behind the ids issued is refused."""
    config = server.config(cache_type="string")
    run_target(config, rows("s", [1, 2, 3], "a"))
    r.delete(":s")
    with pytest.raises(TargetRedisError, match="Redis lost the stream's counter :s"):
        run_target(config, rows("s", [4], "b"))
    assert [json.loads(r.get(f":s:{i}"))["v"] for i in (1, 2, 3)] == ["a1", "a2", "a3"]


# -- sorted sets (issue 21, items 6 and 7)


@pytest.mark.parametrize("ttl", [0, 600])
@pytest.mark.parametrize("method", ["append-only", "overwrite"])
def test_fixed_key_sorted_set_gets_ttl_seconds_or_none(
    server: RedisServer, r: redis.Redis, ttl: int, method: str
) -> None:
    config = server.config(
        cache_type="sorted_set",
        score_field="id",
        key_template="board",
        ttl_seconds=ttl,
        load_method=method,
    )
    run_target(config, rows("s", [1, 2], "a"))
    assert r.zcard("board") == 2
    assert r.ttl("board") == -1 if not ttl else 590 <= r.ttl("board") <= 600


@pytest.mark.parametrize("hard_delete", [True, False])
def test_sorted_set_delete_rows_need_no_score(
    server: RedisServer, r: redis.Redis, hard_delete: bool
) -> None:
    props = {**PROPS, "ts": {"type": "integer"}, "_sdc_deleted_at": {"type": ["null", "string"]}}
    config = server.config(cache_type="sorted_set", score_field="ts", hard_delete=hard_delete)
    text = singer_lines(
        schema_msg("s", props, ["id"]),
        record_msg("s", {"id": 1, "v": "a", "ts": 10}),
        record_msg("s", {"id": 2, "v": "b", "ts": 20}),
        record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
        state_msg({"done": 1}),
    )
    run = run_target(config, text)
    assert run.states == [{"done": 1}]
    expected = [("2", 20.0)] if hard_delete else [("1", 10.0), ("2", 20.0)]
    assert r.zrange(":s", 0, -1, withscores=True) == expected
