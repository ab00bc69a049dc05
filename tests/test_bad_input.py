"""Bad input and bad config: one clear line, exit 1, no traceback, no STATE, no secret."""

from __future__ import annotations

import json

import pytest
import redis
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

SECRET = "pw-SECRET-marker"
SCHEMA = schema_msg("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
GOOD = singer_lines(SCHEMA, record_msg("s", {"id": 1, "v": "a"}), state_msg({"s": 1}))


def line(message: object) -> str:
    return json.dumps(message) + "\n"


# (name, input text, extra settings, fragments the one error line must hold)
CORPUS = [
    (
        "malformed JSON",
        GOOD + '{"type": "RECORD", "stream": "s", "record": {"id": 2,,}}\n' + GOOD,
        {},
        ["Input line 4", "not valid JSON"],
    ),
    (
        "truncated last line",
        GOOD + '{"type": "RECORD", "stream": "s", "rec',
        {},
        ["Input line 4", "not valid JSON"],
    ),
    ("record before schema", line(record_msg("ghost", {"id": 1})), {}, ["Input line 1", "'ghost'"]),
    (
        "unknown message type",
        GOOD + line({"type": "RECORDS", "stream": "s"}),
        {},
        ["Input line 4", "unknown message type 'RECORDS'"],
    ),
    (
        "message without type",
        GOOD + line({"stream": "s", "record": {}}),
        {},
        ["Input line 4", "lacks required key(s): type"],
    ),
    ("message not an object", GOOD + "[1, 2, 3]\n", {}, ["Input line 4", "must be a JSON object"]),
    (
        "schema without properties",
        line({"type": "SCHEMA", "stream": "s", "schema": {"type": "object"}}),
        {},
        ["Input line 1", "SCHEMA for stream 's' has no 'properties'"],
    ),
    (
        "invalid record",
        singer_lines(SCHEMA, record_msg("s", {"id": "one"})),
        {},
        ["Input line 2 (stream 's')", "id must be integer"],
    ),
    (
        "missing key property under upsert",
        singer_lines(SCHEMA, record_msg("s", {"v": "x"})),
        {"load_method": "upsert"},
        ["Input line 2 (stream 's')", "key_properties"],
    ),
    (
        "null key property under upsert",
        singer_lines(
            schema_msg("s", {"id": {"type": ["null", "integer"]}}, ["id"]),
            record_msg("s", {"id": None}),
        ),
        {"load_method": "upsert"},
        ["Input line 2", "key property 'id' is missing or null"],
    ),
    (
        "activate version before schema",
        line({"type": "ACTIVATE_VERSION", "stream": "s", "version": 1}),
        {},
        ["Input line 1", "ACTIVATE_VERSION for stream 's' arrived before its SCHEMA"],
    ),
    (
        "record not an object",
        singer_lines(SCHEMA) + line({"type": "RECORD", "stream": "s", "record": [1]}),
        {},
        ["Input line 2", "RECORD of stream 's' is not a JSON object"],
    ),
    (
        "bad time_extracted",
        singer_lines(SCHEMA, record_msg("s", {"id": 1}, time_extracted="yesterday")),
        {},
        ["Input line 2", "time_extracted 'yesterday'"],
    ),
    (
        "batch file missing",
        singer_lines(SCHEMA)
        + line(
            {
                "type": "BATCH",
                "stream": "s",
                "encoding": {"format": "jsonl"},
                "manifest": ["file:///nonexistent/batch-1.jsonl"],
            }
        ),
        {},
        [
            "Input line 2",
            "BATCH for stream 's': file file:///nonexistent/batch-1.jsonl could not be read",
        ],
    ),
    ("wrong-typed setting", GOOD, {"port": "sixty"}, ["setting 'port' must be of type integer"]),
    (
        "unknown setting value",
        GOOD,
        {"load_method": "merge"},
        ["setting 'load_method' must be one of"],
    ),
    ("non-integer batch size", GOOD, {"batch_size_rows": "many"}, ["setting 'batch_size_rows'"]),
]


@pytest.mark.parametrize(
    ("name", "text", "settings", "fragments"), CORPUS, ids=[c[0] for c in CORPUS]
)
def test_bad_input(
    server: RedisServer, r: redis.Redis, name: str, text: str, settings: dict, fragments: list[str]
) -> None:
    tunnel = {"tunnel_method": "NO_TUNNEL", "tunnel_user_password": SECRET}
    proc = run_cli({**server.config(), **settings, "tunnel_method": tunnel}, text)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "", "no STATE"
    assert "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if "| ERROR" in ln]
    assert len(errors) == 1, proc.stderr  # a bad setting too: no generic second line
    message = errors[0]
    for fragment in fragments:
        assert fragment in message, message


def test_wrong_type_at_a_key(server: RedisServer, r: redis.Redis) -> None:
    r.set(":s:1", "not a hash")
    proc = run_cli(server.config(), GOOD)
    assert proc.returncode == 1 and proc.stdout == ""
    (error,) = [ln for ln in proc.stderr.splitlines() if "| ERROR" in ln]
    assert "a key already holds another Redis type" in error and ":s:1" in error


def test_unknown_setting_name_is_warned(server: RedisServer) -> None:
    proc = run_cli(server.config(hostname="typo"), GOOD)
    assert proc.returncode == 0
    assert "Unknown settings ignored: hostname" in proc.stderr
