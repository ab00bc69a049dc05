"""Hostile input: one line naming the input line, exit 1, no traceback, no STATE after
the bad line, and nothing of it in Redis. Plus the inputs that must never make the
target reach the network or the disk."""

from __future__ import annotations

import http.server
import json
import os
import threading
import typing as t

import pytest
import redis
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

SCHEMA = schema_msg("s", {"id": {"type": "integer"}, "v": {"type": "string"}}, ["id"])
GOOD = singer_lines(SCHEMA, record_msg("s", {"id": 1, "v": "a"}), state_msg({"s": 1}))
DEEP = "[" * 3000 + "]" * 3000
ROUND = "[" * 900 + "]" * 900  # below the reader's limit, above Python's for recursion


def line(message: object) -> str:
    return json.dumps(message) + "\n"


def schema_with(properties: dict, **extra: t.Any) -> str:
    message = {
        "type": "SCHEMA",
        "stream": "t",
        "schema": {"type": "object", "properties": properties},
    }
    return line({**message, **extra})


def batch(stream: str, *urls: str) -> str:
    return line(
        {"type": "BATCH", "stream": stream, "encoding": {"format": "jsonl"}, "manifest": list(urls)}
    )


# (name, input, extra settings, the error line's fragments)
CORPUS: list[tuple[str, str | bytes, dict, list[str]]] = [
    (
        "invalid UTF-8",
        GOOD.encode() + b'{"type":"RECORD","stream":"s","record":{"id":2,"v":"\xff\xfe"}}\n',
        {},
        ["Input line 4:", "not valid UTF-8 (byte 0xff)"],
    ),
    (
        "record nested too deep",
        GOOD + '{"type":"RECORD","stream":"s","record":{"id":2,"v":' + DEEP + "}}\n",
        {},
        ["Input line 4"],  # too deep to read, or (where the decoder reads it) invalid
    ),
    (
        "state nested too deep",
        GOOD + '{"type":"STATE","value":' + DEEP + "}\n",
        {},
        ["Input line 4:", "nested too deeply"],
    ),
    (
        "state nested 900 levels",
        GOOD + '{"type":"STATE","value":{"a":' + ROUND + "}}\n",
        {},
        ["Input line 4:", "nested too deeply"],
    ),
    (
        "$ref that points nowhere",
        GOOD + schema_with({"id": {"$ref": "#/definitions/missing"}}),
        {},
        ["Input line 4:", "SCHEMA for stream 't': $ref '#/definitions/missing' points nowhere"],
    ),
    (
        "$id with a URL",
        GOOD + schema_with({"id": {"$id": "http://127.0.0.1:9/", "$ref": "#/x"}}),
        {},
        ["Input line 4:", "$id 'http://127.0.0.1:9/' makes references point outside"],
    ),
    (
        "SCHEMA whose stream is a list",
        GOOD
        + line({"type": "SCHEMA", "stream": ["s"], "schema": {"type": "object", "properties": {}}}),
        {},
        ["Input line 4:", "SCHEMA message: 'stream' must be a string"],
    ),
    (
        "RECORD whose stream is a number",
        GOOD + line({"type": "RECORD", "stream": 7, "record": {}}),
        {},
        ["Input line 4:", "RECORD message: 'stream' must be a string"],
    ),
    (
        "ACTIVATE_VERSION with a text version",
        GOOD + line({"type": "ACTIVATE_VERSION", "stream": "s", "version": "abc"}),
        {"process_activate_version_messages": True, "add_record_metadata": True},
        ["Input line 4:", "ACTIVATE_VERSION for stream 's': 'version' must be an integer"],
    ),
    (
        "BATCH before SCHEMA",
        batch("nope", "file:///tmp/x.jsonl"),
        {},
        ["Input line 1:", "BATCH for stream 'nope' arrived before its SCHEMA"],
    ),
    (
        "BATCH without a manifest list",
        GOOD
        + line({"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}, "manifest": "x"}),
        {},
        ["Input line 4:", "needs an 'encoding' object and a 'manifest' list"],
    ),
    ("whitespace-only line", GOOD + "   \t\n", {}, ["Input line 4:", "an empty line"]),
    ("empty line", GOOD + "\n", {}, ["Input line 4:", "an empty line"]),
]


@pytest.mark.parametrize(
    ("name", "text", "settings", "fragments"), CORPUS, ids=[c[0] for c in CORPUS]
)
def test_hostile_input(
    server: RedisServer,
    r: redis.Redis,
    name: str,
    text: str | bytes,
    settings: dict,
    fragments: list[str],
) -> None:
    done = run_cli({**server.config(state_checkpoint_records=1), **settings}, text)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert len(errors) == 1, done.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    # What came before the bad line landed, and its STATE is the last one printed.
    states = [json.loads(ln) for ln in done.stdout.splitlines()]
    assert states in ([], [{"s": 1}])
    assert sorted(r.scan_iter(match=":s:*")) == ([":s:1"] if states else [])
    assert r.keys(":t*") == []


def test_batch_file_holding_an_array_line(
    server: RedisServer, r: redis.Redis, tmp_path: t.Any
) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": 2, "v": "b"}\n[1, 2]\n')
    done = run_cli(server.config(), GOOD + batch("s", path.as_uri()))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert "Input line 4: Stream 's': BATCH file file://" in error
    assert "b.jsonl line 2 is not a JSON object." in error
    assert done.stdout == ""


def test_invalid_url_is_one_line_without_the_password(server: RedisServer) -> None:
    done = run_cli({"url": "redis://u:pw-SECRET@[::1/0"}, GOOD)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert "Setting 'url' is not a valid URL (Invalid IPv6 URL)." in error
    assert "pw-SECRET" not in done.stderr


def test_lone_surrogates_are_stored_as_replacement_characters(
    server: RedisServer, r: redis.Redis
) -> None:
    text = (
        singer_lines(SCHEMA) + '{"type":"RECORD","stream":"s","record":{"id":1,"v":"a\\ud800b"}}\n'
    )
    done = run_cli(server.config(), text)
    assert done.returncode == 0, done.stderr
    assert "Input line 2: lone surrogate escapes" in done.stderr
    assert r.hget(":s:1", "_airbyte_data") == '{"id":1,"v":"a\ufffdb"}'


# -- input that must not reach the network or the disk


class Recorder(http.server.BaseHTTPRequestHandler):
    requests: t.ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"type": "integer"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> t.Iterator[str]:
    Recorder.requests = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_remote_ref_is_refused_without_a_request(server: RedisServer, http_server: str) -> None:
    text = schema_with({"id": {"$ref": f"{http_server}/x.json"}}) + line(record_msg("t", {"id": 1}))
    done = run_cli(server.config(), text)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"$ref '{http_server}/x.json' points outside the schema" in done.stderr
    assert Recorder.requests == []


def test_batch_over_http_is_refused_without_a_request(
    server: RedisServer, http_server: str
) -> None:
    done = run_cli(server.config(), GOOD + batch("s", f"{http_server}/b.jsonl"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "manifest URL scheme 'http' is not supported" in done.stderr
    assert Recorder.requests == []


def test_file_ref_is_refused_without_opening_it(server: RedisServer, tmp_path: t.Any) -> None:
    fifo = tmp_path / "schema.json"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came: the run would hang
    text = schema_with({"id": {"$ref": fifo.as_uri()}}) + line(record_msg("t", {"id": 1}))
    done = run_cli(server.config(), text, timeout=60)
    assert done.returncode == 1
    assert "points outside the schema (only #/... is resolved)" in done.stderr


def test_local_refs_still_work(server: RedisServer, r: redis.Redis) -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "t",
        "schema": {
            "type": "object",
            "definitions": {"id": {"type": "integer"}},
            "properties": {"id": {"$ref": "#/definitions/id"}},
        },
        "key_properties": ["id"],
    }
    done = run_cli(server.config(), line(schema) + line(record_msg("t", {"id": 1})))
    assert done.returncode == 0, done.stderr
    bad = run_cli(server.config(), line(schema) + line(record_msg("t", {"id": "x"})))
    assert bad.returncode == 1 and "id must be integer" in bad.stderr
