"""ACTIVATE_VERSION and BATCH messages, read back from a real server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import redis
from helpers import (
    data_of,
    hashes,
    record_msg,
    run_cli,
    run_target,
    schema_msg,
    singer_lines,
    state_msg,
)

from devtools.server import RedisServer

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def versioned(version: int, ids: range) -> list[dict]:
    return [
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": version},
        *[record_msg("s", {"id": i, "v": f"v{version}-{i}"}, version=version) for i in ids],
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": version},
    ]


@pytest.mark.parametrize("load_method", ["append-only", "upsert"])
def test_activate_version_hard_delete(
    server: RedisServer, r: redis.Redis, load_method: str
) -> None:
    config = server.config(
        add_record_metadata=True,
        process_activate_version_messages=True,
        hard_delete=True,
        load_method=load_method,
    )
    run_target(config, singer_lines(schema_msg("s", PROPS, ["id"]), *versioned(1, range(1, 6))))
    run = run_target(
        config,
        singer_lines(
            schema_msg("s", PROPS, ["id"]), *versioned(2, range(3, 8)), state_msg({"v": 2})
        ),
    )
    assert run.states == [{"v": 2}]
    rows = data_of(r, ":s:*")
    assert sorted(row["v"] for row in rows) == [f"v2-{i}" for i in range(3, 8)]
    assert all(row["_sdc_table_version"] == 2 for row in rows)


def test_activate_version_soft_delete_marks_old_rows(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(add_record_metadata=True, process_activate_version_messages=True)
    run_target(config, singer_lines(schema_msg("s", PROPS, ["id"]), *versioned(1, range(1, 3))))
    run_target(config, singer_lines(schema_msg("s", PROPS, ["id"]), *versioned(2, range(1, 3))))
    rows = data_of(r, ":s:*")
    old = [row for row in rows if row["_sdc_table_version"] == 1]
    new = [row for row in rows if row["_sdc_table_version"] == 2]
    assert len(old) == len(new) == 2
    assert all(row["_sdc_deleted_at"] for row in old)
    assert all(row["_sdc_deleted_at"] is None for row in new)


def test_activate_version_needs_metadata(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(schema_msg("s", PROPS, ["id"]), *versioned(1, range(1, 3)))
    before = singer_lines(schema_msg("s", PROPS, ["id"]), record_msg("s", {"id": 9, "v": "x"}))
    run_target(server.config(), before)
    config = server.config(hard_delete=True, process_activate_version_messages=True)
    proc = run_cli(config, text)
    assert proc.returncode == 1 and proc.stdout == ""
    (error,) = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert "'process_activate_version_messages' needs 'add_record_metadata: true'" in error
    assert [row["v"] for row in data_of(r, ":s:*")] == ["x"]  # nothing deleted blindly


def test_activate_version_ignored_by_default(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(hard_delete=True)
    run_target(config, singer_lines(schema_msg("s", PROPS, ["id"]), *versioned(1, range(1, 3))))
    second = singer_lines(
        schema_msg("s", PROPS, ["id"]), *versioned(2, range(5, 6)), state_msg({"v": 2})
    )
    assert run_target(config, second).states == [{"v": 2}]
    assert sorted(row["v"] for row in data_of(r, ":s:*")) == ["v1-1", "v1-2", "v2-5"]


def test_activate_version_drains_pending_batch_first(server: RedisServer, r: redis.Redis) -> None:
    # Version-1 records are still pending when ACTIVATE_VERSION 2 arrives: they must
    # be written before the old versions are retired, or they would land afterwards.
    config = server.config(
        add_record_metadata=True,
        process_activate_version_messages=True,
        hard_delete=True,
        batch_size_rows=1000,
    )
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": f"v1-{i}"}, version=1) for i in range(1, 4)],
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 2},
        record_msg("s", {"id": 9, "v": "v2-9"}, version=2),
    )
    run_target(config, text)
    assert [row["v"] for row in data_of(r, ":s:*")] == ["v2-9"]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_batch_files_land_like_records(
    server: RedisServer, r: redis.Redis, tmp_path: Path, compression: str | None
) -> None:
    records = [{"id": i, "v": f"é-{i}", "amount": 1.50, "big": 10**20} for i in range(1, 8)]
    props = {**PROPS, "amount": {"type": "number"}, "big": {"type": "integer"}}
    text = "".join(json.dumps(rec).replace("1.5,", "1.50,") + "\n" for rec in records)
    path = tmp_path / ("batch.jsonl.gz" if compression else "batch.jsonl")
    if compression:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    batch = {
        "type": "BATCH",
        "stream": "s",
        "encoding": {"format": "jsonl", "compression": compression},
        "manifest": [path.as_uri()],
    }
    run = run_target(
        server.config(namespace="batch"),
        singer_lines(schema_msg("s", props, ["id"]), batch, state_msg({"s": 7})),
    )
    assert run.states == [{"s": 7}]
    plain = singer_lines(schema_msg("s", props, ["id"])) + "".join(
        json.dumps({"type": "RECORD", "stream": "s", "record": json.loads(line)}).replace(
            "1.5,", "1.50,"
        )
        + "\n"
        for line in text.splitlines()
    )
    run_target(server.config(namespace="records"), plain)

    def contents(ns: str) -> dict[str, tuple[str, str]]:
        return {
            key[len(ns) :]: (fields["_airbyte_ab_id"], fields["_airbyte_data"])
            for key, fields in hashes(r, f"{ns}:*").items()
        }

    assert contents("batch") == contents("records")
    assert len(contents("batch")) == 7
    assert '"amount":1.50' in r.hget("batch:s:1", "_airbyte_data")


def test_invalid_record_in_batch_file_is_rejected(
    server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "v": "ok"}\n{"id": "two", "v": "bad"}\n', encoding="utf-8")
    batch = {
        "type": "BATCH",
        "stream": "s",
        "encoding": {"format": "jsonl"},
        "manifest": [path.as_uri()],
    }
    proc = run_cli(
        server.config(), singer_lines(schema_msg("s", PROPS, ["id"]), batch, state_msg({"s": 2}))
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "id must be integer" in proc.stderr
    assert r.keys(":s:*") == []


def test_an_error_names_its_own_stream(server: RedisServer, tmp_path: Path) -> None:
    """Issue 21, item 12: a stream map sends stream a's records through the SDK's path;
    an invalid record in stream b's BATCH file was reported as stream 'a''s."""
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": "two", "v": "bad"}\n', encoding="utf-8")
    batch = {"type": "BATCH", "stream": "b", "encoding": {"format": "jsonl"}}
    text = singer_lines(
        schema_msg("a", PROPS, ["id"]),
        schema_msg("b", PROPS, ["id"]),
        record_msg("a", {"id": 1, "v": "x"}),
        {**batch, "manifest": [path.as_uri()]},
    )
    config = server.config(stream_maps={"a": {"v": "__NULL__"}})
    proc = run_cli(config, text)
    assert proc.returncode == 1 and proc.stdout == ""
    (error,) = [line for line in proc.stderr.splitlines() if "| ERROR" in line]
    assert "Input line 4 (stream 'b', BATCH file file://" in error, error
    assert "b.jsonl line 1): Record failed schema validation: id must be integer" in error


def batch_of(stream: str, *paths: str) -> dict:
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": "jsonl"},
        "manifest": list(paths),
    }


def test_batch_file_dirs_bounds_where_batch_files_are_read(
    server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    allowed = tmp_path / "batches"
    allowed.mkdir()
    inside = allowed / "a.jsonl"
    inside.write_text('{"id": 1, "v": "in"}\n', encoding="utf-8")
    outside = tmp_path / "b.jsonl"
    outside.write_text('{"id": 2, "v": "out"}\n', encoding="utf-8")
    config = server.config(batch_file_dirs=[str(allowed)])
    schema = schema_msg("s", PROPS, ["id"])
    assert run_target(
        config, singer_lines(schema, batch_of("s", inside.as_uri()), state_msg({"s": 1}))
    ).states
    escape = str(allowed / ".." / "b.jsonl")  # resolved: outside
    for where in (outside.as_uri(), escape, "/dev/zero"):
        proc = run_cli(config, singer_lines(schema, batch_of("s", where), state_msg({"s": 2})))
        errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert len(errors) == 1 and "batch_file_dirs" in errors[0] and where in errors[0], errors
    assert [row["v"] for row in data_of(r, ":s:*")] == ["in"]


def test_a_batch_line_longer_than_the_byte_budget_stops_with_one_line(
    server: RedisServer, r: redis.Redis, tmp_path: Path
) -> None:
    """/dev/zero (one endless line) grew to 2.8 GB before a MemoryError."""
    config = server.config(batch_size_bytes=1_000_000)
    schema = schema_msg("s", PROPS, ["id"])
    proc = run_cli(config, singer_lines(schema, batch_of("s", "/dev/zero"), state_msg({"s": 1})))
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert len(errors) == 1 and "file /dev/zero line 1" in errors[0], errors
    assert "batch_size_bytes" in errors[0]
