"""BATCH files go through exactly what RECORD lines go through (issue 22): the same
records as RECORD lines and as BATCH files (plain and gzip) leave the same Redis, with
stream maps, flattening, invalid records and number lexemes in the input."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path

import pytest
import redis
from helpers import run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

PROPS = {
    "id": {"type": "integer"},
    "a": {"type": ["null", "number"]},
    "b": {"type": ["null", "number"]},
    "secret": {"type": ["null", "string"]},
    "nested": {"type": ["null", "object"], "properties": {"x": {"type": "integer"}}},
    "_sdc_deleted_at": {"type": ["null", "string"]},
}
LINES = [
    '{"id":1,"a":1e20,"b":1.50,"secret":"s3cret","nested":{"x":1}}',
    '{"id":2,"a":1.7976931348623157e+308,"b":0.0000001,"secret":"x","nested":{"x":2}}',
    '{"id":"two","a":1}',  # invalid: dead-lettered
    '{"id":3,"a":1e+38,"b":-0.0,"secret":null,"nested":null}',
    '{"id":1,"a":2E5,"b":12e0,"secret":"again","nested":{"x":3}}',
    '{"id":2,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}',
]
CONFIG = {
    "stream_maps": {"s": {"secret": "__NULL__", "label": "'#' + str(id)"}},
    "flattening_enabled": True,
    "flattening_max_depth": 1,
    "on_invalid_record": "dead_letter",
}
SHAPES = [
    {"load_method": "append-only"},
    {"load_method": "upsert"},
    {"load_method": "overwrite"},
    {"load_method": "upsert", "record_format": "fields", "key_template": "doc:{id}"},
    {"cache_type": "string", "load_method": "upsert", "hard_delete": True},
    {"cache_type": "list"},
    {"cache_type": "set", "load_method": "overwrite"},
    {"cache_type": "sorted_set", "score_field": "id", "hard_delete": True},
    {"cache_type": "stream", "record_format": "fields"},
]


def as_records(lines: list[str]) -> str:
    body = "".join(f'{{"type":"RECORD","stream":"s","record":{line}}}\n' for line in lines)
    return singer_lines(schema_msg("s", PROPS, ["id"])) + body + singer_lines(state_msg({"n": 1}))


def as_batches(lines: list[str], tmp: Path, compression: str) -> str:
    """The first record as a RECORD, the rest in two BATCH files, then one more RECORD:
    input order must hold across the two kinds."""
    files = []
    for index, chunk in enumerate((lines[1:4], lines[4:5])):
        path = tmp / f"{compression}-{index}.jsonl"
        data = "".join(line + "\n" for line in chunk).encode()
        path.write_bytes(gzip.compress(data) if compression == "gzip" else data)
        files.append(path.as_uri())
    batch = {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}}
    if compression == "gzip":
        batch["encoding"]["compression"] = "gzip"
    record = '{{"type":"RECORD","stream":"s","record":{}}}\n'
    return (
        singer_lines(schema_msg("s", PROPS, ["id"]))
        + record.format(lines[0])
        + singer_lines({**batch, "manifest": files})
        + record.format(lines[5])
        + singer_lines(state_msg({"n": 1}))
    )


def contents(r: redis.Redis) -> dict[str, t.Any]:
    """Every key's value, without what differs from run to run (times, stream entry
    ids, the dead letter's copy of the input line and its line number)."""
    found: dict[str, t.Any] = {}
    for key in sorted(r.keys("*")):
        kind = r.type(key)
        if kind == "hash":
            value: t.Any = {
                k: v
                for k, v in r.hgetall(key).items()
                if k not in ("_airbyte_emitted_at", "updated_at")
            }
        elif kind == "string":
            value = r.get(key)
        elif kind == "list":
            value = r.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(r.smembers(key))
        elif kind == "zset":
            value = r.zrange(key, 0, -1, withscores=True)
        else:  # stream: records, or the dead letter
            drop = ("_airbyte_ab_id", "_airbyte_emitted_at", "at", "line", "input_line")
            value = [
                {k: v.split(" (BATCH ")[0] for k, v in fields.items() if k not in drop}
                for _, fields in r.xrange(key)
            ]
        found[key] = value
    return found


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s.values())))
def test_batch_files_land_exactly_what_records_land(
    server: RedisServer, r: redis.Redis, tmp_path: Path, shape: dict
) -> None:
    config = server.config(**CONFIG, **shape)
    expected_states = [{"n": 1}]
    assert run_target(config, as_records(LINES)).states == expected_states
    expected = contents(r)
    assert all("s3cret" not in json.dumps(value) for value in expected.values())
    dead = [v for k, v in expected.items() if "dead-letter" in k]
    assert dead == [[{"stream": "s", "reason": "id must be integer (got 'two')"}]]
    if shape.get("cache_type") != "sorted_set":  # members are primary keys there
        assert "#1" in json.dumps(expected)  # the computed property landed
    for compression in ("none", "gzip"):
        r.flushall()
        assert run_target(config, as_batches(LINES, tmp_path, compression)).states == (
            expected_states
        )
        assert contents(r) == expected, compression


def test_number_text_is_kept_in_batch_files(
    server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    """Issue 22, item 2: a BATCH file's 1e20 was stored as 1E+20."""
    lines = ['{"id":1,"a":1e20}', '{"id":2,"a":1.7976931348623157e+308}', '{"id":3,"a":1e+38}']
    path = tmp_path / "n.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    batch = {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}}
    text = singer_lines(schema_msg("s", PROPS, ["id"]), {**batch, "manifest": [path.as_uri()]})
    run_target(server.config(), text)
    assert [r.hget(f":s:{i}", "_airbyte_data") for i in (1, 2, 3)] == lines


def test_batch_records_take_the_stream_maps_key_properties(
    server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    """Issue 22, item 3: with __key_properties__ from a map, every BATCH failed."""
    maps = {"s": {"uid": "id", "__key_properties__": ["uid"]}}
    config = server.config(load_method="upsert", stream_maps=maps)
    run_target(config, as_records(LINES[:2]))
    expected = contents(r)
    assert sorted(r.keys(":s:*")) == [":s:1", ":s:2"]
    r.flushall()
    lines = [LINES[0], LINES[1], LINES[3], LINES[4], LINES[0], LINES[1]]
    run_target(config, as_batches(lines, tmp_path, "none"))
    assert sorted(r.keys(":s:*")) == [":s:1", ":s:2", ":s:3"]
    data = contents(r)[":s:2"]["_airbyte_data"]
    assert data == expected[":s:2"]["_airbyte_data"] and '"uid":2' in data


@pytest.mark.parametrize("method", ["upsert", "overwrite"])
def test_batch_files_land_exactly_what_records_land_as_json(
    module_server: RedisServer, modules: redis.Redis, tmp_path: Path, method: str
) -> None:
    """The same, for RedisJSON documents (a real server with the module)."""
    config = module_server.config(**CONFIG, cache_type="json", load_method=method)
    run_target(config, as_records(LINES))
    expected = {
        key: modules.execute_command("JSON.GET", key) if modules.type(key) == "ReJSON-RL" else None
        for key in modules.keys(":s:*")
    }
    assert expected and all('"label":"#' in value for value in expected.values())
    for compression in ("none", "gzip"):
        modules.flushall()
        run_target(config, as_batches(LINES, tmp_path, compression))
        found = {key: modules.execute_command("JSON.GET", key) for key in modules.keys(":s:*")}
        assert found == expected, compression
