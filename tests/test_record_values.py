"""member_field, value_field, expire_at_field and ttl_field (issue 27, items 2-4), read
back from a real server: members and values of one property, expiry per record."""

from __future__ import annotations

import datetime
import json
import time

import pytest
import redis
from helpers import (
    check_cli_sessions,
    docs_config,
    docs_section,
    record_msg,
    run_target,
    schema_msg,
    singer_lines,
    state_msg,
)

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError

DELETED = {"_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"}}
USERS = {
    "user_id": {"type": ["null", "integer", "number"]},
    "name": {"type": ["null", "string"]},
    **DELETED,
}
SESSIONS = {
    "id": {"type": "string"},
    "token": {"type": ["null", "string", "number"]},
    "expires_at": {"type": ["null", "string", "integer"]},
    **DELETED,
}
GONE = "2024-01-01T00:00:00Z"


def raw_numbers(text: str) -> str:
    """Singer lines with ``"@1.50@"`` written as the number ``1.50``, as a tap writes it."""
    return text.replace('"@', "").replace('@"', "")


def ms(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).timestamp()) * 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_a_set_of_one_property(
    server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = server.config(cache_type="set", member_field="user_id", key_template="active_users")
    records = [{"user_id": 42}, {"user_id": "@1.50@", "name": "x"}, {"user_id": 42}, {"user_id": 7}]
    soft = {"user_id": 7, "_sdc_deleted_at": GONE}
    text = singer_lines(schema_msg("u", USERS), *(record_msg("u", x) for x in [*records, soft]))
    run_target(config, raw_numbers(text))
    assert r.smembers("active_users") == {"42", "1.50", "7"}  # numbers as the tap wrote them
    assert "a delete row of a member or value of one property is dropped" in caplog.text
    hard = server.config(
        cache_type="set", member_field="user_id", key_template="active_users", hard_delete=True
    )
    run_target(
        hard,
        singer_lines(
            schema_msg("u", USERS), record_msg("u", soft), record_msg("u", {"user_id": 9})
        ),
    )
    assert r.smembers("active_users") == {"42", "1.50", "9"}
    assert sorted(r.keys("*")) == [":{:u}:target-redis-manifest:u", "active_users"]


def test_a_sorted_set_and_a_list_of_one_property(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        streams={
            "board": {
                "cache_type": "sorted_set",
                "score_field": "user_id",
                "member_field": "name",
                "key_template": "board",
                "hard_delete": True,
            },
            "names": {"cache_type": "list", "member_field": "name"},
        }
    )
    messages = [
        schema_msg("board", USERS, ["user_id"]),
        schema_msg("names", USERS),
        *(
            record_msg(s, {"user_id": i, "name": n})
            for s in ("board", "names")
            for i, n in [(3, "Zoë"), (1, "李雷"), (2, "Ada")]
        ),
        record_msg("board", {"user_id": 3, "name": "Zoë", "_sdc_deleted_at": GONE}),
    ]
    run_target(config, singer_lines(*messages))
    assert r.zrange("board", 0, -1, withscores=True) == [("李雷", 1.0), ("Ada", 2.0)]
    assert r.lrange(":names", 0, -1) == ["Zoë", "李雷", "Ada"]


def test_a_string_of_one_property_with_its_own_expiry(server: RedisServer, r: redis.Redis) -> None:
    config = server.config(
        cache_type="string",
        load_method="upsert",
        key_template="session:{id}",
        value_field="token",
        expire_at_field="expires_at",
        hard_delete=True,
    )
    later = now_ms() // 1000 + 3600
    rows = [
        {"id": "future", "token": "tok-ü", "expires_at": "2999-01-01T00:00:00+01:00"},
        {"id": "past", "token": "t2", "expires_at": "2000-01-01T00:00:00Z"},
        {"id": "null", "token": "t3", "expires_at": None},
        {"id": "epoch", "token": "t4", "expires_at": later},
        {"id": "date", "token": "t5", "expires_at": "2999-12-31"},
        {"id": "number", "token": "@12.50@"},
    ]
    text = singer_lines(schema_msg("s", SESSIONS, ["id"]), *(record_msg("s", x) for x in rows))
    run_target(config, raw_numbers(text))
    assert r.get("session:future") == "tok-ü"
    assert r.execute_command("PEXPIRETIME", "session:future") == ms("2999-01-01T00:00:00+01:00")
    assert r.exists("session:past") == 0  # a time past deletes the key, as Redis does
    assert r.get("session:null") == "t3" and r.ttl("session:null") == -1
    assert r.execute_command("EXPIRETIME", "session:epoch") == later
    assert r.execute_command("PEXPIRETIME", "session:date") == ms("2999-12-31T00:00:00+00:00")
    assert r.get("session:number") == "12.50"
    # A later record without an expiry: the key no longer expires; a delete removes it.
    again = [
        {"id": "future", "token": "tok-β", "expires_at": None},
        {"id": "epoch", "_sdc_deleted_at": GONE},
    ]
    run_target(
        config,
        singer_lines(schema_msg("s", SESSIONS, ["id"]), *(record_msg("s", x) for x in again)),
    )
    assert r.get("session:future") == "tok-β" and r.ttl("session:future") == -1
    assert r.exists("session:epoch") == 0


@pytest.mark.parametrize("record_format", ["fields", "airbyte"])
def test_hashes_expire_per_record_and_fall_back_to_ttl_seconds(
    server: RedisServer, r: redis.Redis, record_format: str
) -> None:
    config = server.config(
        record_format=record_format,
        load_method="upsert",
        ttl_field="token",
        ttl_seconds=100,
        on_update="merge" if record_format == "fields" else "replace",
    )
    props = {"id": {"type": "string"}, "token": {"type": ["null", "integer"]}}
    rows = [
        {"id": "a", "token": 3600},
        {"id": "b", "token": None},
        {"id": "c", "token": 0},
        {"id": "d"},
    ]
    before = now_ms()
    run_target(
        config, singer_lines(schema_msg("h", props, ["id"]), *(record_msg("h", x) for x in rows))
    )
    after = now_ms()
    assert before + 3_600_000 <= r.execute_command("PEXPIRETIME", ":h:a") <= after + 3_600_000
    assert 0 < r.ttl(":h:b") <= 100 and 0 < r.ttl(":h:d") <= 100
    assert r.exists(":h:c") == 0
    # Merged or replaced, a record's own expiry holds, within one batch too.
    run_target(
        config,
        singer_lines(
            schema_msg("h", props, ["id"]),
            record_msg("h", {"id": "a", "token": 1}),
            record_msg("h", {"id": "a", "token": 7200}),
        ),
    )
    assert r.execute_command("PEXPIRETIME", ":h:a") >= after + 7_000_000


def test_json_documents_expire_per_record(module_server: RedisServer, modules: redis.Redis) -> None:
    config = module_server.config(
        cache_type="json", load_method="upsert", expire_at_field="expires_at", on_update="merge"
    )
    messages = [
        schema_msg("j", SESSIONS, ["id"]),
        record_msg("j", {"id": "a", "token": "x", "expires_at": "2999-01-01"}),
    ]
    run_target(config, singer_lines(*messages))
    assert modules.execute_command("PEXPIRETIME", ":j:a") == ms("2999-01-01T00:00:00+00:00")
    run_target(
        config,
        singer_lines(
            schema_msg("j", SESSIONS, ["id"]), record_msg("j", {"id": "a", "expires_at": None})
        ),
    )
    assert modules.ttl(":j:a") == -1  # a null: no expiry (PERSIST: a merge would keep it)
    assert json.loads(modules.execute_command("JSON.GET", ":j:a")) == {"id": "a", "token": "x"}


@pytest.mark.parametrize(
    ("settings", "record", "reason"),
    [
        (
            {"cache_type": "set", "member_field": "name"},
            {"user_id": 1, "name": None},
            "property 'name' is missing or null; it is the member or value",
        ),
        (
            {"cache_type": "string", "value_field": "name"},
            {"user_id": 1},
            "property 'name' is missing or null",
        ),
        (
            {"expire_at_field": "name"},
            {"user_id": 1, "name": "soon"},
            "property 'name' holds 'soon', neither a date / date-time nor epoch seconds",
        ),
        (
            {"expire_at_field": "user_id"},
            {"user_id": 10**20},
            "property 'user_id' holds 100000000000000000000, beyond the year 9999",
        ),
    ],
)
def test_values_that_cannot_be_a_member_value_or_expiry_are_invalid_records(
    server: RedisServer,
    r: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    settings: dict,
    record: dict,
    reason: str,
) -> None:
    skip = server.config(on_invalid_record="skip", **settings)
    good = {"user_id": 4102444800, "name": "2999-01-01"}  # epoch seconds of 2100
    run(skip, good, record)
    assert reason in caplog.text
    assert (r.scard(":u") if r.type(":u") == "set" else len(r.keys(":u:*"))) == 1
    r.flushall()
    with pytest.raises(TargetRedisError, match=reason):
        run(server.config(**settings), record)


def run(config: dict, *records: dict) -> list[dict]:
    return run_target(
        config,
        singer_lines(
            schema_msg("u", USERS, ["user_id"]),
            *(record_msg("u", x) for x in records),
            state_msg({"n": 1}),
        ),
    ).states


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        (
            {"member_field": "name"},
            "Setting 'member_field' applies to cache_type set, sorted_set and list; here it "
            "is cache_type hash.",
        ),
        (
            {"cache_type": "set", "value_field": "name"},
            "Setting 'value_field' applies to cache_type string; here it is cache_type set.",
        ),
        (
            {"expire_at_field": "name", "ttl_field": "user_id"},
            "Setting 'expire_at_field' and 'ttl_field' both give an expiry: set one; here it "
            "is cache_type hash.",
        ),
        (
            {"cache_type": "list", "ttl_field": "user_id"},
            "Setting 'expire_at_field' / 'ttl_field' apply to keys of one record (hash, json, "
            "string) and to collections per group (key_template placeholders); the stream's "
            "one collection would expire with all its records; here it is cache_type list.",
        ),
        (
            {
                "cache_type": "string",
                "value_field": "name",
                "process_activate_version_messages": True,
                "add_record_metadata": True,
            },
            "'value_field' with process_activate_version_messages",
        ),
        (
            {"cache_type": "set", "member_field": "nope"},
            "Setting 'member_field': stream 'u' has no property 'nope'.",
        ),
        (
            {"cache_type": "string", "value_field": "nope"},
            "Setting 'value_field': stream 'u' has no property 'nope'.",
        ),
        ({"ttl_field": "nope"}, "Setting 'ttl_field': stream 'u' has no property 'nope'."),
        (
            {
                "streams": {
                    "u": {
                        "cache_type": "list",
                        "key_template": "b:{name}",
                        "load_method": "upsert",
                    }
                }
            },
            "Setting 'load_method: upsert' does not apply to 'cache_type: list' (streams 'u')",
        ),
    ],
)
def test_refusals_at_start(
    server: RedisServer, r: redis.Redis, settings: dict, refusal: str
) -> None:
    with pytest.raises(TargetRedisError) as caught:
        run(server.config(**settings), {"user_id": 1, "name": "a"})
    assert refusal in str(caught.value)
    assert r.keys("*") == []


def test_the_docs_example(server: RedisServer, r: redis.Redis) -> None:
    """docs/layouts.md's members, values and expiry: its config, the input it describes,
    every redis-cli line with its output."""
    section = docs_section("layouts.md", "One property as a member or value")
    config = docs_config(section)
    props = {
        "user_id": {"type": "integer"},
        "id": {"type": "string"},
        "token": {"type": "string"},
        "expires_at": {"type": ["null", "string"], "format": "date-time"},
        **DELETED,
    }
    messages = [
        schema_msg("active_users", props, ["user_id"]),
        schema_msg("sessions", props, ["id"]),
        *(record_msg("active_users", {"user_id": i}) for i in (42, 7, 1001)),
        record_msg("active_users", {"user_id": 7, "_sdc_deleted_at": GONE}),
        record_msg(
            "sessions", {"id": "s1", "token": "9f2c4e", "expires_at": "2999-01-01T00:00:00Z"}
        ),
        record_msg(
            "sessions", {"id": "s2", "token": "77aa01", "expires_at": "2020-01-01T00:00:00Z"}
        ),
    ]
    run_target({**server.config(), **config}, singer_lines(*messages))
    assert check_cli_sessions(section, server.port) == 4
