"""Hardening on a real server: lost counters, byte-bounded batches, records too large,
forged log lines, stopping while Redis is down, one overwrite at a time, probe keys."""

from __future__ import annotations

import json
import signal
import time
import typing as t

import pytest
import redis
from conftest import need_server_binary
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg
from live import LiveRun, stream_lines

from devtools.server import RedisServer
from target_redis import sinks
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


def test_lost_counter_stops_the_run(server: RedisServer, r: redis.Redis) -> None:
    def lines() -> t.Iterator[str]:
        yield json.dumps(schema_msg("s", PROPS, ["id"])) + "\n"
        for i in (1, 2):
            yield json.dumps(record_msg("s", {"id": i, "v": f"v{i}"})) + "\n"
        r.delete(":s")  # the server "lost" its counter between two batches
        for i in (3, 4):
            yield json.dumps(record_msg("s", {"id": i, "v": f"v{i}"})) + "\n"

    target = TargetRedis(config=server.config(batch_size_rows=2))
    with pytest.raises(TargetRedisError) as caught:
        target.process_lines(t.cast("t.IO[str]", lines()))
    target.close()
    assert (
        "Stream 's': Redis lost the stream's counter :s (it handed out id 1 after ids up to 2 "
        in str(caught.value)
    )
    assert "Ids 1-2 would be reused" in str(caught.value)
    assert json.loads(r.hget(":s:1", "_airbyte_data")) == {"id": 1, "v": "v1"}  # not overwritten
    assert json.loads(r.hget(":s:2", "_airbyte_data")) == {"id": 2, "v": "v2"}
    assert r.get(":s") == "2"  # the INCRBY that found it; nothing else was written


def test_batches_are_bounded_by_bytes(
    server: RedisServer, r: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    original = sinks.RedisSink.process_batch

    def spy(self: sinks.RedisSink, context: dict) -> None:
        sizes.append(len(context.get("records", [])))
        original(self, context)

    monkeypatch.setattr(sinks.RedisSink, "process_batch", spy)
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": "x" * 400}) for i in range(10)],
    )
    run_target(server.config(batch_size_bytes=1000), text)
    assert sizes == [3, 3, 3, 1]  # ~420 B a record: full at the third
    assert len(r.keys(":s:*")) == 10


@pytest.fixture
def one_mb_values(r: redis.Redis) -> t.Iterator[None]:
    """The server accepts values of 1 MB at most (proto-max-bulk-len) during the test."""
    r.config_set("proto-max-bulk-len", "1mb")
    yield
    r.config_set("proto-max-bulk-len", "512mb")


def too_large(record_id: t.Any) -> str:
    """A small record, its STATE, then a record over 1 MB."""
    return singer_lines(
        schema_msg("s", PROPS, ["id"]),
        record_msg("s", {"id": 1, "v": "small"}),
        state_msg({"s": 1}),
        record_msg("s", {"id": record_id, "v": "x" * (1024 * 1024)}),
    )


def test_record_larger_than_the_server_accepts(
    server: RedisServer, r: redis.Redis, one_mb_values: None
) -> None:
    done = run_cli(server.config(state_checkpoint_records=1), too_large(2))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert (
        "Input line 4: Stream 's': a record of 1048591 bytes is larger than Redis accepts" in error
    )
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"s": 1}]
    assert r.keys(":s:*") == [":s:1"]


def test_an_invalid_record_too_large_to_dead_letter(
    server: RedisServer, r: redis.Redis, one_mb_values: None
) -> None:
    config = server.config(state_checkpoint_records=1, on_invalid_record="dead_letter")
    done = run_cli(config, too_large("two"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (error,) = [ln for ln in done.stderr.splitlines() if "| ERROR" in ln]
    assert "Input line 4 (stream 's')" in error and "larger than Redis accepts" in error, error
    assert [json.loads(x) for x in done.stdout.splitlines()] == [{"s": 1}]


def test_debug_logging_stays_linear(server: RedisServer) -> None:
    """LOGLEVEL=DEBUG logged the whole pending batch after every record."""
    text = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": f"v{i}"}) for i in range(1, 3001)],
        state_msg({"s": 3000}),
    )
    done = run_cli(server.config(), text, env={"LOGLEVEL": "DEBUG"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stderr) < 2_000_000, f"{len(done.stderr)} bytes of log for 3,000 records"


def test_control_characters_cannot_forge_log_lines(server: RedisServer) -> None:
    name = "s\n2026-01-01 00:00:00,000 | ERROR    | target-redis | forged\x1b[31m"
    text = singer_lines(schema_msg(name, PROPS, []), record_msg(name, {"id": 1, "v": "a"}))
    done = run_cli(server.config(), text)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not [ln for ln in lines if ln.split("|")[1:2] == ["ERROR    "]]
    assert all(ln.startswith("20") for ln in lines if "forged" in ln)  # never a line of its own
    assert "\\n2026-01-01 00:00:00,000 | ERROR    | target-redis | forged\\x1b[31m" in done.stderr
    assert "\x1b" not in done.stderr


def test_stop_signal_while_redis_is_down_gives_up_quickly() -> None:
    server = RedisServer(need_server_binary())
    try:
        config = {"host": "127.0.0.1", "port": server.port, "batch_size_rows": 10_000}
        run = LiveRun(config, stream_lines(range(1, 1001)), chunk=100, hold_after=500)
        run.wait_until_reading()  # waiting on stdin with ~480 records pending
        server.stop()
        started = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        code, stderr = run.finish(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert code == 128 + signal.SIGTERM
    assert elapsed < 10, elapsed  # retry_max_seconds is 60: the signal cut it to ~3 s
    assert run.states == []
    (error,) = [ln for ln in stderr.splitlines() if "| ERROR" in ln]
    assert (
        "Stopped by signal 15; the pending batch was not written and no STATE was emitted" in error
    )


def overwrite_config(server: RedisServer) -> dict:
    """Overwrite in batches of 50 with a STATE out every 50 records."""
    return server.config(load_method="overwrite", batch_size_rows=50, state_checkpoint_records=50)


def test_one_overwrite_of_a_stream_at_a_time(server: RedisServer, r: redis.Redis) -> None:
    config = overwrite_config(server)
    first = LiveRun(config, stream_lines(range(1, 301), tag="a"), chunk=20, hold_after=100)
    first.wait_for_states(1)  # then it waits on stdin, holding the lease
    second = run_cli(config, "".join(stream_lines(range(1, 201), tag="b")))
    assert second.returncode == 1
    (error,) = [ln for ln in second.stderr.splitlines() if "| ERROR" in ln]
    assert (
        "Stream 's' is being overwritten by another run (lease :{:s}:target-redis-lease:s" in error
    )
    append = run_cli({**config, "load_method": "append-only"}, "".join(stream_lines([999])))
    assert append.returncode == 1 and "is being overwritten by another run" in append.stderr
    first.resume_input()
    assert first.finish()[0] == 0
    values = sorted(json.loads(r.hget(k, "_airbyte_data"))["v"] for k in r.scan_iter(match=":s:*"))
    assert values == sorted(f"a{i}" for i in range(1, 301))
    assert r.keys("*lease*") == []  # given back
    assert run_cli(config, "".join(stream_lines(range(1, 3), tag="c"))).returncode == 0


def test_lease_of_a_killed_overwrite_is_taken_over(server: RedisServer, r: redis.Redis) -> None:
    config = overwrite_config(server)
    run = LiveRun(config, stream_lines(range(1, 301)), chunk=20, hold_after=100)
    run.wait_for_states(1)
    run.process.kill()
    run.finish()
    assert r.keys("*lease*")  # left behind, for up to 5 minutes
    assert run_cli(config, "".join(stream_lines(range(1, 3), tag="c"))).returncode == 0


def test_probe_keys_leave_streams_alone(server: RedisServer, r: redis.Redis) -> None:
    r.set(":__target_redis_check__", "41")  # a stream of that name
    r.execute_command(
        "ACL",
        "SETUSER",
        "nodel",
        "reset",
        "on",
        ">nodel-pw",
        "~*",
        "&*",
        "+@all",
        "-del",
        "-unlink",
        "-acl",
    )
    try:
        config = server.config(username="nodel", password="nodel-pw")
        TargetRedis(config=config).close()
    finally:
        r.execute_command("ACL", "DELUSER", "nodel")
    assert r.get(":__target_redis_check__") == "41"
    left = r.keys("*check*")
    probes = [key for key in left if key != ":__target_redis_check__"]
    assert probes and all(key.startswith(":{:__target_redis_check__}:") for key in probes)
    assert all(0 < r.ttl(key) <= 60 for key in probes)  # they expire by themselves
