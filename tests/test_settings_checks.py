"""Settings checked at start, before any input: bounds, typos, TLS contradictions; and
records whose keys collide once lone surrogates are repaired."""

from __future__ import annotations

import io

import pytest
import redis
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg
from singer_sdk.exceptions import ConfigValidationError

from devtools.server import RedisServer
from target_redis.target import TargetRedis

SCHEMA = schema_msg("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
GOOD = singer_lines(SCHEMA, record_msg("s", {"id": 1, "v": "a"}), state_msg({"s": 1}))


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("ttl_seconds", -5, "at least 0"),
        ("stream_maxlen", -1, "at least 0"),
        ("batch_size_bytes", -1, "at least 0"),
        ("batch_size_rows", 0, "at least 1"),
        ("retry_max_seconds", -1, "at least 0"),
        ("wait_for_replicas", -1, "at least 0"),
        ("max_invalid_records", -2, "at least 0"),
        ("socket_timeout_seconds", 0, "more than 0"),
        ("port", 70000, "at most 65535"),
    ],
)
def test_numeric_settings_out_of_bounds_stop_the_run(
    server: RedisServer, r: redis.Redis, setting: str, value: int, rule: str
) -> None:
    config = server.config(**{setting: value})
    done = run_cli(config, GOOD)
    assert done.returncode != 0 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert f"setting '{setting}' must be {rule}" in done.stderr
    assert r.dbsize() == 0


def test_a_bound_holds_in_streams_entries(server: RedisServer, r: redis.Redis) -> None:
    done = run_cli(server.config(streams={"s": {"ttl_seconds": -5}}), GOOD)
    assert done.returncode != 0 and done.stdout == ""
    assert "setting 'streams.s.ttl_seconds' must be at least 0" in done.stderr
    assert r.dbsize() == 0


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("load_metod", "load_method"), ("cache_typ", "cache_type"), ("hard_deletes", "hard_delete")],
)
def test_a_misspelt_setting_stops_the_run(
    server: RedisServer, r: redis.Redis, typo: str, meant: str
) -> None:
    done = run_cli(server.config(**{typo: "upsert"}), GOOD)
    assert done.returncode == 1 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1
    assert f"Unknown setting '{typo}' (did you mean '{meant}'?)." in errors[0]
    assert r.dbsize() == 0


def test_a_setting_like_no_other_is_a_warning(server: RedisServer, r: redis.Redis) -> None:
    done = run_cli(server.config(airbyte_workspace_id="x"), GOOD)
    assert done.returncode == 0, done.stderr
    assert "Unknown settings ignored: airbyte_workspace_id" in done.stderr


@pytest.mark.parametrize("ssl", [False, "false"])
def test_ssl_false_with_a_tls_mode_is_refused_before_connecting(ssl: object) -> None:
    config = {"host": "127.0.0.1", "port": 1, "ssl": ssl, "ssl_mode": {"mode": "verify-full"}}
    done = run_cli(config, GOOD, timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    (error,) = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert "Settings 'ssl: false' and 'ssl_mode.mode: verify-full' contradict" in error
    assert "'ssl: true'" in error and "'ssl_mode.mode: disable'" in error
    assert "Cannot connect" not in done.stderr


def test_a_tls_failure_says_tls_was_attempted(server: RedisServer) -> None:
    """A plain-text server never answers the handshake."""
    config = server.config(ssl=True, ssl_mode={"mode": "require"}, connect_timeout_seconds=1)
    done = run_cli(config, GOOD, timeout=60)
    assert done.returncode == 1
    (error,) = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert f"{server.port}/0 over TLS (require)" in error


COLLIDING = '{"type":"RECORD","stream":"s","record":{"a":"\\ud800","\\ufffd":"real","\\udc00":"x"}}'


@pytest.mark.parametrize("on_invalid", ["fail", "skip"])
def test_keys_that_collide_once_repaired_make_the_record_invalid(
    server: RedisServer, r: redis.Redis, on_invalid: str
) -> None:
    props = {"a": {"type": "string"}, "\ufffd": {"type": "string"}, "id": {"type": "integer"}}
    text = singer_lines(schema_msg("s", props)) + COLLIDING + "\n" + singer_lines(state_msg({}))
    done = run_cli(server.config(on_invalid_record=on_invalid), text)
    if on_invalid == "fail":
        assert done.returncode == 1 and done.stdout == ""
        (error,) = [line for line in done.stderr.splitlines() if "| ERROR" in line]
        assert "Input line 2" in error and "two keys of the record are the same" in error
    else:
        assert done.returncode == 0, done.stderr
        assert "two keys of the record are the same" in done.stderr
    assert r.keys(":s:*") == []


def test_repaired_keys_keep_their_place(server: RedisServer, r: redis.Redis) -> None:
    props = {"a": {"type": "integer"}, "b": {"type": "integer"}}
    line = '{"type":"RECORD","stream":"s","record":{"a":1,"\\ud800x":2,"b":3}}\n'
    done = run_cli(server.config(), singer_lines(schema_msg("s", props)) + line)
    assert done.returncode == 0, done.stderr
    assert r.hget(":s:1", "_airbyte_data") == '{"a":1,"\ufffdx":2,"b":3}'


@pytest.mark.parametrize("method", ["append-only", "overwrite"])
def test_close_leaves_no_socket_open(server: RedisServer, method: str) -> None:
    """Issue 21, item 13: redis-py's close() leaves a pool it was handed open, so its
    sockets waited for the garbage collector (ResourceWarning under Meltano)."""
    target = TargetRedis(config=server.config(load_method=method))
    target.process_lines(io.StringIO(GOOD))
    target.process_endofpipe()
    pool = target.connection.client.connection_pool
    target.close()
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert connections and all(c._sock is None for c in connections)


@pytest.mark.parametrize(
    ("settings", "args"),
    [
        ({}, ()),
        ({"load_method": "overwrite"}, ()),
        ({"load_method": "upsert", "on_invalid_record": "dead_letter"}, ()),
        ({}, ("--test",)),
    ],
)
def test_every_connection_is_closed(
    server: RedisServer, settings: dict, args: tuple[str, ...]
) -> None:
    """Issue 21, item 13: Meltano sets PYTHONWARNINGS; an unclosed socket warned at exit."""
    env = {"PYTHONWARNINGS": "always::ResourceWarning", "PYTHONDEVMODE": "1"}
    done = run_cli(server.config(**settings), GOOD, *args, env=env)
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr[-2000:]


def test_a_config_error_in_process_carries_its_details() -> None:
    """pytest showed only 'Config validation failed'; the detail was in .errors."""
    with pytest.raises(ConfigValidationError) as raised:
        TargetRedis(config={"port": -1, "load_method": "merge"})
    assert "setting 'port' must be at least 1" in str(raised.value)
    assert "setting 'load_method' must be one of" in str(raised.value)
