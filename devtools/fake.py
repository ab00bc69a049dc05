"""fakeredis's TCP server on a free port, shaped like devtools.server.RedisServer (what
users' CI jobs run instead of a Redis server)."""

from __future__ import annotations

import threading
import typing as t

import fakeredis
import redis
from fakeredis import TcpFakeServer

from devtools.server import free_port


class FakeTcpServer:
    """``fakeredis.TcpFakeServer`` in a thread: host, port, client(), config(), stop()."""

    def __init__(self) -> None:
        """Start serving on a free port."""
        self.host = "127.0.0.1"
        self.port = free_port()
        self.version = f"fakeredis-{fakeredis.__version__}"
        self._server = TcpFakeServer((self.host, self.port), server_type="redis")
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def client(self, **kwargs: t.Any) -> redis.Redis:
        """A client of this server that decodes replies to str."""
        return redis.Redis(host=self.host, port=self.port, decode_responses=True, **kwargs)

    def config(self, **settings: t.Any) -> dict[str, t.Any]:
        """Target settings pointing at this server."""
        return {"host": self.host, "port": self.port, **settings}

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTcpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
