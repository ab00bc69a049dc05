"""Authentication, ACL permissions, db/url selection and the --test check."""

from __future__ import annotations

import typing as t

import pytest
import redis
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    record_msg("s", {"id": 1}),
    state_msg({"s": 1}),
)

USERS = {
    "loader": "on >loader-pw ~* &* +@all",
    "reader": "on >reader-pw ~* +@read +@connection +info",
    "shop": "on >shop-pw ~shop:* +@read +@write +@keyspace +@connection -@dangerous",
    "noincr": "on >noincr-pw ~* &* +@all -incrby",
    "shoptx": "on >shoptx-pw ~shop:* +@read +@write +@keyspace +@connection +@transaction",
}


@pytest.fixture
def acl_server(server: RedisServer, r: redis.Redis) -> t.Iterator[RedisServer]:
    for name, rules in USERS.items():
        r.execute_command("ACL", "SETUSER", name, "reset", *rules.split())
    yield server
    for name in USERS:
        r.execute_command("ACL", "DELUSER", name)


def user_config(server: RedisServer, name: str, **extra: t.Any) -> dict:
    return server.config(username=name, password=f"{name}-pw", **extra)


def test_acl_user_with_full_rights_loads(acl_server: RedisServer, r: redis.Redis) -> None:
    # append-only, then the conversion to primary keys, then upsert
    for method, extra in (
        ("append-only", {}),
        ("overwrite", {"overwrite_keys": "primary-key"}),
        ("upsert", {}),
    ):
        run = run_target(user_config(acl_server, "loader", load_method=method, **extra), INPUT)
        assert run.states == [{"s": 1}]
    assert r.hget(":s:1", "_airbyte_data") == '{"id":1}'
    assert r.keys("*__target_redis_check__*") == []  # the check leaves nothing behind


def test_read_only_user_is_refused_naming_the_command(
    acl_server: RedisServer, r: redis.Redis
) -> None:
    with pytest.raises(TargetRedisError, match=r"user 'reader' may not run INCRBY"):
        TargetRedis(config=user_config(acl_server, "reader"))
    assert r.keys("*") == []


def test_dryrun_names_a_missing_command(acl_server: RedisServer) -> None:
    # This user may run ACL itself, so the check uses ACL DRYRUN (nothing written).
    with pytest.raises(TargetRedisError, match=r"user 'noincr' may not run INCRBY.*incrby"):
        TargetRedis(config=user_config(acl_server, "noincr"))


def test_key_pattern_restricted_user(acl_server: RedisServer, r: redis.Redis) -> None:
    with pytest.raises(TargetRedisError, match=r"user 'shop' may not run INCRBY"):
        TargetRedis(config=user_config(acl_server, "shop"))  # empty namespace: ':s' keys
    run = run_target(
        user_config(acl_server, "shop", namespace="shop", load_method="overwrite"), INPUT
    )
    assert run.states == [{"s": 1}]
    assert r.hget("shop:s:1", "_airbyte_ab_id") == "1"
    assert r.keys("shop:__target_redis_check__*") == []


def test_key_pattern_user_single_key_overwrite(acl_server: RedisServer, r: redis.Redis) -> None:
    # A list is written in MULTI/EXEC and its overwrite is built in a temporary key:
    # the check names MULTI, and the temporary key stays inside the allowed pattern.
    list_overwrite = {"namespace": "shop", "cache_type": "list", "load_method": "overwrite"}
    with pytest.raises(TargetRedisError, match=r"user 'shop' may not run MULTI"):
        TargetRedis(config=user_config(acl_server, "shop", **list_overwrite))
    for _ in range(2):
        run = run_target(user_config(acl_server, "shoptx", **list_overwrite), INPUT)
        assert run.states == [{"s": 1}]
    assert r.lrange("shop:s", 0, -1) == ['{"id":1}']
    assert sorted(r.keys("*")) == ["shop:s", "shop:{shop:s}:target-redis-manifest:s"]


def test_wrong_acl_password(acl_server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match=r"refused the credentials \(user 'loader'\)"):
        TargetRedis(config=acl_server.config(username="loader", password="nope"))


def test_db_setting(server: RedisServer) -> None:
    run_target(server.config(db=3), INPUT)
    with server.client(db=3) as client:
        assert client.hget(":s:1", "_airbyte_ab_id") == "1"
    with server.client(db=0) as client:
        assert client.keys("*") == []


def test_url_wins_over_separate_settings(acl_server: RedisServer) -> None:
    url = f"redis://loader:loader-pw@127.0.0.1:{acl_server.port}/5"
    run = run_target({"url": url, "host": "nowhere.invalid", "port": 1, "db": 0}, INPUT)
    assert run.states == [{"s": 1}]
    with acl_server.client(db=5) as client:
        assert client.hget(":s:1", "_airbyte_ab_id") == "1"


def test_url_must_be_redis(server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match="redis:// or rediss://"):
        TargetRedis(config={"url": f"http://127.0.0.1:{server.port}"})


def test_check_flag_reads_no_input(acl_server: RedisServer, r: redis.Redis) -> None:
    ok = run_cli(user_config(acl_server, "loader"), "this is not singer\n", "--test")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ""
    assert "Connection check passed" in ok.stderr
    assert r.keys("*") == []
    bad = run_cli(user_config(acl_server, "reader"), "", "--test")
    assert bad.returncode == 1
    errors = [line for line in bad.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "may not run INCRBY" in errors[0]
    assert "reader-pw" not in bad.stderr
