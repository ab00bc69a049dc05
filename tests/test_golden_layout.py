"""The exact Airbyte-compatible hash layout, read back from a real server."""

from __future__ import annotations

import time

import pytest
import redis
from helpers import manifest, record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

PROPERTIES = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "price": {"type": "number"},
    "big": {"type": "number"},
    "seen_at": {"type": "string", "format": "date-time"},
    "meta": {"type": "object", "properties": {"tags": {"type": "array"}}},
    "note": {"type": ["null", "string"]},
}

INPUT = singer_lines(
    schema_msg("items", PROPERTIES, ["id"]),
    record_msg(
        "items",
        {
            "id": 1,
            "name": "Zoë — 李雷 🚀",
            "price": 0.1,
            "big": 1e20,
            "seen_at": "2024-05-06T07:08:09Z",
            "meta": {"tags": ["a", {"deep": [1, 2.50]}]},
            "note": None,
        },
        time_extracted="2024-05-06T07:08:09.123Z",
    ),
    record_msg(
        "items",
        {
            "id": 2,
            "name": 'quote " and \\ slash',
            "price": 12.345,
            "big": -0.0,
            "seen_at": "2024-05-06T07:08:09.5+02:00",
            "meta": {},
            "note": "x",
        },
    ),
    state_msg({"bookmarks": {"items": {"id": 2}}}),
)
# Written by hand: the tap's number text (trailing zero, exponent) is kept.
INPUT += '{"type":"RECORD","stream":"items","record":{"id":3,"price":1.50,"big":2.5e-7}}\n'

EXPECTED_DATA = [
    '{"id":1,"name":"Zoë — 李雷 🚀","price":0.1,"big":1e+20,'
    '"seen_at":"2024-05-06T07:08:09Z","meta":{"tags":["a",{"deep":[1,2.5]}]},"note":null}',
    '{"id":2,"name":"quote \\" and \\\\ slash","price":12.345,"big":-0.0,'
    '"seen_at":"2024-05-06T07:08:09.5+02:00","meta":{},"note":"x"}',
]


@pytest.mark.parametrize("namespace", ["", "shop"])
def test_golden_layout(server: RedisServer, r: redis.Redis, namespace: str) -> None:
    before = time.time_ns() // 1_000_000
    run = run_target(server.config(namespace=namespace), INPUT)
    after = time.time_ns() // 1_000_000

    assert run.states == [{"bookmarks": {"items": {"id": 2}}}]
    prefix = f"{namespace}:items"
    manifest_key = f"{namespace}:{{{prefix}}}:target-redis-manifest:items"
    assert sorted(r.keys("*")) == sorted(
        [prefix, manifest_key] + [f"{prefix}:{i}" for i in (1, 2, 3)]
    )
    assert manifest(r, namespace, "items") == {
        "stream": "items",
        "namespace": namespace,
        "cache_type": "hash",
        "keys": "ids",
        "key_properties": "[]",
        "load_method": "append-only",
        "record_format": "airbyte",
        "key_template": "",
        "key_index": f"{namespace}:{{{prefix}}}:target-redis-keys:items",
        "issued": "3",
    }
    assert r.type(prefix) == "string"
    assert r.get(prefix) == "3"

    first = r.hgetall(f"{prefix}:1")
    assert first == {
        "_airbyte_ab_id": "1",
        "_airbyte_emitted_at": "1714979289123",
        "_airbyte_data": EXPECTED_DATA[0],
    }
    second = r.hgetall(f"{prefix}:2")
    assert set(second) == {"_airbyte_ab_id", "_airbyte_emitted_at", "_airbyte_data"}
    assert second["_airbyte_ab_id"] == "2"
    assert second["_airbyte_data"] == EXPECTED_DATA[1]
    # No time_extracted: the time the target received the record.
    assert before <= int(second["_airbyte_emitted_at"]) <= after
    assert r.hget(f"{prefix}:3", "_airbyte_data") == '{"id":3,"price":1.50,"big":2.5e-7}'


def test_counter_is_one_incrby_per_batch(server: RedisServer, r: redis.Redis) -> None:
    records = [record_msg("s", {"id": i}) for i in range(5)]
    text = singer_lines(schema_msg("s", {"id": {"type": "integer"}}), *records)
    with server.client() as monitor_client, monitor_client.monitor() as monitor:
        run_target(server.config(batch_size_rows=2), text)
        commands = []
        while True:
            entry = monitor.next_command()
            commands.append(entry["command"])
            if entry["command"].startswith("HSET :s:5"):
                break
    incrs = [c for c in commands if c.startswith(("INCR :s", "INCRBY :s"))]
    assert incrs == ["INCRBY :s 2", "INCRBY :s 2", "INCRBY :s 1"]
    assert [int(r.hget(f":s:{i}", "_airbyte_ab_id")) for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [r.hget(f":s:{i}", "_airbyte_data") for i in range(1, 6)] == [
        f'{{"id":{i}}}' for i in range(5)
    ]
