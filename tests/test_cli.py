"""The command line as users run it: exit codes, one-line errors, no secrets, no STATE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer, find_server_binary, free_port

SECRET = "s3cr3t-MARKER-pw"
GOOD_INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    record_msg("s", {"id": 1}),
    state_msg({"s": 1}),
)


def assert_one_clear_error(proc, *needles: str) -> str:
    assert proc.returncode != 0
    assert proc.stdout == "", "no STATE may be printed"
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def password_server() -> RedisServer:
    binary = find_server_binary()
    if binary is None:
        pytest.skip("no redis-server")
    server = RedisServer(binary, ["--requirepass", SECRET])
    yield server
    server.stop()


def test_pipe_run_prints_state_and_writes(server: RedisServer, r: redis.Redis) -> None:
    proc = run_cli(server.config(), GOOD_INPUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"s":1}\n'
    assert r.hget(":s:1", "_airbyte_data") == '{"id":1}'


def test_unreachable_server_fails_fast_naming_host_port() -> None:
    port = free_port()
    proc = run_cli({"host": "127.0.0.1", "port": port, "password": SECRET}, GOOD_INPUT)
    assert_one_clear_error(proc, f"127.0.0.1:{port}", "Cannot connect")
    assert SECRET not in proc.stderr


def test_wrong_password_is_clear_and_secret_free(password_server: RedisServer) -> None:
    proc = run_cli(password_server.config(password="wrong-" + SECRET), GOOD_INPUT)
    assert_one_clear_error(proc, f"{password_server.host}:{password_server.port}", "credentials")
    assert SECRET not in proc.stderr + proc.stdout


def test_missing_password_is_clear(password_server: RedisServer) -> None:
    proc = run_cli(password_server.config(), GOOD_INPUT)
    assert_one_clear_error(proc, str(password_server.port))


def test_password_only_server_accepts_password(password_server: RedisServer) -> None:
    proc = run_cli(password_server.config(password=SECRET), GOOD_INPUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"s":1}\n'
    assert SECRET not in proc.stderr
    with password_server.client(password=SECRET) as client:
        assert client.hget(":s:1", "_airbyte_ab_id") == "1"


def test_airbyte_config_is_accepted_as_is(server: RedisServer, r: redis.Redis) -> None:
    airbyte = {
        "host": server.host,
        "port": server.port,
        "username": "",
        "password": "",
        "ssl": False,
        "ssl_mode": {"mode": "disable"},
        "cache_type": "hash",
        "tunnel_method": {"tunnel_method": "NO_TUNNEL"},
    }
    proc = run_cli(airbyte, GOOD_INPUT)
    assert proc.returncode == 0, proc.stderr
    assert r.hget(":s:1", "_airbyte_ab_id") == "1"


def test_bad_setting_named_without_echoing_value(server: RedisServer) -> None:
    proc = run_cli(server.config(password=12345678, load_method="merge"), GOOD_INPUT)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "setting 'password' must be of type string" in proc.stderr
    assert "setting 'load_method' must be one of" in proc.stderr
    assert "12345678" not in proc.stderr


def test_malformed_json_names_line_and_writes_no_state(server: RedisServer) -> None:
    text = GOOD_INPUT + '{"type": "RECORD", "stream": "s", "record": {"id": 2\n' + GOOD_INPUT
    proc = run_cli(server.config(), text)
    assert_one_clear_error(proc, "Input line 4", "not valid JSON")


def test_record_before_schema_names_stream(server: RedisServer) -> None:
    proc = run_cli(
        server.config(), singer_lines(record_msg("ghost", {"id": 1}), state_msg({"x": 1}))
    )
    assert_one_clear_error(proc, "Input line 1", "'ghost'")


def test_invalid_record_is_rejected_with_no_state(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(
        schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
        record_msg("s", {"id": "one"}),
        state_msg({"s": 1}),
    )
    proc = run_cli(server.config(), text)
    assert_one_clear_error(proc, "Input line 2 (stream 's'): Record failed schema validation")
    assert r.keys("*") == []


def test_write_failure_is_one_line_and_no_state(server: RedisServer, r: redis.Redis) -> None:
    r.set(":s:1", "a string where a hash must go")
    line = assert_one_clear_error(run_cli(server.config(), GOOD_INPUT), "Stream 's'", "WRONGTYPE")
    assert "Input line" not in line
    assert "(HSET :s:1: WRONGTYPE" in line  # the command and key (a packed one's too)
    assert r.get(":s:1") == "a string where a hash must go"


def test_deferred_batch_failure_names_its_stream(server: RedisServer, r: redis.Redis) -> None:
    # Stream a's batch is sent and its replies read only when stream b writes next:
    # the failure is a's, and b's batch is not sent after it.
    r.set(":a:2", "a string where a hash must go")
    text = singer_lines(
        schema_msg("a", {"id": {"type": "integer"}}, ["id"]),
        schema_msg("b", {"id": {"type": "integer"}}, ["id"]),
        record_msg("a", {"id": 1}),
        record_msg("a", {"id": 2}),
        record_msg("b", {"id": 1}),
        record_msg("b", {"id": 2}),
        state_msg({"a": 2, "b": 2}),
    )
    proc = run_cli(server.config(batch_size_rows=2), text)
    line = assert_one_clear_error(
        proc, "Stream 'a': writing a batch of 2 records to Redis failed", "WRONGTYPE"
    )
    assert "Stream 'b'" not in line
    assert sorted(k for k in r.keys("*") if "manifest" not in k) == [":a", ":a:1", ":a:2"]


def test_deferred_batch_failure_without_state(server: RedisServer, r: redis.Redis) -> None:
    r.set(":s:1", "a string where a hash must go")
    text = singer_lines(
        schema_msg("s", {"id": {"type": "integer"}}, ["id"]), record_msg("s", {"id": 1})
    )
    assert_one_clear_error(run_cli(server.config(), text), "Stream 's'", "WRONGTYPE")


def test_activate_version_before_schema(server: RedisServer) -> None:
    text = json.dumps({"type": "ACTIVATE_VERSION", "stream": "s", "version": 1}) + "\n"
    proc = run_cli(server.config(), text)
    assert_one_clear_error(proc, "ACTIVATE_VERSION for stream 's' arrived before its SCHEMA")


def test_about_and_module_entry_point() -> None:
    proc = run_cli(None, "", "--about", "--format=json")
    assert proc.returncode == 0, proc.stderr
    about = json.loads(proc.stdout)
    assert about["name"] == "target-redis"
    settings = about["settings"]["properties"]
    assert settings["load_method"]["default"] == "append-only"
    assert settings["password"]["secret"] is True
    assert settings["cache_type"]["enum"] == [
        *("hash", "string", "json", "set", "list", "stream", "sorted_set"),
    ]
    assert {"activate-version", "batch"} <= set(about["capabilities"])
    assert "hard-delete" in about["capabilities"]


def test_normal_log_lines_avoid_failure_words(server: RedisServer) -> None:
    # Meltano's `config test` fails a loader whose output says "error" or "exception".
    text = singer_lines(
        schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
        *[record_msg("s", {"id": i}) for i in range(5)],
        state_msg({"s": 5}),
    )
    for config in (server.config(), server.config(load_method="overwrite", cache_type="list")):
        proc = run_cli(config, text, env={"LOGLEVEL": "DEBUG"})
        assert proc.returncode == 0, proc.stderr
        for line in (proc.stdout + proc.stderr).lower().splitlines():
            assert "error" not in line and "exception" not in line, line


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2"])
def test_a_config_file_that_is_not_json_ends_in_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    proc = run_cli(None, "", "--config", str(path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert "Config file could not be read" in error


def test_a_failed_batch_stops_the_next_one_of_its_stream(
    server: RedisServer, r: redis.Redis
) -> None:
    # The next batch takes its ids while the failed one's replies are unread (a gap in
    # the ids, no more), and is never sent.
    r.set(":s:2", "a string where a hash must go")
    text = singer_lines(
        schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
        *(record_msg("s", {"id": i}) for i in range(1, 5)),
        state_msg({"s": 4}),
    )
    proc = run_cli(server.config(batch_size_rows=2), text)
    assert_one_clear_error(proc, "Stream 's': writing a batch of 2 records", "WRONGTYPE")
    assert proc.stdout == ""
    assert sorted(k for k in r.keys(":s:*")) == [":s:1", ":s:2"]
