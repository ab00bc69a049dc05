"""Key spaces: manifests, overwrite of the whole key space, refused and allowed switches
of load method and cache type on one stream. Read back from a real server."""

from __future__ import annotations

import json
import logging
import re

import pytest
import redis
from helpers import manifest, record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.keyspace import KeySpace

ORDER_PROPS = {
    "customer": {"type": "string"},
    "order_no": {"type": "string"},
    "v": {"type": "integer"},
}
PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def rows_input(stream: str, rows: list[tuple[int, str]], key: list[str] | None = None) -> str:
    return singer_lines(
        schema_msg(stream, PROPS, ["id"] if key is None else key),
        *[record_msg(stream, {"id": i, "v": v}) for i, v in rows],
        state_msg({"done": stream}),
    )


def docs(r: redis.Redis, stream: str, namespace: str = "") -> list[dict]:
    """Every record the stream holds, whatever its cache type, sorted."""
    space = KeySpace(namespace, stream)
    found: list[str] = []
    kind = r.type(space.key)
    if kind == "list":
        found = r.lrange(space.key, 0, -1)
    elif kind == "set":
        found = list(r.smembers(space.key))
    elif kind == "stream":
        found = [fields["_airbyte_data"] for _, fields in r.xrange(space.key)]
    mine = space.own_records(list(r.scan_iter(match=space.pattern)), _writer(r))
    for key in mine:
        found.append(r.hget(key, "_airbyte_data") if r.type(key) == "hash" else r.get(key))
    return sorted((json.loads(text) for text in found), key=json.dumps)


def _writer(r: redis.Redis):
    from target_redis.server import ServerInfo
    from target_redis.writer import Writer

    return Writer(r, ServerInfo((7, 0)))


def record_keys(r: redis.Redis, stream: str, namespace: str = "") -> list[str]:
    space = KeySpace(namespace, stream)
    return sorted(space.own_records(list(r.scan_iter(match=space.pattern)), _writer(r)))


def snapshot(r: redis.Redis) -> dict[str, object]:
    return {key: r.dump(key) for key in sorted(r.keys("*"))}


def v(*values: str) -> list[dict]:
    return sorted(({"id": int(x[1:]), "v": x} for x in values), key=json.dumps)


# -- defect 1: overwrite after upsert leaves stale records


def orders_input(rows: list[tuple[str, str, int]]) -> str:
    return singer_lines(
        schema_msg("orders", ORDER_PROPS, ["customer", "order_no"]),
        *[record_msg("orders", {"customer": c, "order_no": o, "v": n}) for c, o, n in rows],
        state_msg({"done": 1}),
    )


FIVE = [("c1", "A-1", 1), ("c1", "A-2", 2), ("c2", "A:3", 3), ("c\\3", "B-4", 4), ("c4", "5", 5)]


@pytest.mark.parametrize("overwrite_keys", ["auto", "primary-key", "ids"])
def test_overwrite_after_upsert_removes_deleted_rows(
    server: RedisServer, r: redis.Redis, overwrite_keys: str
) -> None:
    run_target(server.config(load_method="upsert"), orders_input(FIVE))
    assert len(record_keys(r, "orders")) == 5
    four = [row for row in FIVE if row[1] != "A-2"]  # deleted at the source
    config = server.config(load_method="overwrite", overwrite_keys=overwrite_keys)
    for _ in range(2):
        run_target(config, orders_input(four))
        assert sorted(d["v"] for d in docs(r, "orders")) == [1, 3, 4, 5]
        assert len(record_keys(r, "orders")) == 4
    keys = record_keys(r, "orders")
    if overwrite_keys == "ids":
        assert manifest(r, "", "orders")["keys"] == "ids"
        assert all(key.split(":")[-1].isdigit() for key in keys)
    else:  # keyed as upsert keys them: an upsert can follow
        assert manifest(r, "", "orders")["keys"] == "primary-key"
        assert ":orders:c2:A\\:3" in keys and ":orders:c\\\\3:B-4" in keys
        run_target(server.config(load_method="upsert"), orders_input([("c1", "A-1", 10)]))
        assert sorted(d["v"] for d in docs(r, "orders")) == [3, 4, 5, 10]


# -- defect 2: a switch of load method that would mix key schemes is refused


def test_upsert_after_append_is_refused_and_changes_nothing(
    server: RedisServer, r: redis.Redis
) -> None:
    seven = [(i, f"v{i}") for i in range(1, 8)]
    append = server.config(load_method="append-only")
    run_target(append, rows_input("customers", seven))
    run_target(append, rows_input("customers", seven))
    before = snapshot(r)
    done = run_cli(server.config(load_method="upsert"), rows_input("customers", seven))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert (
        "Stream 'customers' holds hash records keyed by ids (manifest "
        ":{:customers}:target-redis-manifest:customers); load_method upsert would write hash "
        "records keyed by primary key (id) next to them. Nothing was written. To convert the "
        "stream, run it once with load_method: overwrite with cache_type: hash and "
        "overwrite_keys: primary-key."
    ) in errors[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert snapshot(r) == before
    # The conversion it names, then upsert: 7 keys for 7 rows.
    convert = server.config(load_method="overwrite", overwrite_keys="primary-key")
    run_target(convert, rows_input("customers", seven))
    run_target(server.config(load_method="upsert"), rows_input("customers", [(2, "new")]))
    assert record_keys(r, "customers") == sorted(f":customers:{i}" for i in range(1, 8))
    assert r.hget(":customers:2", "_airbyte_data") == '{"id":2,"v":"new"}'


# -- every transition on one stream


def ids_config(server: RedisServer, method: str, cache: str = "hash", **extra: object) -> dict:
    return server.config(load_method=method, cache_type=cache, **extra)


ALLOWED = [
    # (first cache, first method, then cache, then method, second-run contents)
    ("hash", "append-only", "hash", "append-only", ("a1", "a2", "b2", "b3")),
    ("hash", "append-only", "hash", "overwrite", ("b2", "b3")),
    ("hash", "overwrite", "hash", "append-only", ("a1", "a2", "b2", "b3")),
    ("hash", "upsert", "hash", "upsert", ("a1", "b2", "b3")),
    ("hash", "upsert", "hash", "overwrite", ("b2", "b3")),
    ("hash", "append-only", "string", "overwrite", ("b2", "b3")),
    ("string", "upsert", "hash", "overwrite", ("b2", "b3")),
    ("hash", "upsert", "list", "overwrite", ("b2", "b3")),
    ("hash", "append-only", "set", "overwrite", ("b2", "b3")),
    ("list", "append-only", "hash", "overwrite", ("b2", "b3")),
    ("stream", "append-only", "string", "overwrite", ("b2", "b3")),
    ("list", "append-only", "set", "overwrite", ("b2", "b3")),
    ("set", "overwrite", "set", "append-only", ("a1", "a2", "b2", "b3")),
    ("list", "append-only", "list", "append-only", ("a1", "a2", "b2", "b3")),
]

REFUSED = [
    ("hash", "append-only", "hash", "upsert", "hash records keyed by ids"),
    ("hash", "upsert", "hash", "append-only", "hash records keyed by primary key (id)"),
    ("hash", "append-only", "string", "append-only", "hash records keyed by ids"),
    ("string", "upsert", "hash", "upsert", "string records keyed by primary key (id)"),
    ("hash", "append-only", "list", "append-only", "hash records keyed by ids"),
    ("list", "append-only", "hash", "append-only", "a list at the stream's key"),
    ("list", "append-only", "set", "append-only", "a list at the stream's key"),
    ("stream", "overwrite", "list", "append-only", "a stream at the stream's key"),
]

FIRST = [(1, "a1"), (2, "a2")]
SECOND = [(2, "b2"), (3, "b3")]


@pytest.mark.parametrize(("cache1", "method1", "cache2", "method2", "expected"), ALLOWED)
def test_allowed_transitions(
    server: RedisServer,
    r: redis.Redis,
    cache1: str,
    method1: str,
    cache2: str,
    method2: str,
    expected: tuple[str, ...],
) -> None:
    run_target(ids_config(server, method1, cache1), rows_input("s", FIRST))
    run_target(ids_config(server, method2, cache2), rows_input("s", SECOND))
    assert docs(r, "s") == v(*expected)
    kinds = {r.type(key) for key in record_keys(r, "s")}
    holder = r.type(":s")
    if cache2 in ("list", "set", "stream"):
        assert holder == cache2 and kinds == set()
    else:
        assert holder == "string" and kinds == {cache2}
    assert not [key for key in r.keys("*") if "tmp" in key]
    held = manifest(r, "", "s")
    assert (held["cache_type"], held["load_method"]) == (cache2, method2)
    assert "mixed_with" not in held


@pytest.mark.parametrize(("cache1", "method1", "cache2", "method2", "holds"), REFUSED)
def test_refused_transitions_change_nothing(
    server: RedisServer,
    r: redis.Redis,
    cache1: str,
    method1: str,
    cache2: str,
    method2: str,
    holds: str,
) -> None:
    run_target(ids_config(server, method1, cache1), rows_input("s", FIRST))
    before = snapshot(r)
    with pytest.raises(TargetRedisError, match=re.escape(f"Stream 's' holds {holds} ")) as caught:
        run_target(ids_config(server, method2, cache2), rows_input("s", SECOND))
    assert f"with cache_type: {cache2}" in str(caught.value)
    assert snapshot(r) == before


def test_another_key_property_under_upsert_is_refused(server: RedisServer, r: redis.Redis) -> None:
    run_target(server.config(load_method="upsert"), rows_input("s", FIRST))
    with pytest.raises(
        TargetRedisError, match=r"primary key \(id\) \(manifest .*primary key \(v\)"
    ):
        run_target(server.config(load_method="upsert"), rows_input("s", SECOND, key=["v"]))
    run_target(server.config(load_method="overwrite"), rows_input("s", SECOND, key=["v"]))
    assert record_keys(r, "s") == [":s:b2", ":s:b3"]


def test_unfinished_conversion_is_marked_until_an_overwrite_completes(
    server: RedisServer, r: redis.Redis
) -> None:
    run_target(server.config(load_method="append-only"), rows_input("s", FIRST))
    bad = (
        rows_input("s", SECOND).replace('"done"', '"x"')
        + '{"type": "RECORD", "stream": "s", "record": {"id": "x"}}\n'
    )
    convert = server.config(
        load_method="overwrite", overwrite_keys="primary-key", batch_size_rows=1
    )
    with pytest.raises(Exception, match=r"not of type|must be integer"):
        run_target(convert, bad)
    # Old records stay on a failed run, except where a new key is an old id (:s:2).
    assert docs(r, "s") == v("a1", "b2", "b3")
    assert manifest(r, "", "s")["mixed_with"] == "hash records keyed by ids"
    with pytest.raises(
        TargetRedisError, match=r"mixed with hash records keyed by ids \(an overwrite"
    ):
        run_target(server.config(load_method="upsert"), rows_input("s", SECOND))
    run_target(convert, rows_input("s", SECOND))
    assert record_keys(r, "s") == [":s:2", ":s:3"]
    assert "mixed_with" not in manifest(r, "", "s")


# -- streams whose names extend each other


@pytest.mark.parametrize("method", ["append-only", "upsert", "overwrite"])
def test_streams_s_s9_sx_never_touch_each_other(
    server: RedisServer, r: redis.Redis, method: str
) -> None:
    """Streams written before the namespace's registry (0.2) whose names extend each
    other: their keys stay apart (the registry is emptied before each run here)."""
    config = server.config(namespace="ns", load_method=method)
    names = ["s", "s:9", "s:x"]

    def run_alone(config: dict, text: str) -> None:
        # As 0.2 left them: no stream knows of the others (hide s's manifest meanwhile).
        for key in r.keys("ns:*target-redis-extended-by*"):
            r.delete(key)
        hidden = KeySpace("ns", "s").manifest_key
        if 'SCHEMA", "stream": "s"' not in text and r.exists(hidden):
            r.rename(hidden, "hidden")
        run_target(config, text)
        if r.exists("hidden"):
            r.rename("hidden", hidden)

    for round_ in ("a", "b"):
        for name in names:
            run_alone(config, rows_input(name, [(i, f"{round_}{i}") for i in range(1, 4)]))
        overwrite = server.config(namespace="ns", load_method="overwrite")
        run_alone(overwrite, rows_input("s", [(1, f"{round_}1")]))  # s alone, smaller
        expected_rest = [f"{round_}{i}" for i in range(1, 4)]
        if method != "overwrite":
            expected_rest = (
                ["a1", "a2", "a3", *expected_rest]
                if round_ == "b" and method == "append-only"
                else expected_rest
            )
        for name in ("s:9", "s:x"):
            assert sorted(d["v"] for d in docs(r, name, "ns")) == sorted(expected_rest), name
        assert [d["v"] for d in docs(r, "s", "ns")] == [f"{round_}1"]


@pytest.mark.parametrize(("first", "second"), [("s", "s:9"), ("a:1", "a"), ("s", "s:x:y")])
def test_stream_names_extending_each_other_are_refused(
    server: RedisServer, r: redis.Redis, first: str, second: str
) -> None:
    """Stream ``a``'s id 1 is stream ``a:1``'s counter: once one of them is known in
    the namespace, the other is refused before it writes, in this run or a later one."""
    config = server.config(cache_type="string")
    run_target(config, rows_input(first, [(1, "x")]))
    before = {key: r.dump(key) for key in r.keys("*")}
    with pytest.raises(TargetRedisError, match="one name extends the other after ':'"):
        run_target(config, rows_input(second, [(1, "y")]))
    assert {key: r.dump(key) for key in r.keys("*")} == before
    with pytest.raises(TargetRedisError, match="one name extends the other after ':'"):
        run_target(config, rows_input("t", [(1, "x")]) + rows_input("t:1", [(1, "y")]))
    # Another namespace is another key space.
    other = server.config(cache_type="string", namespace="other")
    run_target(other, rows_input(second, [(1, "y")]))
    assert r.get(f"other:{second}:1") is not None


@pytest.mark.parametrize("name", ["{", "{a}", "{a}b"])
def test_stream_names_starting_with_a_brace_are_refused(
    server: RedisServer, r: redis.Redis, name: str
) -> None:
    """Side keys live under ``N:{``: a stream named ``{...`` could name them."""
    run_target(server.config(), rows_input("a", [(1, "x")]))
    before = sorted(r.keys("*"))
    for method in ("append-only", "overwrite"):
        with pytest.raises(TargetRedisError, match="names starting with '\\{' are reserved"):
            run_target(server.config(load_method=method), rows_input(name, [(1, "y")]))
    assert sorted(r.keys("*")) == before


# -- streams written before manifests existed


def airbyte_stream(r: redis.Redis) -> None:
    r.set(":s", "3")
    for i in (1, 2, 3):
        r.hset(
            f":s:{i}",
            mapping={
                "_airbyte_ab_id": str(i),
                "_airbyte_emitted_at": "1",
                "_airbyte_data": json.dumps({"id": i, "v": f"old{i}"}),
            },
        )


def test_airbyte_stream_is_adopted_by_append_and_overwrite(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    airbyte_stream(r)
    with caplog.at_level(logging.INFO):
        run_target(server.config(), rows_input("s", [(4, "new4")]))
    assert "Stream 's' has no manifest: adopting the records with a counter" in caplog.text
    assert record_keys(r, "s") == [":s:1", ":s:2", ":s:3", ":s:4"]
    assert manifest(r, "", "s")["keys"] == "ids"
    run_target(server.config(load_method="overwrite"), rows_input("s", [(5, "new5")]))
    assert record_keys(r, "s") == [":s:5"]
    with pytest.raises(TargetRedisError, match="holds hash records keyed by ids"):
        run_target(server.config(load_method="upsert"), rows_input("s", FIRST))


@pytest.mark.parametrize("template", [None, "u:{id}"])
def test_stream_without_manifest_is_not_adopted_by_upsert(
    server: RedisServer, r: redis.Redis, template: str | None
) -> None:
    """Airbyte's ids and primary keys look alike (``:s:2``): an upsert would overwrite
    Airbyte's record 2. Refused, touching nothing; one overwrite converts the stream."""
    airbyte_stream(r)
    before = {key: r.dump(key) for key in r.keys("*")}
    config = server.config(load_method="upsert", key_template=template)
    with pytest.raises(TargetRedisError, match="holds records with a counter but no manifest"):
        run_target(config, rows_input("s", [(2, "u2")]))
    assert {k: r.dump(k) for k in r.keys("*")} == before
    run_target(
        server.config(load_method="overwrite", overwrite_keys="primary-key"),
        rows_input("s", [(2, "o2")]),
    )
    assert manifest(r, "", "s")["keys"] == "primary-key"
    assert sorted(r.keys(":s:*")) == [":s:2"]
    run_target(server.config(load_method="upsert"), rows_input("s", [(2, "u2"), (5, "u5")]))
    assert r.hget(":s:2", "_airbyte_data") == '{"id":2,"v":"u2"}'
    assert sorted(r.keys(":s:*")) == [":s:2", ":s:5"]


def test_single_key_without_manifest_refuses_per_record_append(
    server: RedisServer, r: redis.Redis
) -> None:
    r.rpush(":s", '{"id":1}')
    with pytest.raises(TargetRedisError, match="holds a list at the stream's key"):
        run_target(server.config(), rows_input("s", FIRST))
    assert r.lrange(":s", 0, -1) == ['{"id":1}'] and r.keys(":s:*") == []


# -- defect 3: overwrite on an incremental stream


def test_overwrite_of_an_incremental_stream_warns_once(server: RedisServer) -> None:
    """SDK taps send bookmark_properties on full-table streams too: only a STATE with a
    replication bookmark says the stream is incremental (issue 22)."""
    schema = schema_msg("s", PROPS, ["id"])
    schema["bookmark_properties"] = ["id"]
    text = singer_lines(
        schema,
        record_msg("s", {"id": 7, "v": "changed"}),
        state_msg({"bookmarks": {"s": {"replication_key": "id", "replication_key_value": 7}}}),
        state_msg({"bookmarks": {"s": {"replication_key": "id", "replication_key_value": 8}}}),
    )
    done = run_cli(server.config(load_method="overwrite"), text)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "looks incremental" in line]
    assert len(warnings) == 1
    assert "Stream 's' looks incremental (its STATE bookmark has replication_key)" in warnings[0]
    full_table = schema_msg("u", PROPS, ["id"])
    full_table["bookmark_properties"] = ["id"]
    full = singer_lines(full_table, state_msg({"bookmarks": {"u": {"version": 1}}}))
    assert "incremental" not in run_cli(server.config(load_method="overwrite"), full).stderr


# -- every transition between (cache type, load method) pairs on one stream

SHAPES = [
    (cache, method)
    for cache in ("hash", "string", "set", "list", "stream")
    for method in ("append-only", "overwrite", "upsert")
    if not (method == "upsert" and cache in ("set", "list", "stream"))
]
SINGLE = {"set", "list", "stream"}


def scheme(cache: str, method: str, held: str | None = None) -> str:
    """The key scheme a run writes (overwrite_keys: auto keeps what the stream holds)."""
    if cache in SINGLE:
        return f"single:{cache}"
    if method == "upsert" or (method == "overwrite" and held == "pk"):
        return f"pk:{cache}"
    return f"ids:{cache}"


def expected_after(first: tuple[str, str], second: tuple[str, str]) -> tuple[str, ...] | None:
    """The v values the stream holds after both runs, or None when the second is refused."""
    held = scheme(*first)
    planned = scheme(*second, held="pk" if held.startswith("pk") else None)
    if second[1] != "overwrite" and planned != held:
        return None
    if second[1] == "overwrite":
        return ("b2", "b3")
    if second[1] == "upsert":
        return ("a1", "b2", "b3")
    return ("a1", "a2", "b2", "b3")


@pytest.mark.parametrize("second", SHAPES, ids=lambda s: f"then-{s[0]}-{s[1]}")
@pytest.mark.parametrize("first", SHAPES, ids=lambda s: f"{s[0]}-{s[1]}")
def test_every_transition(
    server: RedisServer, r: redis.Redis, first: tuple[str, str], second: tuple[str, str]
) -> None:
    run_target(ids_config(server, first[1], first[0]), rows_input("s", FIRST))
    expected = expected_after(first, second)
    before = snapshot(r)
    if expected is None:
        with pytest.raises(TargetRedisError, match=r"Nothing was written\. To convert the stream"):
            run_target(ids_config(server, second[1], second[0]), rows_input("s", SECOND))
        assert snapshot(r) == before
        return
    run_target(ids_config(server, second[1], second[0]), rows_input("s", SECOND))
    assert sorted(d["v"] for d in docs(r, "s")) == sorted(expected)
    held = manifest(r, "", "s")
    assert (held["cache_type"], held["load_method"]) == second
    assert "mixed_with" not in held
    assert not [key for key in r.keys("*") if "tmp" in key or "lease" in key]
