"""Packed pipelines read replies in bulk: integers and statuses without a Python call
per reply, anything else (errors, strings) parsed by hiredis, the first error named."""

from __future__ import annotations

import pytest
import redis

from target_redis.pipelines import SimpleReplies, send_packed


def test_integer_and_status_replies_are_read_in_bulk(r: redis.Redis) -> None:
    commands = [("HSET", f"h:{i}", "f", str(i)) for i in range(30_000)]
    commands += [("SET", "s", "v"), ("INCRBY", "n", "5")]
    replies = send_packed(r, commands)
    assert isinstance(replies, SimpleReplies)
    assert len(replies) == 30_002
    assert replies[0] == 1 and replies[-2] == "OK" and replies[-1] == 5
    assert replies[-3:] == [1, "OK", 5]
    assert r.hget("h:29999", "f") == "29999"


def test_other_replies_are_parsed_one_by_one(r: redis.Redis) -> None:
    r.set("k", "v\r\n:1\r\n")  # a bulk string that looks like replies
    replies = send_packed(r, [("GET", "k"), ("INCRBY", "n", "2"), ("GET", "missing")])
    assert list(replies) == ["v\r\n:1\r\n", 2, None]


def test_the_first_error_is_raised_after_every_reply_was_read(r: redis.Redis) -> None:
    r.hset("h", "f", "v")
    commands = [("INCRBY", "a", "1"), ("INCRBY", "h", "1"), ("SET", "b", "1"), ("INCRBY", "h", "2")]
    with pytest.raises(redis.ResponseError, match=r"^INCRBY h: WRONGTYPE"):
        send_packed(r, commands)
    assert r.get("b") == "1"  # the commands after the error ran
    assert send_packed(r, [("INCRBY", "a", "1")])[0] == 2  # and the connection is clean
