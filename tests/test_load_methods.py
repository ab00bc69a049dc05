"""append-only, overwrite and upsert across runs, read back from a real server."""

from __future__ import annotations

import json

import pytest
import redis
from helpers import data_of, hashes, record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def stream_input(stream: str, rows: list[tuple[int, str]], key: list[str] | None = None) -> str:
    return singer_lines(
        schema_msg(stream, PROPS, key if key is not None else ["id"]),
        *[record_msg(stream, {"id": i, "v": v}) for i, v in rows],
        state_msg({"done": stream}),
    )


def test_append_keeps_both_runs_with_continuing_ids(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="append-only")
    run_target(config, stream_input("s", [(1, "a"), (2, "b")]))
    run_target(config, stream_input("s", [(1, "a2"), (3, "c")]))
    assert r.get(":s") == "4"
    assert sorted(hashes(r, ":s:*")) == [":s:1", ":s:2", ":s:3", ":s:4"]
    assert [d["v"] for d in data_of(r, ":s:*")] == ["a", "b", "a2", "c"]


def test_overwrite_leaves_only_second_run(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="overwrite", batch_size_rows=2)
    run_target(config, stream_input("s", [(1, "a"), (2, "b"), (3, "c")]))
    # Streams whose names extend ours (s2, and s:y with its counter): untouched. A key
    # in our key space that no run of ours wrote (:s:x, by hand) is not ours: kept.
    r.hset(":s2:1", mapping={"_airbyte_ab_id": "1", "_airbyte_data": "{}"})
    r.set(":s:y", "1")
    r.hset(":s:y:1", mapping={"_airbyte_ab_id": "1", "_airbyte_data": "{}"})
    r.hset(":s:x", mapping={"_airbyte_ab_id": "0", "_airbyte_data": "{}"})
    run = run_target(config, stream_input("s", [(4, "d"), (5, "e")]))
    assert run.states == [{"done": "s"}]
    assert r.get(":s") == "5"  # the counter keeps growing
    assert sorted(hashes(r, ":s:*")) == [":s:4", ":s:5", ":s:x", ":s:y:1"]
    assert [d["v"] for d in data_of(r, ":s:[0-9]*")] == ["d", "e"]
    assert r.exists(":s2:1")


def test_overwrite_with_zero_records_empties_the_stream(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(load_method="overwrite")
    run_target(config, stream_input("s", [(1, "a")]))
    run_target(config, stream_input("s", []))
    assert hashes(r, ":s:*") == {}
    assert r.get(":s") == "1"


def test_overwrite_failed_run_leaves_old_records(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="overwrite", batch_size_rows=1)
    run_target(config, stream_input("s", [(1, "a"), (2, "b")]))
    bad = (
        stream_input("s", [(3, "c")])
        + '{"type": "RECORD", "stream": "s", "record": {"id": "not-int"}}\n'
    )
    with pytest.raises(Exception, match=r"id must be integer|not of type"):
        run_target(config, bad)
    # Old records are all there; the new record that made it stays too.
    assert [d["v"] for d in data_of(r, ":s:*")] == ["a", "b", "c"]


def test_overwrite_schema_change_mid_run_keeps_all_records(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(load_method="overwrite")
    run_target(config, stream_input("s", [(1, "old")]))
    wider = {**PROPS, "extra": {"type": "boolean"}}
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 1, "v": "a"}),
        schema_msg("s", wider, ["id"]),
        record_msg("s", {"id": 2, "v": "b", "extra": True}),
        schema_msg("s", {**wider, "more": {"type": "string"}}, ["id"]),
        record_msg("s", {"id": 3, "v": "c"}),
    )
    run_target(config, text)
    assert [d["v"] for d in data_of(r, ":s:*")] == ["a", "b", "c"]
    assert r.get(":s") == "4"


def test_overwrite_two_streams_and_namespace(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="overwrite", namespace="n*[s]")
    both = stream_input("a", [(1, "a1")]) + stream_input("b", [(1, "b1")])
    run_target(config, both)
    run_target(config, stream_input("a", [(2, "a2")]) + stream_input("b", [(2, "b2")]))
    assert [d["v"] for d in data_of(r, "n\\*\\[s\\]:a:*")] == ["a2"]
    assert [d["v"] for d in data_of(r, "n\\*\\[s\\]:b:*")] == ["b2"]


def test_upsert_dedupes_within_batch_and_across_runs(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="upsert", batch_size_rows=3)
    run_target(config, stream_input("s", [(1, "a"), (2, "b"), (1, "a2"), (3, "c"), (3, "c2")]))
    assert sorted(hashes(r, ":s:*")) == [":s:1", ":s:2", ":s:3"]
    run_target(config, stream_input("s", [(2, "b2"), (4, "d")]))
    found = {k: json.loads(h["_airbyte_data"])["v"] for k, h in hashes(r, ":s:*").items()}
    assert found == {":s:1": "a2", ":s:2": "b2", ":s:3": "c2", ":s:4": "d"}
    # ids stay unique, follow write order and match the counter (high-water mark).
    ids = sorted(int(h["_airbyte_ab_id"]) for h in hashes(r, ":s:*").values())
    assert len(set(ids)) == 4
    assert max(ids) == int(r.get(":s"))


def test_upsert_composite_keys_with_colons(server: RedisServer, r: redis.Redis) -> None:
    props = {"a": {"type": "string"}, "b": {"type": "string"}, "v": {"type": "integer"}}
    text = singer_lines(
        schema_msg("s", props, ["a", "b"]),
        record_msg("s", {"a": "x:y", "b": "z", "v": 1}),
        record_msg("s", {"a": "x", "b": "y:z", "v": 2}),
        record_msg("s", {"a": "x:y", "b": "z", "v": 3}),
    )
    run_target(server.config(load_method="upsert"), text)
    found = {k: json.loads(h["_airbyte_data"])["v"] for k, h in hashes(r, ":s:*").items()}
    assert found == {":s:x\\:y:z": 3, ":s:x:y\\:z": 2}


def test_upsert_without_key_properties_appends_with_warning(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = server.config(load_method="upsert")
    run_target(config, stream_input("s", [(1, "a"), (1, "b")], key=[]))
    assert [d["v"] for d in data_of(r, ":s:*")] == ["a", "b"]
    assert "no key_properties: upsert falls back to append-only" in caplog.text


def test_upsert_null_key_is_refused_without_state(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(
        schema_msg("s", {"id": {"type": ["null", "integer"]}}, ["id"]),
        record_msg("s", {"id": None}),
        state_msg({"x": 1}),
    )
    with pytest.raises(TargetRedisError, match="key property 'id' is missing or null"):
        run_target(server.config(load_method="upsert"), text)
    assert r.keys("*") == []


def test_stream_map_reshapes_keys(server: RedisServer, r: redis.Redis) -> None:
    # README's example: keep two fields and key records by email.
    maps = {
        "users": {
            "__key_properties__": ["email"],
            "email": "email",
            "name": "name",
            "__else__": "__NULL__",
        }
    }
    props = {"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"}}
    text = singer_lines(
        schema_msg("users", props, ["id"]),
        record_msg("users", {"id": 1, "email": "a@x.io", "name": "Ann"}),
        record_msg("users", {"id": 2, "email": "a@x.io", "name": "Ann B"}),
    )
    run_target(server.config(load_method="upsert", stream_maps=maps), text)
    assert {k: json.loads(h["_airbyte_data"]) for k, h in hashes(r, ":users:*").items()} == {
        ":users:a@x.io": {"email": "a@x.io", "name": "Ann B"}
    }
