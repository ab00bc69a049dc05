"""search_index: RediSearch indexes built from the Singer schema, on a real server
(Valkey 8.1 with redis-stack's RediSearch and RedisJSON), queried as a user would."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import os
import struct
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest
import redis
from helpers import check_cli_sessions, record_msg, run_target, schema_msg, singer_lines, state_msg
from singer_sdk.exceptions import ConfigValidationError

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError

PROPS: dict[str, t.Any] = {
    "id": {"type": "integer"},
    "amount": {"type": ["null", "number"]},
    "active": {"type": ["null", "boolean"]},
    "country": {"type": ["null", "string"], "enum": ["DE", "FR", "US", None]},
    "name": {"type": ["null", "string"]},
    "created_at": {"type": ["null", "string"], "format": "date-time"},
    "birthday": {"type": ["null", "string"], "format": "date"},
    "tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "address": {"type": ["null", "object"], "properties": {"city": {"type": "string"}}},
    "embedding": {"type": ["null", "array"], "items": {"type": "number"}},
}
VECTORS = {"embedding": {"dim": 3, "distance": "L2", "algorithm": "FLAT"}}


def people() -> list[dict[str, t.Any]]:
    """Records with every type, edge values included."""
    return [
        {
            "id": 1,
            "amount": 1.50,
            "active": True,
            "country": "DE",
            "name": "Ada Lovelace",
            "created_at": "2024-03-01T10:00:00+02:00",
            "birthday": "1815-12-10",
            "tags": ["math", "poet"],
            "address": {"city": "London"},
            "embedding": [1, 0, 0],
        },
        {
            "id": 2,
            "amount": 1e20,
            "active": False,
            "country": "FR",
            "name": "Blaise Pascal",
            "created_at": "2024-03-01T09:30:00Z",
            "birthday": "1623-06-19",
            "tags": ["math"],
            "address": {"city": "Paris"},
            "embedding": [0, 1, 0],
        },
        {
            "id": 3,
            "amount": None,
            "active": None,
            "country": None,
            "name": "Grace Hopper",
            "created_at": None,
            "birthday": None,
            "tags": [],
            "address": None,
            "embedding": [0, 0, 1],
        },
        {
            "id": 4,
            "amount": 12345678901234567890,
            "active": True,
            "country": "US",
            "name": "Alan Turing",
            "created_at": "2024-03-02T00:00:00",
            "birthday": "1912-06-23",
            "tags": ["poet", "code"],
            "address": {"city": "Wilmslow"},
            "embedding": [0.9, 0.1, 0],
        },
    ]


def wait_indexed(r: redis.Redis, index: str) -> dict[str, t.Any]:
    """FT.INFO once the index has finished its background scan."""
    deadline = time.monotonic() + 30
    while True:
        info = r.execute_command("FT.INFO", index)
        if isinstance(info, list):
            info = dict(zip(info[::2], info[1::2], strict=True))
        if str(info.get("indexing")) in ("0", "0.0") or time.monotonic() > deadline:
            return info


def ids(r: redis.Redis, index: str, query: str, *args: t.Any) -> list[str]:
    """The keys a query finds (in the order it gives them)."""
    wait_indexed(r, index)
    reply = r.execute_command("FT.SEARCH", index, query, "NOCONTENT", *args, "LIMIT", "0", "1000")
    if isinstance(reply, dict):
        return [d["id"] for d in reply["results"]]
    return list(reply[1:])


def load(server: RedisServer, records: list[dict], **settings: t.Any) -> None:
    config = server.config(
        record_format="fields", key_template="user:{id}", load_method="upsert", **settings
    )
    config.setdefault("search_index", {"vectors": VECTORS})
    lines = [schema_msg("people", PROPS, ["id"]), *(record_msg("people", r) for r in records)]
    run_target(config, singer_lines(*lines, state_msg({"done": 1})))


def test_hash_index_answers_queries_like_the_records(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    load(module_server, people())
    r = modules
    assert ids(r, "idx:people", "*", "SORTBY", "id") == ["user:1", "user:2", "user:3", "user:4"]
    assert ids(r, "idx:people", "@amount:[1 2]") == ["user:1"]
    assert sorted(ids(r, "idx:people", "@amount:[100 +inf]")) == ["user:2", "user:4"]
    since = int(
        datetime.datetime(2024, 3, 1, 8, 30, tzinfo=datetime.timezone.utc).timestamp() * 1000
    )
    assert sorted(ids(r, "idx:people", f"@created_at__epoch_ms:[{since} +inf]")) == [
        "user:2",
        "user:4",
    ]
    assert ids(r, "idx:people", "*", "SORTBY", "created_at__epoch_ms", "ASC")[:3] == [
        "user:1",
        "user:2",
        "user:4",
    ]
    assert sorted(ids(r, "idx:people", "@tags:{poet}")) == ["user:1", "user:4"]
    assert ids(r, "idx:people", "@active:{true} @country:{US}") == ["user:4"]
    assert ids(r, "idx:people", "@name:hopper") == ["user:3"]
    assert ids(r, "idx:people", "@birthday__epoch_ms:[-inf 0]", "SORTBY", "birthday__epoch_ms") == [
        "user:2",
        "user:1",
        "user:4",
    ]
    knn = r.execute_command(
        "FT.SEARCH",
        "idx:people",
        "*=>[KNN 2 @embedding $v AS d]",
        "PARAMS",
        "2",
        "v",
        struct.pack("<3f", 1, 0, 0),
        "SORTBY",
        "d",
        "RETURN",
        "1",
        "d",
        "DIALECT",
        "2",
    )
    print(knn)
    stored = r.hmget("user:1", "created_at__epoch_ms", "tags__tags", "tags", "created_at")
    assert stored == ["1709280000000", "math,poet", '["math","poet"]', "2024-03-01T10:00:00+02:00"]
    with redis.Redis(host=module_server.host, port=module_server.port) as raw:
        assert raw.hget("user:4", "embedding") == struct.pack("<3f", 0.9, 0.1, 0)
    info = wait_indexed(r, "idx:people")
    print(info)


def test_json_documents_index_leaves_arrays_and_dates(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = module_server.config(
        cache_type="json", load_method="upsert", search_index={"vectors": VECTORS}
    )
    lines = [schema_msg("people", PROPS, ["id"]), *(record_msg("people", p) for p in people())]
    run_target(config, singer_lines(*lines))
    r = modules
    assert ids(r, "idx:people", "*", "SORTBY", "id") == [
        ":people:1",
        ":people:2",
        ":people:3",
        ":people:4",
    ]
    assert sorted(ids(r, "idx:people", "@tags:{poet}")) == [":people:1", ":people:4"]
    assert ids(r, "idx:people", "@address_city:paris") == [":people:2"]
    assert ids(r, "idx:people", "@amount:[1 2]") == [":people:1"]
    assert ids(r, "idx:people", "@active:{false}") == [":people:2"]
    assert ids(r, "idx:people", "*", "SORTBY", "created_at__epoch_ms")[:3] == [
        ":people:1",
        ":people:2",
        ":people:4",
    ]
    knn = r.execute_command(
        "FT.SEARCH",
        "idx:people",
        "*=>[KNN 1 @embedding $v]",
        "PARAMS",
        "2",
        "v",
        struct.pack("<3f", 0, 0.9, 0.1),
        "NOCONTENT",
        "DIALECT",
        "2",
    )
    assert [d["id"] for d in knn["results"]] == [":people:2"]
    doc = json.loads(r.execute_command("JSON.GET", ":people:1"))
    assert doc["created_at__epoch_ms"] == 1709280000000
    assert doc["tags"] == ["math", "poet"] and "tags__tags" not in doc
    assert json.loads(r.execute_command("JSON.GET", ":people:3"))["created_at__epoch_ms"] is None
    assert wait_indexed(r, "idx:people")["hash_indexing_failures"] in (0, "0")


def attributes(r: redis.Redis, index: str) -> dict[str, str]:
    info = wait_indexed(r, index)
    return {a["attribute"]: a["type"] for a in info["attributes"]}


def test_a_schema_that_adds_a_property_extends_the_index(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = module_server.config(record_format="fields", search_index=True, load_method="upsert")
    small = {"id": {"type": "integer"}, "name": {"type": "string"}}
    grown = {**small, "score": {"type": "integer"}}
    run_target(
        config,
        singer_lines(schema_msg("s", small, ["id"]), record_msg("s", {"id": 1, "name": "a"})),
    )
    assert attributes(modules, "idx:s") == {"id": "NUMERIC", "name": "TEXT"}
    caplog.clear()
    caplog.set_level(logging.INFO)
    text = singer_lines(
        schema_msg("s", small, ["id"]),
        record_msg("s", {"id": 2, "name": "b"}),
        schema_msg("s", grown, ["id"]),  # mid-run: the index grows before the record lands
        record_msg("s", {"id": 3, "name": "c", "score": 7}),
    )
    run_target(config, text)
    assert attributes(modules, "idx:s") == {"id": "NUMERIC", "name": "TEXT", "score": "NUMERIC"}
    assert ids(modules, "idx:s", "@score:[7 7]") == [":s:3"]
    assert ids(modules, "idx:s", "*", "SORTBY", "id") == [":s:1", ":s:2", ":s:3"]
    assert "search index idx:s extended with score" in caplog.text
    assert "created" not in caplog.text


def test_a_changed_type_rebuilds_the_index(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = module_server.config(record_format="fields", search_index=True, load_method="upsert")
    text_code = {"id": {"type": "integer"}, "code": {"type": "string"}}
    tag_code = {"id": {"type": "integer"}, "code": {"type": "string", "maxLength": 8}}
    run_target(
        config,
        singer_lines(schema_msg("s", text_code, ["id"]), record_msg("s", {"id": 1, "code": "a-b"})),
    )
    assert attributes(modules, "idx:s")["code"] == "TEXT"
    run_target(
        config,
        singer_lines(schema_msg("s", tag_code, ["id"]), record_msg("s", {"id": 2, "code": "c-d"})),
    )
    assert attributes(modules, "idx:s")["code"] == "TAG"
    assert ids(modules, "idx:s", "@code:{a\\-b}") == [":s:1"]  # the old keys indexed again
    assert "rebuilt (attribute 'code' was TEXT, now TAG)" in caplog.text


def count(r: redis.Redis, index: str, query: str = "*") -> int:
    wait_indexed(r, index)
    reply = r.execute_command("FT.SEARCH", index, query, "NOCONTENT", "LIMIT", "0", "0")
    return int(reply["total_results"] if isinstance(reply, dict) else reply[0])


SMALL = {
    "id": {"type": "integer"},
    "v": {"type": ["null", "string"], "maxLength": 10},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}


@pytest.mark.parametrize("on_update", ["replace", "merge"])
def test_upserts_and_deletes_keep_the_index_exact(
    module_server: RedisServer, modules: redis.Redis, on_update: str
) -> None:
    config = module_server.config(
        record_format="fields",
        search_index=True,
        load_method="upsert",
        hard_delete=True,
        on_update=on_update,
        key_template="item:{id}",
    )
    first = [record_msg("s", {"id": i, "v": "old"}) for i in range(10)]
    run_target(config, singer_lines(schema_msg("s", SMALL, ["id"]), *first))
    then = [
        *(record_msg("s", {"id": i, "v": "new"}) for i in range(5)),
        *(record_msg("s", {"id": i, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}) for i in (7, 8)),
    ]
    run_target(config, singer_lines(schema_msg("s", SMALL, ["id"]), *then))
    assert count(modules, "idx:s") == 8
    assert count(modules, "idx:s", "@v:{old}") == 3
    assert count(modules, "idx:s", "@v:{new}") == 5
    assert sorted(modules.keys("item:*")) == sorted(f"item:{i}" for i in (0, 1, 2, 3, 4, 5, 6, 9))


def test_overwrite_and_activate_version_keep_the_index_exact(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = module_server.config(
        record_format="fields", search_index=True, load_method="overwrite"
    )
    run_target(
        config,
        singer_lines(
            schema_msg("s", SMALL), *(record_msg("s", {"id": i, "v": "a"}) for i in range(6))
        ),
    )
    run_target(
        config,
        singer_lines(
            schema_msg("s", SMALL), *(record_msg("s", {"id": i, "v": "b"}) for i in range(3))
        ),
    )
    assert count(modules, "idx:s") == 3
    assert count(modules, "idx:s", "@v:{a}") == 0
    appended = module_server.config(record_format="fields", search_index=True)
    run_target(appended, singer_lines(schema_msg("s", SMALL), record_msg("s", {"id": 9, "v": "c"})))
    assert count(modules, "idx:s") == 4
    modules.flushall()
    versions = module_server.config(
        record_format="fields",
        search_index=True,
        load_method="upsert",
        hard_delete=True,
        add_record_metadata=True,
        process_activate_version_messages=True,
    )
    props = {**SMALL, "_sdc_table_version": {"type": ["null", "integer"]}}

    def version(n: int, keys: range) -> list[dict]:
        return [
            {"type": "ACTIVATE_VERSION", "stream": "s", "version": n},
            *(record_msg("s", {"id": i, "v": f"v{n}"}, version=n) for i in keys),
            {"type": "ACTIVATE_VERSION", "stream": "s", "version": n},
        ]

    run_target(
        versions,
        singer_lines(schema_msg("s", props, ["id"]), *version(1, range(5)), *version(2, range(2))),
    )
    assert count(modules, "idx:s") == 2
    assert count(modules, "idx:s", "@v:{v1}") == 0


def refusal(config: dict, *messages: dict) -> str:
    with pytest.raises((TargetRedisError, ConfigValidationError)) as caught:
        run_target(config, singer_lines(*messages))
    return str(caught.value)


def test_refusals_at_start(module_server: RedisServer, modules: redis.Redis) -> None:
    schema = schema_msg("s", SMALL, ["id"])
    fields = {"record_format": "fields", "load_method": "upsert"}
    cases = {
        "applies to 'record_format: fields' hashes and 'cache_type: json', not cache_type list": {
            "cache_type": "list",
            "streams": {"s": {"search_index": True}},
        },
        "key_template 'item{id}': an index selects keys by prefix": {
            **fields,
            "key_template": "item{id}",
            "search_index": True,
        },
        "'json_inexact_numbers: string' a number may be stored as text": {
            "cache_type": "json",
            "json_inexact_numbers": "string",
            "search_index": True,
        },
        "not in cluster_mode": {**fields, "cluster_mode": True, "search_index": True},
        "'search_index.tag_separator' fails the 'maxLength' rule": {
            **fields,
            "search_index": {"tag_separator": ";;"},
        },
        "fields 'v': 'GEO' is not TEXT, TAG or NUMERIC": {
            **fields,
            "search_index": {"fields": {"v": "GEO"}},
        },
        "stream 's' has no property 'nope'": {
            **fields,
            "search_index": {"fields": {"nope": "TAG"}},
        },
        "vector 'v' of stream 's' must be an array of numbers": {
            **fields,
            "search_index": {"vectors": {"v": {"dim": 2}}},
        },
    }
    cases["its index would select the keys under 'item:', where key_template (streams 'b')"] = {
        **fields,
        "streams": {
            "a": {"key_template": "item:{id}", "search_index": True},
            "b": {"key_template": "item:{id}:{v}"},
        },
    }
    for expected, settings in cases.items():
        assert expected in refusal(module_server.config(**settings), schema), expected
    assert modules.keys("*") == []
    clash = schema_msg("s", {**SMALL, "_sdc_deleted_at__epoch_ms": {"type": "integer"}}, ["id"])
    message = refusal(module_server.config(**fields, search_index=True), clash)
    assert (
        "has a property '_sdc_deleted_at__epoch_ms', the name of '_sdc_deleted_at''s companion"
        in message
    )
    message = refusal(
        module_server.config(
            **fields,
            search_index={"fields": {"id": "NUMERIC", "v": "NUMERIC"}},
            streams={"b": {"cache_type": "json"}},
        ),
        schema_msg("b", {"id": {"type": "integer"}, "flag": {"type": "boolean"}}, ["id"]),
    )
    assert "stream 'b' has no property 'v'" in message


def test_an_index_the_stream_does_not_own_is_refused_never_dropped(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    modules.execute_command(
        "FT.CREATE", "idx:s", "ON", "HASH", "PREFIX", "1", "mine:", "SCHEMA", "x", "TEXT"
    )
    config = module_server.config(record_format="fields", load_method="upsert", search_index=True)
    message = refusal(config, schema_msg("s", SMALL, ["id"]), record_msg("s", {"id": 1}))
    assert message == (
        "Stream 's': search index 'idx:s' exists and is not this stream's (its manifest "
        ":{:s}:target-redis-manifest:s does not record it). Nothing was written; drop it "
        "(FT.DROPINDEX) or set search_index's 'name'."
    )
    assert modules.execute_command("FT._LIST") == ["idx:s"]
    assert modules.keys(":s:*") == []


def test_two_streams_may_not_index_one_prefix(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = module_server.config(
        record_format="fields", load_method="upsert", key_template="item:{id}", search_index=True
    )
    message = refusal(config, schema_msg("a", SMALL, ["id"]), schema_msg("b", SMALL, ["id"]))
    assert "streams 'a' and 'b' would both index keys under 'item:'" in message


def test_without_the_module_search_index_is_refused_and_create_false_works(
    server: RedisServer, r: redis.Redis
) -> None:
    config = server.config(record_format="fields", search_index=True)
    message = refusal(config, schema_msg("s", SMALL))
    assert "Setting 'search_index' needs the search module (RediSearch: FT.CREATE)" in message
    values = server.config(record_format="fields", search_index={"create": False})
    record = {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:01Z"}
    run_target(values, singer_lines(schema_msg("s", SMALL), record_msg("s", record)))
    assert r.hgetall(":s:1") == {
        "id": "1",
        "_sdc_deleted_at": "2024-01-01T00:00:01Z",
        "_sdc_deleted_at__epoch_ms": "1704067201000",
    }


def test_values_an_index_cannot_use_are_invalid_records(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = module_server.config(
        record_format="fields",
        load_method="upsert",
        on_invalid_record="skip",
        search_index={"vectors": VECTORS},
    )
    good = people()[0]
    bad = [
        {**good, "id": 11, "tags": ["a,b"]},
        {**good, "id": 12, "embedding": [1, 2]},
        {**good, "id": 14, "created_at": "yesterday"},
    ]
    run_target(
        config,
        singer_lines(schema_msg("p", PROPS, ["id"]), *(record_msg("p", b) for b in [good, *bad])),
    )
    assert modules.keys(":p:*") == [":p:1"]
    for line in (
        "property 'tags' holds 'a,b', which contains tag_separator ','",
        "property 'embedding' is not an array of 3 numbers",
        "property 'created_at' holds 'yesterday', not a date or date-time",
    ):
        assert line in caplog.text, line
    fail = {**config, "on_invalid_record": "fail"}
    message = refusal(fail, schema_msg("p", PROPS, ["id"]), record_msg("p", bad[0]))
    assert "Stream 'p': property 'tags' holds 'a,b', which contains tag_separator ','" in message


ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_walkthrough(
    module_server: RedisServer, modules: redis.Redis, tmp_path: Path
) -> None:
    """docs/search.md as a user runs it: the load, every redis-cli line with its output,
    the KNN query with its output."""
    page = (ROOT / "docs" / "search.md").read_text(encoding="utf-8")
    config = json.loads(page.split("```json\n")[1].split("```")[0])
    config.update(host=module_server.host, port=module_server.port)
    (tmp_path / "search.json").write_text(json.dumps(config))
    load = page.split("```bash\n")[1].split("```")[0].strip()
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", load.replace("samples/", f"{ROOT}/samples/")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Stream 'products': search index idx:products created." in proc.stderr
    wait_indexed(modules, "idx:products")
    assert check_cli_sessions(page, module_server.port) == 7
    code = (
        page.split("```python\n")[1]
        .split("```")[0]
        .replace("port=6379", f"port={module_server.port}")
    )
    expected = page.split("```text\n")[1].split("```")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/search.md", "exec"), {})
    assert out.getvalue() == expected


@pytest.mark.parametrize("denied", ["ft.create", "ft._list"])
def test_a_user_who_may_not_run_ft_commands_is_refused(
    module_server: RedisServer, modules: redis.Redis, denied: str
) -> None:
    modules.execute_command(
        "ACL", "SETUSER", "loader", "reset", "on", ">pw", "~*", "+@all", f"-{denied}"
    )
    try:
        config = module_server.config(
            username="loader", password="pw", record_format="fields", search_index=True
        )
        message = refusal(config, schema_msg("s", SMALL))
    finally:
        modules.execute_command("ACL", "DELUSER", "loader")
    assert message.endswith(
        f"user 'loader' may not run {denied.upper()}, which search_index needs (User loader "
        f"has no permissions to run the '{denied.upper()}' command)."
    )
    assert modules.keys("*") == []


def test_a_top_level_setting_skips_other_shapes_next_to_indexed_streams(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = module_server.config(
        namespace="shop",
        search_index=True,
        streams={
            "users": {"record_format": "fields", "load_method": "upsert"},
            "docs": {"cache_type": "json", "load_method": "upsert", "on_update": "merge"},
            "events": {"cache_type": "list"},
            "raw": {},
        },
    )
    messages = [
        schema_msg("users", SMALL, ["id"]),
        schema_msg("docs", SMALL, ["id"]),
        schema_msg("events", SMALL),
        schema_msg("raw", SMALL),
        *(record_msg(s, {"id": 1, "v": "a"}) for s in ("users", "docs", "events", "raw")),
        record_msg("docs", {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    ]
    run_target(config, singer_lines(*messages))
    assert sorted(modules.execute_command("FT._LIST")) == ["idx:shop:docs", "idx:shop:users"]
    assert (
        "Stream 'events': search_index skipped (cache_type list, record_format airbyte)."
        in caplog.text
    )
    assert (
        "Stream 'raw': search_index skipped (cache_type hash, record_format airbyte)."
        in caplog.text
    )
    assert ids(modules, "idx:shop:users", "@v:{a}") == ["shop:users:1"]
    # merged in place: the delete's date and its companion laid over the document
    assert ids(
        modules, "idx:shop:docs", "@v:{a} @_sdc_deleted_at__epoch_ms:[1704067200000 1704067200000]"
    ) == ["shop:docs:1"]
    assert modules.lrange("shop:events", 0, -1) and modules.hgetall("shop:raw:1")


def test_create_false_writes_the_values_and_no_index(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    config = module_server.config(
        record_format="fields",
        load_method="overwrite",
        key_template="item:{id}",
        search_index={"create": False},
    )
    run_target(
        config,
        singer_lines(
            schema_msg("s", SMALL, ["id"]),
            record_msg("s", {"id": 1, "v": "a", "_sdc_deleted_at": None}),
        ),
    )
    assert modules.execute_command("FT._LIST") == []
    assert modules.hgetall("item:1") == {"id": "1", "v": "a"}
    indexed = module_server.config(
        record_format="fields", load_method="overwrite", key_template="item:{id}", search_index=True
    )
    records = [record_msg("s", {"id": i, "v": "b"}) for i in range(2, 6)]
    run_target(indexed, singer_lines(schema_msg("s", SMALL, ["id"]), *records))
    assert count(modules, "idx:s") == 4  # the overwrite's template keys, nothing aside
    assert sorted(modules.keys("item:*")) == ["item:2", "item:3", "item:4", "item:5"]


def test_overrides_choose_each_attribute(module_server: RedisServer, modules: redis.Redis) -> None:
    overrides = {
        "name": "tag sortable",
        "country": "skip",
        "created_at": "TAG",
        "amount": "NUMERIC",
    }
    load(module_server, people(), search_index={"fields": overrides})
    info = wait_indexed(modules, "idx:people")
    found = {a["attribute"]: (a["type"], a["flags"]) for a in info["attributes"]}
    assert found["name"] == ("TAG", ["SORTABLE"])
    assert found["created_at"] == ("TAG", [])  # the tap's text, no companion read
    assert found["amount"] == ("NUMERIC", [])
    assert "country" not in found and "created_at__epoch_ms" not in found
    assert ids(modules, "idx:people", "@name:{Grace Hopper}") == ["user:3"]
    assert ids(modules, "idx:people", "@created_at:{2024\\-03\\-01T09\\:30\\:00Z}") == ["user:2"]


def test_expired_records_leave_the_index(module_server: RedisServer, modules: redis.Redis) -> None:
    config = module_server.config(record_format="fields", search_index=True, ttl_seconds=1)
    run_target(
        config,
        singer_lines(schema_msg("s", SMALL), *(record_msg("s", {"id": i}) for i in range(3))),
    )
    deadline = time.monotonic() + 30
    # Polling, not a fixed wait: the index forgets a key once Redis deletes it (its
    # active expiry cycle), which may come a little after the key stops being visible.
    while count(modules, "idx:s") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(modules, "idx:s") == 0
    assert modules.keys(":s:*") == []
    assert int(wait_indexed(modules, "idx:s")["max_doc_id"]) == 3  # all three were indexed


def test_wide_schemas_grow_past_32_text_attributes_and_stop_at_128(
    module_server: RedisServer, modules: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """FT.ALTER could not add a 33rd TEXT attribute to an index created without
    MAXTEXTFIELDS (the run failed); RediSearch takes at most 128 TEXT attributes."""
    caplog.set_level(logging.INFO)
    config = module_server.config(record_format="fields", search_index=True, load_method="upsert")

    def strings(n: int) -> dict[str, t.Any]:
        return {"id": {"type": "integer"}, **{f"s{i:03d}": {"type": "string"} for i in range(n)}}

    for width in (30, 40, 130):
        record = {"id": width, **{f"s{i:03d}": f"w{width}" for i in range(width)}}
        run_target(
            config, singer_lines(schema_msg("s", strings(width), ["id"]), record_msg("s", record))
        )
    kinds = attributes(modules, "idx:s")
    assert sum(kind == "TEXT" for kind in kinds.values()) == 128
    assert "s128" not in kinds and "s127" in kinds
    assert (
        "search_index leaves out s128 (beyond 128 TEXT attributes), s129 (beyond 128" in caplog.text
    )
    assert ids(modules, "idx:s", "@s035:w40") == [":s:40"]
    assert ids(modules, "idx:s", "@s000:w30") == [":s:30"]


@pytest.mark.parametrize("cache_type", ["hash", "json"])
def test_property_names_an_index_could_misread(
    module_server: RedisServer,
    modules: redis.Redis,
    cache_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hash field named like an attribute option ('sortable') was read by FT.CREATE as
    the option of the attribute before it: the index was not created and the run failed."""
    caplog.set_level(logging.INFO)
    names = ["AS", "sortable", "TEXT", "SCHEMA", "weird name", 'quo"te', "ünï", "a.b", "@x", "{y}"]
    props = {"id": {"type": "integer"}, **{n: {"type": "string"} for n in names}}
    record = {"id": 1, **{n: f"v{i}" for i, n in enumerate(names)}}
    config = module_server.config(
        search_index=True,
        load_method="upsert",
        **({"record_format": "fields"} if cache_type == "hash" else {"cache_type": "json"}),
    )
    run_target(config, singer_lines(schema_msg("s", props, ["id"]), record_msg("s", record)))
    info = wait_indexed(modules, "idx:s")
    found = [a["attribute"] for a in info["attributes"]]
    indexed = [n for n in names if cache_type == "json" or n != "sortable"]
    assert found == ["id", *indexed]
    assert int(info["num_docs"]) == 1 and int(info["hash_indexing_failures"]) == 0
    assert ids(modules, "idx:s", "@weird\\ name:v4") == [":s:1"]
    if cache_type == "hash":
        assert "sortable (an FT.CREATE option's name; rename it with a stream map)" in caplog.text
