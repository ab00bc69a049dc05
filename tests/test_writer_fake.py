"""Writer behaviour on fakeredis (fast; no server process)."""

from __future__ import annotations

import fakeredis
import pytest

from target_redis import writer as writer_module
from target_redis.connection import ServerInfo, parse_version
from target_redis.writer import Writer


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


def test_reserve_ids_is_one_incrby(fake: fakeredis.FakeRedis) -> None:
    w = Writer(fake, ServerInfo((7, 0)))
    assert w.reserve_ids(":s", 3) == 1
    assert w.reserve_ids(":s", 2) == 4
    assert fake.get(":s") == "5"
    assert w.read_counter(":s") == 5
    assert w.read_counter(":other") == 0


@pytest.mark.parametrize(("namespace", "stream"), [("", "s"), ("n[1]", "a*b?"), ("x\\y", "s:t")])
def test_remove_ids_up_to_touches_only_old_ids_of_its_stream(
    fake: fakeredis.FakeRedis, namespace: str, stream: str
) -> None:
    prefix = f"{namespace}:{stream}"
    for i in range(1, 8):
        fake.hset(f"{prefix}:{i}", "_airbyte_ab_id", str(i))
    keep = [
        f"{prefix}x:1",  # a stream whose name extends ours
        f"{prefix}:k:1",  # an upsert-shaped key
        f"{prefix}:007",  # not a canonical id
        f"{namespace}:other:1",
    ]
    for key in keep:
        fake.hset(key, "_airbyte_ab_id", "1")
    fake.set(prefix, "7")
    w = Writer(fake, ServerInfo((7, 0)))
    assert w.remove_ids_up_to(namespace, stream, 4) == 4
    remaining = sorted(fake.keys("*"))
    assert remaining == sorted([prefix, *[f"{prefix}:{i}" for i in (5, 6, 7)], *keep])


def test_remove_in_chunks(fake: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_SCAN_COUNT", 3)
    for i in range(1, 11):
        fake.hset(f":s:{i}", "_airbyte_ab_id", str(i))
    assert Writer(fake, ServerInfo((7, 0))).remove_ids_up_to("", "s", 10) == 10
    assert fake.keys("*") == []


def test_run_splits_pipelines(fake: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "_PIPELINE_CHUNK", 2)
    Writer(fake, ServerInfo((7, 0))).run([("SET", f"k{i}", str(i)) for i in range(5)])
    assert [fake.get(f"k{i}") for i in range(5)] == ["0", "1", "2", "3", "4"]


def test_old_servers_use_del_and_untyped_scan() -> None:
    old = ServerInfo(parse_version("3.2.12"))
    assert not old.has_unlink and not old.has_scan_type
    assert Writer(fakeredis.FakeRedis(), old).delete_command == "DEL"
    assert (
        Writer(fakeredis.FakeRedis(), ServerInfo(parse_version("7.0.15"))).delete_command
        == "UNLINK"
    )
    assert parse_version("7.2.4-rc1") == (7, 2, 4)
