"""RedisJSON and RediSearch on a real server (Valkey 8.1 with redis-stack's modules):
replacing a `fields` hash in place, JSON merges and nulls, JSON numbers."""

from __future__ import annotations

import logging

import pytest
import redis
from helpers import record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

PROPS = {"id": {"type": "integer"}, "name": {"type": ["null", "string"]}, "n": {}}
DELETED = {"_sdc_deleted_at": {"type": ["null", "string"]}}


def search(r: redis.Redis, *args: str) -> dict:
    reply = r.execute_command("FT.SEARCH", "idx", *args, "LIMIT", "0", "10000")
    if isinstance(reply, list):  # RESP2: total, then id, fields, id, fields...
        return {"total_results": reply[0], "ids": reply[1::2]}
    return {"total_results": reply["total_results"], "ids": [d["id"] for d in reply["results"]]}


@pytest.mark.parametrize("on_update", ["replace", "merge"])
def test_replacing_fields_hashes_leaves_one_document_per_key(
    module_server: RedisServer, modules: redis.Redis, on_update: str
) -> None:
    """Issue 21, item 8: a RENAME over the key left RediSearch the old document too."""
    modules.execute_command(
        "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "user:", "SCHEMA", "name", "TAG"
    )
    config = module_server.config(
        load_method="upsert", record_format="fields", key_template="user:{id}", on_update=on_update
    )
    for tag in ("old", "new"):
        text = singer_lines(
            schema_msg("u", PROPS, ["id"]),
            *[record_msg("u", {"id": i, "name": f"{tag}{i % 3}"}) for i in range(200)],
            state_msg({}),
        )
        run_target(config, text)
    assert search(modules, "*")["total_results"] == 200
    assert search(modules, "@name:{old0}")["total_results"] == 0
    assert search(modules, "@name:{new0}")["total_results"] == 67
    assert modules.keys("user:{*") == []  # no aside key was ever indexed or left
    assert modules.hgetall("user:5") == {"id": "5", "name": "new2"}


def merge_config(server: RedisServer, **extra: object) -> dict:
    return server.config(cache_type="json", load_method="upsert", on_update="merge", **extra)


def test_json_merge_removes_nulls_whether_or_not_the_key_existed(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = merge_config(module_server)
    first = singer_lines(
        schema_msg("s", PROPS, ["id"]), record_msg("s", {"id": 1, "name": "a", "n": 1})
    )
    run_target(config, first)
    again = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 1, "name": None, "n": {"x": None, "y": 2}}),
        record_msg("s", {"id": 2, "name": None, "n": {"x": None, "y": 2}}),
    )
    run_target(config, again)
    assert modules.execute_command("JSON.GET", ":s:1") == '{"id":1,"n":{"y":2}}'
    assert modules.execute_command("JSON.GET", ":s:2") == '{"id":2,"n":{"y":2}}'


def test_json_soft_delete_under_merge_only_adds_the_mark(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = merge_config(module_server)
    modules.execute_command("JSON.SET", "probe", "$", '{"kept":null}')
    props = {**PROPS, **DELETED}
    run_target(config, singer_lines(schema_msg("s", props, ["id"]), record_msg("s", {"id": 1})))
    modules.execute_command("JSON.SET", ":s:1", "$.own", "null")  # a null of its own
    delete = {"id": 1, "name": None, "n": None, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}
    run_target(config, singer_lines(schema_msg("s", props, ["id"]), record_msg("s", delete)))
    assert modules.execute_command("JSON.GET", ":s:1") == (
        '{"id":1,"own":null,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}'
    )


BIG = {"id": 1, "big": 12345678901234567890123, "tiny": 0.1000000000000000055, "ok": 1.5}
BIG_LINE = (
    '{"type":"RECORD","stream":"s","record":{"id":1,"big":12345678901234567890123,'
    '"tiny":0.1000000000000000055,"ok":1.50,"deep":[{"v":1e-400}]}}\n'
)
HUGE_LINE = '{"type":"RECORD","stream":"s","record":{"id":2,"deep":[{"v":1e400}]}}\n'
BIG_PROPS = {"id": {"type": "integer"}, "big": {}, "tiny": {}, "ok": {}, "deep": {}}


def test_json_inexact_numbers_warn_once_by_default(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    text = singer_lines(schema_msg("s", BIG_PROPS, ["id"])) + BIG_LINE + BIG_LINE
    with caplog.at_level(logging.WARNING):
        run_target(module_server.config(cache_type="json"), text)
    warned = [r.getMessage() for r in caplog.records if "RedisJSON stores as a double" in r.message]
    assert sorted(w.split("'")[3] for w in warned) == ["big", "deep", "tiny"]
    assert "property 'big' holds 12345678901234567890123" in warned[0]
    stored = modules.execute_command("JSON.GET", ":s:1")
    assert '"big":1.2345678901234568e22' in stored and '"ok":1.5' in stored


def test_json_inexact_numbers_as_strings(module_server: RedisServer, modules: redis.Redis) -> None:
    config = module_server.config(cache_type="json", json_inexact_numbers="string")
    run_target(config, singer_lines(schema_msg("s", BIG_PROPS, ["id"])) + BIG_LINE)
    assert modules.execute_command("JSON.GET", ":s:1") == (
        '{"id":1,"big":"12345678901234567890123","tiny":"0.1000000000000000055","ok":1.5,'
        '"deep":[{"v":"1e-400"}]}'
    )
    run_target(config, singer_lines(schema_msg("s", BIG_PROPS, ["id"])) + HUGE_LINE)
    assert modules.execute_command("JSON.GET", ":s:2") == '{"id":2,"deep":[{"v":"1e400"}]}'


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_json_number_beyond_a_double_is_an_invalid_record(
    module_server: RedisServer, modules: redis.Redis, on_invalid: str
) -> None:
    config = module_server.config(cache_type="json", on_invalid_record=on_invalid)
    text = singer_lines(schema_msg("s", BIG_PROPS, ["id"])) + HUGE_LINE
    if on_invalid == "fail":
        with pytest.raises(Exception, match="property 'deep' holds 1e400, beyond what RedisJSON"):
            run_target(config, text)
    else:
        run_target(config, text)
    assert modules.keys(":s:*") == []
