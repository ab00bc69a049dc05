"""search_index: RediSearch indexes built from the Singer schema, on a real server
(Valkey 8.1 with redis-stack's RediSearch and RedisJSON), queried as a user would."""

from __future__ import annotations

import datetime
import json
import struct
import time
import typing as t

import pytest
import redis
from helpers import record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError

PROPS: dict[str, t.Any] = {
    "id": {"type": "integer"},
    "amount": {"type": ["null", "number"]},
    "active": {"type": ["null", "boolean"]},
    "country": {"type": ["null", "string"], "enum": ["DE", "FR", "US", None]},
    "name": {"type": ["null", "string"]},
    "created_at": {"type": ["null", "string"], "format": "date-time"},
    "birthday": {"type": ["null", "string"], "format": "date"},
    "tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "address": {"type": ["null", "object"], "properties": {"city": {"type": "string"}}},
    "embedding": {"type": ["null", "array"], "items": {"type": "number"}},
}
VECTORS = {"embedding": {"dim": 3, "distance": "L2", "algorithm": "FLAT"}}


def people() -> list[dict[str, t.Any]]:
    """Records with every type, edge values included."""
    return [
        {
            "id": 1,
            "amount": 1.50,
            "active": True,
            "country": "DE",
            "name": "Ada Lovelace",
            "created_at": "2024-03-01T10:00:00+02:00",
            "birthday": "1815-12-10",
            "tags": ["math", "poet"],
            "address": {"city": "London"},
            "embedding": [1, 0, 0],
        },
        {
            "id": 2,
            "amount": 1e20,
            "active": False,
            "country": "FR",
            "name": "Blaise Pascal",
            "created_at": "2024-03-01T09:30:00Z",
            "birthday": "1623-06-19",
            "tags": ["math"],
            "address": {"city": "Paris"},
            "embedding": [0, 1, 0],
        },
        {
            "id": 3,
            "amount": None,
            "active": None,
            "country": None,
            "name": "Grace Hopper",
            "created_at": None,
            "birthday": None,
            "tags": [],
            "address": None,
            "embedding": [0, 0, 1],
        },
        {
            "id": 4,
            "amount": 12345678901234567890,
            "active": True,
            "country": "US",
            "name": "Alan Turing",
            "created_at": "2024-03-02T00:00:00",
            "birthday": "1912-06-23",
            "tags": ["poet", "code"],
            "address": {"city": "Wilmslow"},
            "embedding": [0.9, 0.1, 0],
        },
    ]


def wait_indexed(r: redis.Redis, index: str) -> dict[str, t.Any]:
    """FT.INFO once the index has finished its background scan."""
    deadline = time.monotonic() + 30
    while True:
        info = r.execute_command("FT.INFO", index)
        if isinstance(info, list):
            info = dict(zip(info[::2], info[1::2], strict=True))
        if str(info.get("indexing")) in ("0", "0.0") or time.monotonic() > deadline:
            return info


def ids(r: redis.Redis, index: str, query: str, *args: t.Any) -> list[str]:
    """The keys a query finds (in the order it gives them)."""
    wait_indexed(r, index)
    reply = r.execute_command("FT.SEARCH", index, query, "NOCONTENT", *args, "LIMIT", "0", "1000")
    if isinstance(reply, dict):
        return [d["id"] for d in reply["results"]]
    return list(reply[1:])


def load(server: RedisServer, records: list[dict], **settings: t.Any) -> None:
    config = server.config(
        record_format="fields", key_template="user:{id}", load_method="upsert", **settings
    )
    config.setdefault("search_index", {"vectors": VECTORS})
    lines = [schema_msg("people", PROPS, ["id"]), *(record_msg("people", r) for r in records)]
    run_target(config, singer_lines(*lines, state_msg({"done": 1})))


def test_hash_index_answers_queries_like_the_records(
    module_server: RedisServer, modules: redis.Redis
) -> None:
    load(module_server, people())
    r = modules
    assert ids(r, "idx:people", "*", "SORTBY", "id") == ["user:1", "user:2", "user:3", "user:4"]
    assert ids(r, "idx:people", "@amount:[1 2]") == ["user:1"]
    assert sorted(ids(r, "idx:people", "@amount:[100 +inf]")) == ["user:2", "user:4"]
    since = int(
        datetime.datetime(2024, 3, 1, 8, 30, tzinfo=datetime.timezone.utc).timestamp() * 1000
    )
    assert sorted(ids(r, "idx:people", f"@created_at:[{since} +inf]")) == ["user:2", "user:4"]
    assert ids(r, "idx:people", "*", "SORTBY", "created_at", "ASC")[:3] == [
        "user:1",
        "user:2",
        "user:4",
    ]
    assert sorted(ids(r, "idx:people", "@tags:{poet}")) == ["user:1", "user:4"]
    assert ids(r, "idx:people", "@active:{true} @country:{US}") == ["user:4"]
    assert ids(r, "idx:people", "@name:hopper") == ["user:3"]
    assert ids(r, "idx:people", "@birthday:[-inf 0]", "SORTBY", "birthday") == [
        "user:2",
        "user:1",
        "user:4",
    ]
    knn = r.execute_command(
        "FT.SEARCH",
        "idx:people",
        "*=>[KNN 2 @embedding $v AS d]",
        "PARAMS",
        "2",
        "v",
        struct.pack("<3f", 1, 0, 0),
        "SORTBY",
        "d",
        "RETURN",
        "1",
        "d",
        "DIALECT",
        "2",
    )
    print(knn)
    stored = r.hmget("user:1", "created_at__epoch_ms", "tags__tags", "tags", "created_at")
    assert stored == ["1709280000000", "math,poet", '["math","poet"]', "2024-03-01T10:00:00+02:00"]
    with redis.Redis(host=module_server.host, port=module_server.port) as raw:
        assert raw.hget("user:4", "embedding") == struct.pack("<3f", 0.9, 0.1, 0)
    info = wait_indexed(r, "idx:people")
    print(info)
