"""STATE only for data Redis acknowledged; guards against SDK state defects."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import redis
from helpers import hashes, record_msg, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

PROPS = {"id": {"type": "integer"}, "v": {"type": "integer"}}


def test_decimal_in_state_is_written(server: RedisServer) -> None:
    text = singer_lines(schema_msg("s", PROPS), record_msg("s", {"id": 1}))
    text += '{"type": "STATE", "value": {"bookmarks": {"s": {"ratio": 0.25, "n": 3}}}}\n'
    run = run_target(server.config(), text)
    assert run.stdout == '{"bookmarks":{"s":{"ratio":0.25,"n":3}}}\n'


def test_only_latest_state_at_end_and_none_on_failure(server: RedisServer, r: redis.Redis) -> None:
    r.set(":s:1", "a string where a hash must go")
    text = singer_lines(schema_msg("s", PROPS), record_msg("s", {"id": 1}), state_msg({"s": 1}))
    out = io.StringIO()
    target = TargetRedis(config=server.config())
    with (
        pytest.raises(TargetRedisError, match=r"Stream 's'.*WRONGTYPE"),
        contextlib.redirect_stdout(out),
    ):
        target.process_lines(io.StringIO(text))
        target.process_endofpipe()
    assert out.getvalue() == ""


def test_schema_change_old_sink_written_before_new_one(server: RedisServer, r: redis.Redis) -> None:
    # The new sink fills up and drains while the old sink still holds an older
    # version of the same key: the older one must not land last.
    wider = {**PROPS, "w": {"type": "string"}}
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 1, "v": 1}),
        schema_msg("s", wider, ["id"]),
        record_msg("s", {"id": 1, "v": 2}),
        record_msg("s", {"id": 2, "v": 2}),
        state_msg({"s": 2}),
    )
    run = run_target(server.config(load_method="upsert", batch_size_rows=2), text)
    assert run.states == [{"s": 2}]
    assert json.loads(r.hget(":s:1", "_airbyte_data")) == {"id": 1, "v": 2}


def test_drain_without_records_refuses(server: RedisServer) -> None:
    target = TargetRedis(config=server.config())
    target.process_lines(io.StringIO(singer_lines(schema_msg("s", PROPS))))
    sink = target.get_sink("s")
    with pytest.raises(TargetRedisError, match="drained without its records"):
        sink.process_batch({})


def test_state_waits_for_every_stream(server: RedisServer, r: redis.Redis) -> None:
    text = singer_lines(
        schema_msg("a", PROPS),
        schema_msg("b", PROPS),
        *[record_msg("a" if i % 2 else "b", {"id": i}) for i in range(10)],
        state_msg({"a": 9, "b": 8}),
    )
    run = run_target(server.config(batch_size_rows=3), text)
    assert run.states == [{"a": 9, "b": 8}]
    assert len(hashes(r, ":a:*")) == 5 and len(hashes(r, ":b:*")) == 5


@pytest.mark.parametrize(
    "checkpoint", [{"state_checkpoint_records": 2}, {"state_checkpoint_seconds": 0.000001}]
)
def test_checkpoints_emit_each_state_after_its_records(
    server: RedisServer, r: redis.Redis, checkpoint: dict
) -> None:
    messages = [schema_msg("s", PROPS)]
    for i in range(1, 9):
        messages.append(record_msg("s", {"id": i}))
        if i % 2 == 0:
            messages.append(state_msg({"s": i}))
    run = run_target(server.config(batch_size_rows=1000, **checkpoint), singer_lines(*messages))
    assert run.states == [{"s": i} for i in (2, 4, 6, 8)]


def test_no_checkpoint_by_default_in_a_short_run(server: RedisServer) -> None:
    messages = [schema_msg("s", PROPS)]
    for i in range(1, 5):
        messages += [record_msg("s", {"id": i}), state_msg({"s": i})]
    assert run_target(server.config(), singer_lines(*messages)).states == [{"s": 4}]
