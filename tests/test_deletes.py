"""_sdc_deleted_at handling, with and without add_record_metadata."""

from __future__ import annotations

import json

import pytest
import redis
from helpers import data_of, hashes, record_msg, run_target, schema_msg, singer_lines

from devtools.server import RedisServer

PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}, "city": {"type": "string"}}
WITH_DELETED = {**PROPS, "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"}}
DELETED_AT = "2024-06-01T00:00:00Z"


def stored(client: redis.Redis) -> dict[str, dict]:
    return {k: json.loads(h["_airbyte_data"]) for k, h in hashes(client, ":s:*").items()}


def full_rows() -> list[dict]:
    return [
        record_msg("s", {"id": 1, "name": "Ann", "city": "Oslo"}),
        record_msg("s", {"id": 2, "name": "Bob", "city": "Rome"}),
    ]


def delete_row(pk: int) -> dict:
    return record_msg("s", {"id": pk, "_sdc_deleted_at": DELETED_AT})


@pytest.mark.parametrize("metadata", [False, True])
def test_hard_delete_removes_key_across_runs(
    server: RedisServer, r: redis.Redis, metadata: bool
) -> None:
    config = server.config(load_method="upsert", hard_delete=True, add_record_metadata=metadata)
    run_target(config, singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows()))
    run_target(config, singer_lines(schema_msg("s", WITH_DELETED, ["id"]), delete_row(1)))
    assert sorted(stored(r)) == [":s:2"]


@pytest.mark.parametrize("metadata", [False, True])
def test_hard_delete_within_one_batch(server: RedisServer, r: redis.Redis, metadata: bool) -> None:
    config = server.config(load_method="upsert", hard_delete=True, add_record_metadata=metadata)
    text = singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows(), delete_row(2))
    run_target(config, text)
    assert sorted(stored(r)) == [":s:1"]


@pytest.mark.parametrize("metadata", [False, True])
def test_soft_delete_keeps_full_record_and_marks_it(
    server: RedisServer, r: redis.Redis, metadata: bool
) -> None:
    config = server.config(load_method="upsert", add_record_metadata=metadata)
    run_target(config, singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows()))
    # A later run sends only the key and the deletion time (a partial row).
    run_target(config, singer_lines(schema_msg("s", WITH_DELETED, ["id"]), delete_row(1)))
    one = stored(r)[":s:1"]
    assert one["name"] == "Ann" and one["city"] == "Oslo"
    assert one["_sdc_deleted_at"] == DELETED_AT
    assert stored(r)[":s:2"].get("_sdc_deleted_at") is None


def test_soft_delete_in_same_batch_merges(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(load_method="upsert")
    text = singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows(), delete_row(2))
    run_target(config, text)
    assert stored(r)[":s:2"] == {
        "id": 2,
        "name": "Bob",
        "city": "Rome",
        "_sdc_deleted_at": DELETED_AT,
    }


def test_deleted_at_survives_without_metadata_even_if_not_in_schema(
    server: RedisServer, r: redis.Redis
) -> None:
    # add_record_metadata off: the SDK strips _sdc_* fields; the delete still counts.
    text = singer_lines(schema_msg("s", PROPS, ["id"]), *full_rows(), delete_row(1))
    run_target(server.config(load_method="upsert", hard_delete=True), text)
    assert sorted(stored(r)) == [":s:2"]


def test_append_soft_delete_is_stored_as_a_record(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows(), delete_row(1))
    run_target(server.config(), text)
    rows = data_of(r, ":s:*")
    assert rows[-1] == {"id": 1, "_sdc_deleted_at": DELETED_AT}
    assert len(rows) == 3


def test_append_hard_delete_drops_deleted_rows(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    text = singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows(), delete_row(1))
    run_target(server.config(hard_delete=True), text)
    assert [row["name"] for row in data_of(r, ":s:*")] == ["Ann", "Bob"]
    assert r.get(":s") == "2"
    assert "hard_delete drops deleted rows" in caplog.text


def test_metadata_on_stores_sdc_fields(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg(
            "s", {"id": 1, "name": "Ann", "city": "Oslo"}, time_extracted="2024-01-01T00:00:00Z"
        ),
    )
    run_target(server.config(add_record_metadata=True), text)
    (row,) = data_of(r, ":s:*")
    assert row["_sdc_extracted_at"] == "2024-01-01T00:00:00Z"
    assert row["_sdc_deleted_at"] is None
    assert {"_sdc_received_at", "_sdc_batched_at", "_sdc_sequence"} <= set(row)


@pytest.mark.parametrize("cache_type", ["list", "stream", "set"])
def test_collections_keep_a_soft_delete_row_as_a_record(
    server: RedisServer, r: redis.Redis, cache_type: str
) -> None:
    """A CDC delete is an event a list, stream or set keeps (only a sorted set, whose
    members are found by key and hold no record, has nothing to mark)."""
    config = server.config(cache_type=cache_type)
    run_target(
        config, singer_lines(schema_msg("s", WITH_DELETED, ["id"]), *full_rows(), delete_row(1))
    )
    if cache_type == "list":
        members = r.lrange(":s", 0, -1)
    elif cache_type == "set":
        members = sorted(r.smembers(":s"))
    else:
        members = [fields["_airbyte_data"] for _, fields in r.xrange(":s")]
    assert sorted(json.loads(m)["id"] for m in members) == [1, 1, 2]
    deletes = [json.loads(m) for m in members if "_sdc_deleted_at" in json.loads(m)]
    assert deletes == [{"id": 1, "_sdc_deleted_at": DELETED_AT}]
