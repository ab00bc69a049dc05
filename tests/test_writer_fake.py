"""Writer behaviour on fakeredis (fast; no server process)."""

from __future__ import annotations

import fakeredis
import pytest

from target_redis import writer as writer_module
from target_redis.keyspace import KeySpace
from target_redis.server import ServerInfo, parse_version
from target_redis.writer import Writer


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def test_reserve_ids_counts_what_it_issued(fake: fakeredis.FakeRedis) -> None:
    w = Writer(fake, ServerInfo((7, 0)))
    assert w.reserve_ids(":s", "manifest", 3) == 1
    fake.incrby(":s", 10)  # another writer
    assert w.reserve_ids(":s", "manifest", 2) == 14
    assert fake.get(":s") == "15" and fake.hget("manifest", "issued") == "5"


@pytest.mark.parametrize(("namespace", "stream"), [("", "s"), ("n[1]", "a*b?"), ("x\\y", "s:t")])
def test_own_records_leave_other_streams_alone(
    fake: fakeredis.FakeRedis, namespace: str, stream: str
) -> None:
    space = KeySpace(namespace, stream)
    prefix = space.key
    own = [f"{prefix}:{i}" for i in range(1, 4)] + [f"{prefix}:A-2", f"{prefix}:a\\:b:c"]
    for key in own:
        fake.hset(key, "_airbyte_ab_id", "1")
    fake.set(f"{prefix}:9", "3")  # the counter of stream S:9 ...
    fake.hset(f"{prefix}:9:1", "_airbyte_ab_id", "1")  # ... and its record
    fake.rpush(f"{prefix}:l", "{}")  # the single key of stream S:l
    fake.hset(f"{prefix}:m:1", "_airbyte_ab_id", "1")  # stream S:m, known by its manifest
    fake.hset(KeySpace(namespace, f"{stream}:m").manifest_key, "cache_type", "hash")
    fake.hset(f"{prefix}x:1", "_airbyte_ab_id", "1")  # a stream whose name extends ours
    fake.set(f"{prefix}:s1", '{"id":1}')  # a string record of ours
    w = Writer(fake, ServerInfo((7, 0)))
    found = space.own_records(w.scan(space.pattern), w)
    assert sorted(found) == sorted([*own, f"{prefix}:s1"])
    assert sorted(space.own_records(w.scan(space.pattern), w, "string")) == [f"{prefix}:s1"]


def test_remove_in_chunks(fake: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_SCAN_COUNT", 3)
    for i in range(1, 11):
        fake.hset(f":s:{i}", "_airbyte_ab_id", str(i))
    w = Writer(fake, ServerInfo((7, 0)))
    assert w.remove(w.scan(":s:*")) == 10
    assert fake.keys("*") == []


def test_run_splits_pipelines(fake: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_PIPELINE_CHUNK", 2)
    Writer(fake, ServerInfo((7, 0))).run([("SET", f"k{i}", str(i)) for i in range(5)])
    assert [fake.get(f"k{i}") for i in range(5)] == ["0", "1", "2", "3", "4"]


def test_old_servers_use_del() -> None:
    old = ServerInfo(parse_version("3.2.12"))
    assert not old.has_unlink
    assert Writer(fakeredis.FakeRedis(), old).delete_command == "DEL"
    assert (
        Writer(fakeredis.FakeRedis(), ServerInfo(parse_version("7.0.15"))).delete_command
        == "UNLINK"
    )
    assert parse_version("7.2.4-rc1") == (7, 2, 4)
