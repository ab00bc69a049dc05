"""Fidelity and tolerance, read back from a real server: number text, _sdc_* fields and
dates as the tap sent them; invalid records skipped or dead-lettered; Airbyte-style
string settings; the load summary."""

from __future__ import annotations

import contextlib
import decimal
import io
import json
import logging

import pytest
import redis
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.server import RedisServer
from target_redis.invalid import dead_letter_key
from target_redis.reader import PlainReader
from target_redis.rows import Number, number
from target_redis.target import TargetRedis

NUMBERS = [
    "1e20", "1E20", "1e+20", "1E+20", "1e-7", "1E-7", "-1e5", "-1E-5", "12e0", "12E0",
    "1E2", "1.50", "100.000", "-0.0", "0.0", "5e-324", "1.7976931348623157e+308",
    "123456789012345678901234567890", "-123456789012345678901234567890",
    "1234567890.12345678901234567890", "0.1", "2.5e-7", "7",
]  # fmt: skip


class PlainTargetRedis(TargetRedis):
    fast_path = False
    message_reader_class = PlainReader


def number_lines(stream: str = "n") -> str:
    schema = json.dumps(
        schema_msg(stream, {"id": {"type": "integer"}, "x": {"type": "number"}}, ["id"])
    )
    rows = [
        f'{{"type":"RECORD","stream":"{stream}","record":{{"id":{i},"x":{text}}}}}'
        for i, text in enumerate(NUMBERS)
    ]
    return "\n".join([schema, *rows]) + "\n"


def run_in_process(cls: type[TargetRedis], config: dict, text: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        target = cls(config=dict(config))
        try:
            target.process_lines(io.StringIO(text))
            target.process_endofpipe()
        finally:
            target.close()


@pytest.mark.parametrize("cls", [TargetRedis, PlainTargetRedis], ids=["fast", "plain"])
@pytest.mark.parametrize("method", ["append-only", "upsert"])
def test_number_text_is_stored_exactly(
    server: RedisServer, r: redis.Redis, cls: type, method: str
) -> None:
    run_in_process(cls, server.config(load_method=method), number_lines())
    stored = {}
    for key in r.scan_iter(match=":n:*"):
        data = r.hget(key, "_airbyte_data")
        stored[json.loads(data)["id"]] = data
    assert stored == {i: f'{{"id":{i},"x":{text}}}' for i, text in enumerate(NUMBERS)}


def test_number_text_survives_a_soft_delete_merge(server: RedisServer, r: redis.Redis) -> None:
    props = {
        "id": {"type": "integer"},
        "x": {"type": "number"},
        "_sdc_deleted_at": {"type": ["null", "string"]},
    }
    config = server.config(load_method="upsert")
    run_target(
        config,
        singer_lines(schema_msg("s", props, ["id"]))
        + '{"type":"RECORD","stream":"s","record":{"id":1,"x":1e20}}\n',
    )
    delete = (
        json.dumps(record_msg("s", {"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"})) + "\n"
    )
    run_target(config, singer_lines(schema_msg("s", props, ["id"])) + delete)
    assert (
        r.hget(":s:1", "_airbyte_data")
        == '{"id":1,"x":1e20,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}'
    )


def test_unicode_and_control_characters_round_trip(server: RedisServer, r: redis.Redis) -> None:
    value = 'Zoë 李雷 🚀 \u2028\u2029 \x00\x01\x1f\x7f \t\n\r " \\ / é'
    run_target(
        server.config(),
        singer_lines(schema_msg("s", {"v": {"type": "string"}}), record_msg("s", {"v": value})),
    )
    text = r.hget(":s:1", "_airbyte_data")
    assert json.loads(text) == {"v": value}
    assert (
        "\n" not in text and "é" in text and "🚀" in text
    )  # compact UTF-8, escapes only where needed


# -- _sdc_* fields as the tap sent them

LOG_BASED = {
    "id": {"type": "integer"},
    "name": {"type": ["null", "string"]},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
    "_sdc_lsn": {"type": ["null", "integer"]},
}


def log_based_lines() -> str:
    return (
        json.dumps(schema_msg("s", LOG_BASED, ["id"])) + "\n"
        '{"type":"RECORD","stream":"s","record":{"id":1,"_sdc_deleted_at":null,"name":"a","_sdc_lsn":7}}\n'
        '{"type":"RECORD","stream":"s","record":{"id":2,"_sdc_deleted_at":"2024-01-01T00:00:00Z","name":null,"_sdc_lsn":8}}\n'
    )


def test_sdc_fields_are_stored_as_sent(server: RedisServer, r: redis.Redis) -> None:
    run_target(server.config(), log_based_lines())
    assert (
        r.hget(":s:1", "_airbyte_data") == '{"id":1,"_sdc_deleted_at":null,"name":"a","_sdc_lsn":7}'
    )
    assert r.hget(":s:2", "_airbyte_data") == (
        '{"id":2,"_sdc_deleted_at":"2024-01-01T00:00:00Z","name":null,"_sdc_lsn":8}'
    )


def test_record_metadata_is_added_after_the_tap_fields(server: RedisServer, r: redis.Redis) -> None:
    run_target(server.config(add_record_metadata=True), log_based_lines())
    data = json.loads(r.hget(":s:1", "_airbyte_data"))
    assert list(data) == [
        "id", "_sdc_deleted_at", "name", "_sdc_lsn",  # as sent
        "_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_sequence",
        "_sdc_table_version", "_sdc_sync_started_at",
    ]  # fmt: skip
    assert data["_sdc_deleted_at"] is None and data["_sdc_lsn"] == 7


# -- dates that are not ISO 8601


@pytest.mark.parametrize("validate", [True, False])
def test_bad_dates_are_stored_as_sent_with_one_warning(
    server: RedisServer, r: redis.Redis, validate: bool
) -> None:
    props = {
        "id": {"type": "integer"},
        "d": {"type": ["null", "string"], "format": "date"},
        "dt": {"type": ["null", "string"], "format": "date-time"},
        "t": {"type": ["null", "string"], "format": "time"},
    }
    records = [
        {"id": 1, "d": "2021-1-1", "dt": "yesterday", "t": "25:99"},
        {"id": 2, "d": "2021-13-45", "dt": "2021-02-30T00:00:00Z", "t": "noon"},
        {"id": 3, "d": "2021-01-01", "dt": "2021-01-01T00:00:00Z", "t": "12:00:00"},
    ]
    text = singer_lines(
        schema_msg("s", props, ["id"]),
        *[record_msg("s", rec) for rec in records],
        state_msg({"s": 3}),
    )
    done = run_cli(server.config(validate_records=validate), text)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"s": 3}]
    warnings = [ln for ln in done.stderr.splitlines() if "is not ISO 8601" in ln]
    assert len(warnings) == 3  # one per property, not per record
    assert (
        "Stream 's': property 'd' (format date) has a value that is not ISO 8601, e.g. '2021-1-1'"
        in done.stderr
    )
    for i, rec in enumerate(records, start=1):
        assert json.loads(r.hget(f":s:{i}", "_airbyte_data")) == rec


# -- invalid records: fail, skip, dead_letter

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def mixed_lines() -> str:
    rows = [
        record_msg("s", {"id": 1, "v": "a"}),
        record_msg("s", {"id": "two", "v": "b"}),  # line 3: not an integer
        record_msg("s", {"id": 3, "v": "c"}),
        state_msg({"s": 3}),
        record_msg("s", {"v": "no key"}),  # line 6: no key property
        record_msg("s", {"id": 4, "v": 4}),  # line 7: v not a string
        record_msg("s", {"id": 5, "v": "e"}),
        state_msg({"s": 5}),
    ]
    return singer_lines(
        schema_msg("s", {"id": {"type": ["null", "integer"]}, "v": {"type": "string"}}, ["id"]),
        *rows,
    )


@pytest.mark.parametrize("mode", ["skip", "dead_letter"])
@pytest.mark.parametrize("method", ["append-only", "upsert", "overwrite"])
def test_invalid_records_are_set_aside(
    server: RedisServer, r: redis.Redis, mode: str, method: str
) -> None:
    config = server.config(
        load_method=method, on_invalid_record=mode, batch_size_rows=3, state_checkpoint_records=1
    )
    done = run_cli(config, mixed_lines())
    assert done.returncode == 0, done.stderr
    states = [json.loads(x) for x in done.stdout.splitlines()]
    assert states[-1] == {"s": 5}  # STATE advances past what was set aside
    invalid_lines = [3, 6, 7]  # line 6 lacks its key property (the SDK checks it always)
    logged = [ln for ln in done.stderr.splitlines() if "invalid record" in ln]
    assert [int(ln.split("Input line ")[1].split(" ")[0]) for ln in logged] == invalid_lines
    assert all("(stream 's')" in ln for ln in logged)
    values = {json.loads(r.hget(k, "_airbyte_data"))["v"] for k in r.scan_iter(match=":s:*")}
    expected = {"a", "c", "e"}
    assert values == expected
    if method != "upsert":  # ids have no gaps: invalid records never got one
        assert sorted(int(k.split(":")[-1]) for k in r.scan_iter(match=":s:*")) == list(
            range(1, len(expected) + 1)
        )
    summary = next(ln for ln in done.stderr.splitlines() if "Load complete" in ln)
    assert f"s: {len(expected)} records, {len(invalid_lines)} invalid set aside in" in summary
    entries = r.xrange(dead_letter_key("", "s")) if mode == "dead_letter" else []
    assert len(entries) == (len(invalid_lines) if mode == "dead_letter" else 0)
    if mode == "dead_letter":
        source = mixed_lines().splitlines()
        for (_, fields), number in zip(entries, invalid_lines, strict=True):
            assert fields["line"] == source[number - 1]  # the exact input line
            assert fields["stream"] == "s" and fields["input_line"] == str(number)
            assert fields["reason"] and fields["at"].endswith("+00:00")


def test_fail_is_the_default(server: RedisServer, r: redis.Redis) -> None:
    done = run_cli(server.config(), mixed_lines())
    assert done.returncode == 1 and done.stdout == ""
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert "Input line 3 (stream 's'): Record failed schema validation" in error


def test_max_invalid_records(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        on_invalid_record="skip", max_invalid_records=1, state_checkpoint_records=1
    )
    done = run_cli(config, mixed_lines())
    assert done.returncode == 1
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert (
        "Input line 6 (stream 's'): more than 1 invalid records (setting 'max_invalid_records')"
        in error
    )
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"s": 3}]


# -- settings as Airbyte writes them


def test_string_booleans_and_numbers_in_config(server: RedisServer, r: redis.Redis) -> None:
    config = {
        "host": "127.0.0.1",
        "port": str(server.port),
        "ssl": "false",
        "db": "0",
        "hard_delete": "TRUE",
        "retry_max_seconds": "2.5",
        "tunnel_method": {"tunnel_method": "NO_TUNNEL", "tunnel_port": "22"},
    }
    done = run_cli(
        config, singer_lines(schema_msg("s", PROPS, ["id"]), record_msg("s", {"id": 1, "v": "a"}))
    )
    assert done.returncode == 0, done.stderr
    assert r.hget(":s:1", "_airbyte_data") == '{"id":1,"v":"a"}'
    for bad, name in (
        ({"ssl": "nope"}, "ssl"),
        ({"port": "6379.5"}, "port"),
        ({"db": "zero"}, "db"),
    ):
        done = run_cli({**config, **bad}, "")
        assert done.returncode == 1 and f"setting '{name}' must be of type" in done.stderr


def test_summary_counts_deletes_apart(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run_target(server.config(load_method="upsert", hard_delete=True), log_based_lines())
    (summary,) = [
        rec.getMessage() for rec in caplog.records if rec.getMessage().startswith("Load complete")
    ]
    assert "s: 1 records, 1 deletes in" in summary


def test_sdk_chatter_is_debug_only(server: RedisServer) -> None:
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]), *[record_msg("s", {"id": i, "v": "a"}) for i in range(5)]
    )
    done = run_cli(server.config(batch_size_rows=2), text)
    assert "is full" not in done.stderr and "Skipping parse of env var" not in done.stderr
    debug = run_cli(server.config(batch_size_rows=2), text, env={"LOGLEVEL": "DEBUG"})
    assert (
        "| DEBUG    | target-redis                   | Target sink for 's' is full" in debug.stderr
    )


@settings(max_examples=3000, deadline=None)
@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?", fullmatch=True)
)
def test_the_float_hook_keeps_every_number_text(text: str) -> None:
    value = number(text)
    assert (value.text if isinstance(value, Number) else str(value)) == text
    assert value == decimal.Decimal(text)
