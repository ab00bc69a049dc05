"""Plan x rows -> commands, without a server: every combination of cache type, record
format, key scheme and load method the settings allow gets its exact commands for one
batch, and every combination they refuse its refusal line.

The table lives in tests/golden/plan_commands.json; a change of the commands shows up
as a diff there. ``UPDATE_GOLDEN=1`` rewrites it (review the diff before committing).
A few rows are also spelled out below, checked by hand.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import pathlib
import typing as t
import uuid

import pytest

from target_redis import cache_types, keys, rows, stream_settings
from target_redis.errors import TargetRedisError
from target_redis.key_schemes import Facts
from target_redis.keyspace import KeySpace
from target_redis.load_method import LoadMethod, StreamSetup
from target_redis.load_methods import load_method_for
from target_redis.server import ServerInfo

GOLDEN = pathlib.Path(__file__).parent / "golden" / "plan_commands.json"
SERVER = ServerInfo((7, 2))
SCHEMA = {"id": {"type": "integer"}, "name": {}, "score": {}, "_sdc_deleted_at": {}}
RECORDS: list[dict[str, t.Any]] = [
    {"id": 1, "name": "a", "score": 10},
    {"id": 2, "name": None, "score": 20},
    {"id": 1, "name": "a2", "score": 11},
    {"id": 3, "score": 30, "_sdc_deleted_at": "2024-01-01T00:00:00Z"},
]
STORED = '{"id":3,"name":"kept","score":30}'
"""What a key read back holds (a partial delete row is laid over it)."""


class StubWriter:
    """What the load methods read from a writer without doing I/O."""

    delete_command = "UNLINK"
    single_server = False  # commands as words, not packed (test_packing.py compares them)


def combinations() -> t.Iterator[dict[str, t.Any]]:
    axes = itertools.product(
        ["hash", "string", "json", "set", "list", "stream", "sorted_set"],
        ["airbyte", "fields"],
        ["append-only", "upsert", "overwrite"],
        ["", "u:{id}", "board"],
        ["replace", "merge"],
        [False, True],
    )
    for cache, record_format, method, template, on_update, hard_delete in axes:
        config: dict[str, t.Any] = {
            "cache_type": cache,
            "record_format": record_format,
            "load_method": method,
            "on_update": on_update,
            "hard_delete": hard_delete,
        }
        if template:
            config["key_template"] = template
        if cache == "sorted_set":
            config["score_field"] = "score"
        yield config


def case_name(config: dict[str, t.Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in config.items() if k != "score_field")


def commands_for(config: dict[str, t.Any]) -> list[list[str]] | str:
    """The commands writing RECORDS as one batch, or the refusal line."""
    try:
        (each,) = stream_settings.entries(config)
    except TargetRedisError as exc:
        return f"refused: {exc}"
    load = _load(each)
    scheme = load.scheme
    made = []
    for record in RECORDS:
        row = rows.make_row(
            dict(record),
            1_700_000_000_000,
            deleted=record.get("_sdc_deleted_at") is not None,
            pk=scheme.row_key(record) if scheme.keyed_by_record else None,
            fields=each.format_class.field_values,
            score=str(record["score"]) if each.score_field else None,
        )
        if scheme.grouped:
            row.group = scheme.group_key(record)
        made.append(row)
    writing = load.writing()
    batch = scheme.prepare(made, writing, lambda *args: None)
    facts = Facts(
        first_id=1,
        stored=[STORED for _ in batch.to_read],
        owned=set(batch.to_delete),
        # the first member was in another collection: a move
        groups=["u:9" if n == 0 else None for n, _ in enumerate(batch.members)],
    )
    return [list(command) for command in scheme.commands(batch, facts, writing)]


def _load(each: stream_settings.StreamSettings) -> LoadMethod:
    setup = StreamSetup(
        space=KeySpace("N", "s"),
        cache=each.cache(SERVER),
        record_format=each.format_class(),
        writer=t.cast("t.Any", StubWriter()),
        key_properties=("id",),
        hard_delete=each.hard_delete,
        logger=logging.getLogger("test"),
        warn_once=lambda *args: None,
        version="test",
        run_id="RUN",
        overwrite_keys=each.overwrite_keys,
        template=stream_settings.template(each),
        merge=each.merge,
    )
    load = load_method_for(each.load_method, setup)
    load.scheme = load.scheme_for(load.choose_scheme())
    return load


def table() -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}
    for config in combinations():
        found.setdefault(case_name(config), commands_for(config))
    return found


def test_every_combination_gives_its_commands_or_its_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What differs from run to run: a stream entry's id, a process's aside keys.
    monkeypatch.setattr(cache_types.uuid, "uuid4", lambda: uuid.UUID(int=0))
    monkeypatch.setattr(keys, "_PROCESS", "PROC")
    found = table()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(_golden_text(found))
    expected = json.loads(GOLDEN.read_text())
    assert found.keys() == expected.keys()
    changed = [name for name in found if found[name] != expected[name]]
    assert changed == [], changed[:5]
    written = [name for name, value in found.items() if not isinstance(value, str)]
    refused = [name for name, value in found.items() if isinstance(value, str)]
    assert len(written) > 50 and len(refused) > 50


def _golden_text(found: dict[str, t.Any]) -> str:
    """One command a line, so a change reads as a small diff."""
    dump = functools.partial(json.dumps, ensure_ascii=False)
    parts = []
    for name, value in found.items():
        if isinstance(value, str):
            parts.append(f" {dump(name)}: {dump(value)}")
        else:
            commands = ",\n".join(f"  {dump(command)}" for command in value)
            parts.append(f" {dump(name)}: [\n{commands}\n ]")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def test_hash_ids_by_hand() -> None:
    found = commands_for({"cache_type": "hash"})
    assert isinstance(found, list)
    assert found[0] == [
        *("HSET", "N:s:1", "_airbyte_ab_id", "1", "_airbyte_emitted_at", "1700000000000"),
        *("_airbyte_data", '{"id":1,"name":"a","score":10}'),
    ]
    assert [c[1] for c in found] == ["N:s:1", "N:s:2", "N:s:3", "N:s:4"]


def test_fields_upsert_replaces_in_place_by_hand() -> None:
    found = commands_for({"record_format": "fields", "load_method": "upsert"})
    index = "N:{N:s}:target-redis-keys:s"
    assert found == [
        ["SADD", index, "N:s:2", "N:s:1", "N:s:3"],  # key order: each key's last write
        ["MULTI"],
        ["DEL", "N:s:2"],
        ["HSET", "N:s:2", "id", "2", "score", "20"],
        ["EXEC"],
        ["MULTI"],
        ["DEL", "N:s:1"],
        ["HSET", "N:s:1", "id", "1", "name", "a2", "score", "11"],
        ["EXEC"],
        # A partial delete row is laid over the stored record (HSET + HDEL of nulls).
        ["HSET", "N:s:3", "id", "3", "score", "30", "_sdc_deleted_at", "2024-01-01T00:00:00Z"],
    ]


def test_sorted_set_hard_delete_removes_the_member_by_hand() -> None:
    found = commands_for({"cache_type": "sorted_set", "score_field": "score", "hard_delete": True})
    assert found == [["ZADD", "N:s", "10", "1", "20", "2", "11", "1"], ["ZREM", "N:s", "3"]]


def test_list_overwrite_builds_aside_and_keeps_a_tombstone_by_hand() -> None:
    found = commands_for({"cache_type": "list", "load_method": "overwrite"})
    temp = "N:{N:s}:target-redis-tmp:RUN:s"
    assert isinstance(found, list)
    assert found[0][:2] == ["RPUSH", temp] and len(found[0]) == 6
    assert json.loads(found[0][-1]) == RECORDS[-1]
    assert found[1:] == [
        ["EXPIRE", temp, "86400"],
        ["EXPIRE", "N:{N:s}:target-redis-lease:s", "300"],
    ]


@pytest.mark.parametrize(
    ("config", "refusal"),
    [
        ({"cache_type": "list", "load_method": "upsert"}, "does not apply to 'cache_type: list'"),
        ({"key_template": "u:{id}"}, "keys built from values need upsert or overwrite"),
        ({"on_update": "merge"}, "'on_update: merge' applies to"),
        (
            {"cache_type": "set", "key_template": "u:{id}", "load_method": "upsert"},
            "'load_method: upsert' of a set per group needs 'member_field'",
        ),
    ],
)
def test_refusals_by_hand(config: dict[str, t.Any], refusal: str) -> None:
    found = commands_for(config)
    assert isinstance(found, str) and refusal in found
