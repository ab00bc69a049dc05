"""Packed pipelines read replies in bulk: integers and statuses without a Python call
per reply, anything else (errors, strings) parsed by hiredis, the first error named."""

from __future__ import annotations

import typing as t

import hiredis
import pytest
import redis

from target_redis import writer as writer_module
from target_redis.cache_types import ListType
from target_redis.lease import Fence
from target_redis.pipelines import SimpleReplies, packed_parts, send_packed
from target_redis.rows import Row
from target_redis.server import ServerInfo
from target_redis.writer import Writer


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


def test_big_batches_are_packed_in_parts_of_about_one_mib() -> None:
    """A 64 MB batch was packed whole and then joined: twice its size in the process."""
    commands = [("HSET", f"k{i}", "v", "x" * 100_000) for i in range(100)]
    parts = list(packed_parts(commands))
    assert b"".join(parts) == b"".join(hiredis.pack_command(c) for c in commands)
    assert len(parts) == 10 and all(len(p) < (1 << 20) + 200_000 for p in parts)


def test_pushes_hold_about_one_mib_of_members_a_command() -> None:
    rows = [Row(text="x" * 300_000, emitted_at=0) for _ in range(10)]
    commands = ListType().add_commands("k", rows)
    assert [len(c) - 2 for c in commands] == [4, 4, 2]
    assert [m for c in commands for m in c[2:]] == [row.text for row in rows]
    small = ListType().add_commands("k", [Row(text="1", emitted_at=0)] * 2500)
    assert [len(c) - 2 for c in small] == [1000, 1000, 500]


def test_an_overwrite_batch_is_fenced_by_scripts_of_about_one_mib() -> None:
    fence = Fence("lease", "run client 1", 300)
    commands = [("HSET", f"k{i}", "v", "x" * 400_000) for i in range(7)]
    parts = fence.parts(commands)
    assert [len(p) for p in parts] == [3, 3, 1]
    assert [c for p in parts for c in p] == commands
    script = fence.command([("MULTI",), ("HSET", "k", "f", "v"), ("EXEC",)], "mark", "7")
    assert script[2:] == (
        "2",
        "lease",
        "mark",
        "run client 1",
        "300",
        "7",
        "4",
        "HSET",
        "k",
        "f",
        "v",
    )


def _blocks_whole(runs: list[list[tuple[str, ...]]]) -> bool:
    """Every MULTI of a run has its EXEC in the same run."""
    for run in runs:
        depth = 0
        for command in run:
            depth += {"MULTI": 1, "EXEC": -1}.get(command[0], 0)
            if depth not in (0, 1):
                return False
        if depth:
            return False
    return True


def _replace_blocks(count: int, value: str = "v") -> list[tuple[str, ...]]:
    commands: list[tuple[str, ...]] = [("SADD", "index", "k")]
    for i in range(count):
        key = f"user:{i}"
        commands += [("MULTI",), ("DEL", key), ("HSET", key, "f", value), ("EXEC",)]
    return commands


def test_a_fenced_multi_block_stays_in_one_script() -> None:
    """A block cut between two scripts would let a reader see the key deleted, and a
    lost connection between them would leave it so."""
    parts = Fence.parts(_replace_blocks(600, "x" * 3000))
    assert len(parts) > 1
    assert _blocks_whole(parts)


def test_pipeline_chunks_never_cut_a_multi_block(
    r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "_PIPELINE_CHUNK", 6)
    sent: list[list[tuple[str, ...]]] = []
    send = Writer._send

    def spy(self: Writer, chunk: list[tuple[str, ...]], **kwargs: t.Any) -> t.Any:
        sent.append(list(chunk))
        return send(self, chunk, **kwargs)

    monkeypatch.setattr(Writer, "_send", spy)
    writer = Writer(r, ServerInfo((7, 0)))
    writer.run(_replace_blocks(5))
    assert len(sent) > 1 and _blocks_whole(sent)
    assert [r.hgetall(f"user:{i}") for i in range(5)] == [{"f": "v"}] * 5
