"""Fault suite: servers killed, restarted, cut off, full; signals; overwrite under fire.

Every test checks the one promise: each STATE printed is covered by what Redis holds,
and nothing acknowledged is lost.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import typing as t

import pytest
import redis
from conftest import need_server_binary
from helpers import run_target
from live import LiveRun, stream_lines
from proxy import FaultyProxy

from devtools.server import RedisServer

N = 1500


@pytest.fixture
def durable() -> t.Iterator[RedisServer]:
    """A server that keeps every acknowledged write across a crash (AOF, fsync always)."""
    server = RedisServer(need_server_binary(), ["--appendonly", "yes", "--appendfsync", "always"])
    yield server
    server.stop()


def stored(client: redis.Redis, stream: str = "s") -> dict[int, list[str]]:
    """id -> the v values stored for it (more than one means a duplicate)."""
    found: dict[int, list[str]] = {}
    for key in client.scan_iter(match=f":{stream}:*", _type="hash", count=1000):
        data = json.loads(client.hget(key, "_airbyte_data"))
        found.setdefault(data["id"], []).append(data["v"])
    return found


def assert_states_covered(
    states: list[dict], found: dict[int, list[str]], stream: str = "s"
) -> None:
    for state in states:
        bookmark = state[stream]
        missing = [i for i in range(1, bookmark + 1) if i not in found]
        assert not missing, f"state {state} printed but ids {missing[:5]}... are not in Redis"


def fast_config(server: RedisServer | FaultyProxy, **extra: t.Any) -> dict:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "batch_size_rows": 100,
        "state_checkpoint_records": 100,
        **extra,
    }


@pytest.mark.parametrize("load_method", ["upsert", "append-only"])
def test_server_killed_mid_load_then_resume(durable: RedisServer, load_method: str) -> None:
    config = fast_config(durable, load_method=load_method, retry_max_seconds=2)
    run = LiveRun(config, stream_lines(range(1, N + 1)), chunk=40, hold_after=600)
    run.wait_for_states(3)
    durable.kill()  # SIGKILL while the target holds a partial batch
    run.resume_input()
    code, stderr = run.finish()
    assert code == 1
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "Stream 's'" in errors[0] and "Traceback" not in stderr, stderr
    durable.start()  # back from its AOF: what Redis acknowledged
    with durable.client() as client:
        found = stored(client)
    assert run.states, "states were printed before the kill"
    assert_states_covered(run.states, found)
    # The tap resumes after the last bookmark it was given back.
    resume_from = run.states[-1]["s"] + 1
    rerun = LiveRun(config, stream_lines(range(resume_from, N + 1)))
    code, stderr = rerun.finish()
    assert code == 0, stderr
    with durable.client() as client:
        found = stored(client)
    assert set(found) == set(range(1, N + 1))
    if load_method == "upsert":
        assert all(values == [f"v{i}"] for i, values in found.items())


def test_server_restarted_within_retry_window(durable: RedisServer) -> None:
    config = fast_config(durable, retry_max_seconds=30)
    run = LiveRun(config, stream_lines(range(1, N + 1)), chunk=40, hold_after=600)
    run.wait_for_states(2)
    run.wait_until_reading()  # input held: the target waits with a pending batch
    durable.process.terminate()  # a graceful stop: the AOF keeps every acknowledged write
    durable.process.wait()
    run.resume_input()  # the next writes find no server and are retried...
    run.wait_for_log("retry")
    durable.start()  # ...until it is back
    code, stderr = run.finish()
    assert code == 0, stderr
    assert "retry" in stderr
    with durable.client() as client:
        found = stored(client)
    assert found == {i: [f"v{i}"] for i in range(1, N + 1)}  # nothing lost, no duplicate
    assert run.states[-1] == {"s": N}


@pytest.mark.parametrize("load_method", ["upsert", "append-only"])
def test_connection_cut_mid_pipeline(server: RedisServer, r: redis.Redis, load_method: str) -> None:
    proxy = FaultyProxy(server.port)
    try:
        config = fast_config(proxy, load_method=load_method, batch_size_rows=500)
        run = LiveRun(config, stream_lines(range(1, N + 1)), chunk=100, pause=0.05)
        run.wait_for_states(1)
        proxy.arm_drop(30_000)  # inside the next pipeline
        code, stderr = run.finish()
        assert code == 0, stderr
        assert proxy.drops == 1
    finally:
        proxy.close()
    assert stored(r) == {i: [f"v{i}"] for i in range(1, N + 1)}


def test_stalled_connection_times_out_and_retries(server: RedisServer, r: redis.Redis) -> None:
    proxy = FaultyProxy(server.port)
    try:
        config = fast_config(proxy, load_method="upsert", socket_timeout_seconds=1)
        run = LiveRun(config, stream_lines(range(1, 601)), chunk=100, hold_after=200)
        run.wait_for_states(1)
        proxy.stall(2.5)
        run.resume_input()
        code, stderr = run.finish()
        assert code == 0, stderr
        assert "Timeout" in stderr
    finally:
        proxy.close()
    assert stored(r) == {i: [f"v{i}"] for i in range(1, 601)}


def test_out_of_memory_fails_at_once(r: redis.Redis, server: RedisServer) -> None:
    r.config_set("maxmemory", "3mb")
    r.config_set("maxmemory-policy", "noeviction")
    try:
        config = fast_config(server, state_checkpoint_records=0, retry_max_seconds=30)
        started = time.monotonic()
        run = LiveRun(config, stream_lines(range(1, 20_001), state_every=10_000), chunk=2000)
        code, stderr = run.finish()
    finally:
        r.config_set("maxmemory", "0")
    assert code == 1
    assert time.monotonic() - started < 20, "OOM is not retried"
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "out of memory" in errors[0], stderr
    assert run.states == []


def test_overwrite_readers_never_see_an_empty_stream(server: RedisServer, r: redis.Redis) -> None:
    first = LiveRun(
        fast_config(server, load_method="overwrite"), stream_lines(range(1, 301), tag="old")
    )
    assert first.finish()[0] == 0
    counts: list[int] = []
    done = threading.Event()

    def poll() -> None:
        with server.client() as client:
            while not done.is_set():
                counts.append(sum(1 for _ in client.scan_iter(match=":s:*", _type="hash")))
                time.sleep(0.005)

    poller = threading.Thread(target=poll)
    poller.start()
    second = LiveRun(
        fast_config(server, load_method="overwrite"),
        stream_lines(range(1, 401), tag="new"),
        chunk=20,
        pause=0.01,
    )
    code, stderr = second.finish()
    done.set()
    poller.join()
    assert code == 0, stderr
    assert min(counts) >= 300 and len(counts) > 10
    assert stored(r) == {i: [f"new{i}"] for i in range(1, 401)}


def test_overwrite_killed_mid_run_keeps_old_records(server: RedisServer, r: redis.Redis) -> None:
    config = fast_config(server, load_method="overwrite")
    assert LiveRun(config, stream_lines(range(1, 301), tag="old")).finish()[0] == 0
    run = LiveRun(config, stream_lines(range(1, 1001), tag="new"), chunk=20, pause=0.02)
    run.wait_for_states(2)
    run.process.kill()
    run.finish()
    found = stored(r)
    assert all(f"old{i}" in found[i] for i in range(1, 301))  # every old record is still there
    # The next complete overwrite leaves exactly its own records.
    assert LiveRun(config, stream_lines(range(1, 201), tag="final")).finish()[0] == 0
    assert stored(r) == {i: [f"final{i}"] for i in range(1, 201)}


def test_sigterm_drains_and_emits_state_for_written_data(
    server: RedisServer, r: redis.Redis
) -> None:
    config = fast_config(server, batch_size_rows=10_000, state_checkpoint_records=0)
    run = LiveRun(config, stream_lines(range(1, N + 1)), chunk=100, hold_after=500)
    run.wait_until_reading()  # the target waits on stdin with a pending batch
    run.process.send_signal(signal.SIGTERM)
    code, stderr = run.finish()
    assert code == 128 + signal.SIGTERM, stderr
    found = stored(r)
    assert len(run.states) == 1 and run.states[0]["s"] >= 450
    assert_states_covered(run.states, found)
    assert set(found) == set(range(1, max(found) + 1))  # the pending batch was written


def test_second_signal_exits_at_once_without_state(server: RedisServer) -> None:
    proxy = FaultyProxy(server.port)
    try:
        config = fast_config(proxy, batch_size_rows=10_000, state_checkpoint_records=0)
        run = LiveRun(config, stream_lines(range(1, 1001)), chunk=100, hold_after=500)
        run.wait_until_reading()  # waiting on stdin with ~480 records pending
        proxy.stall(30)  # the drain after the first signal hangs on Redis
        run.process.send_signal(signal.SIGTERM)
        run.wait_for_log("Signal 15: finishing")  # the first was handled: a second is new
        started = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        code, stderr = run.finish(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        proxy.close()
    assert code == 128 + signal.SIGTERM
    assert run.states == []
    assert "Second signal" in stderr


def test_a_stop_signal_while_a_reply_stalls_exits_promptly(
    server: RedisServer, r: redis.Redis
) -> None:
    proxy = FaultyProxy(server.port)
    try:
        config = fast_config(proxy, socket_timeout_seconds=60)
        run = LiveRun(config, stream_lines(range(1, 1001)), chunk=100, hold_after=500)
        run.wait_for_states(1)
        # Fed up to the hold and read: records since the last drain are pending (a
        # signal right after a checkpoint would find nothing to write, nothing to stall).
        deadline = time.monotonic() + 30
        while run.fed < 500 and time.monotonic() < deadline:
            time.sleep(0.01)
        run.wait_until_reading()
        proxy.stall_replies(60)  # requests go through, no reply comes back
        started = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        code, stderr = run.finish(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        proxy.close()
    assert code == 128 + signal.SIGTERM, stderr
    assert elapsed < 8, f"stopped after {elapsed:.1f} s"
    assert_states_covered(run.states, stored(r))
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "did not answer within 4 s" in errors[0], stderr


def test_two_processes_append_concurrently(server: RedisServer, r: redis.Redis) -> None:
    config = fast_config(server, batch_size_rows=50)
    runs = [
        LiveRun(config, stream_lines(range(start, start + 1000), tag=tag), chunk=50, pause=0.005)
        for start, tag in ((1, "a"), (10_001, "b"))
    ]
    assert [run.finish()[0] for run in runs] == [0, 0]
    ids = [int(r.hget(key, "_airbyte_ab_id")) for key in r.scan_iter(match=":s:*", _type="hash")]
    assert len(ids) == len(set(ids)) == 2000 == int(r.get(":s"))
    found = stored(r)
    assert found == {
        **{i: [f"a{i}"] for i in range(1, 1001)},
        **{i: [f"b{i}"] for i in range(10_001, 11_001)},
    }


def test_two_overwrites_of_different_streams(server: RedisServer, r: redis.Redis) -> None:
    config = fast_config(server, load_method="overwrite", batch_size_rows=50)
    for tag in ("old", "new"):
        runs = [
            LiveRun(config, stream_lines(range(1, 301), stream=s, tag=tag), chunk=30, pause=0.005)
            for s in ("s", "t")
        ]
        assert [run.finish()[0] for run in runs] == [0, 0]
    assert stored(r, "s") == {i: [f"new{i}"] for i in range(1, 301)}
    assert stored(r, "t") == {i: [f"new{i}"] for i in range(1, 301)}


@pytest.mark.parametrize("cache_type", ["hash", "list"])
def test_an_overwrite_that_lost_its_lease_changes_nothing_after(
    server: RedisServer, r: redis.Redis, cache_type: str
) -> None:
    config = fast_config(server, load_method="overwrite", cache_type=cache_type)
    first = LiveRun(config, stream_lines(range(1, 1001), tag="a"), chunk=50, hold_after=300)
    first.wait_for_states(2)
    first.process.send_signal(signal.SIGSTOP)
    try:
        mine = r.client_id()
        for client in r.client_list():
            if int(client["id"]) != mine:
                r.client_kill_filter(_id=client["id"])
        # Its connections are gone: another overwrite takes the stream over and finishes.
        second = run_target(config, "".join(stream_lines(range(1, 201), tag="b")))
        assert second.states[-1] == {"s": 200}
    finally:
        first.process.send_signal(signal.SIGCONT)
    first.resume_input()
    code, stderr = first.finish()
    assert code == 1, stderr
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "lost its lease" in errors[0], stderr
    if cache_type == "hash":
        assert stored(r) == {i: [f"b{i}"] for i in range(1, 201)}
    else:
        values = [json.loads(text) for text in r.lrange(":s", 0, -1)]
        assert [(v["id"], v["v"]) for v in values] == [(i, f"b{i}") for i in range(1, 201)]
