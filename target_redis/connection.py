"""Settings -> a connected, authenticated, checked redis client (TLS, SSH tunnel)."""

from __future__ import annotations

import atexit
import dataclasses
import re
import socket
import ssl
import typing as t
import urllib.parse

import redis
import redis.connection
import redis.exceptions

from target_redis.errors import TargetRedisError
from target_redis.tls import DISABLE, build_context, tls_mode

if t.TYPE_CHECKING:
    import sshtunnel

_CONNECT_TIMEOUT = 10.0
_READ_TIMEOUT = 60.0


def _seconds(config: t.Mapping[str, t.Any], name: str, default: float) -> float:
    value = config.get(name)
    return float(value) if value else default


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What the target needs to know about the server it writes to."""

    version: tuple[int, ...]

    @property
    def has_unlink(self) -> bool:
        """UNLINK exists from Redis 4.0."""
        return self.version >= (4, 0)

    @property
    def has_scan_type(self) -> bool:
        """SCAN ... TYPE exists from Redis 6.0."""
        return self.version >= (6, 0)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, from ``url`` or the separate settings."""

    host: str
    port: int
    db: int
    username: str | None
    password: str | None = dataclasses.field(repr=False)
    tls: str

    def describe(self) -> str:
        """``host:port/db`` for messages (never credentials)."""
        return f"{self.host}:{self.port}/{self.db}"


def endpoint(config: t.Mapping[str, t.Any]) -> Endpoint:
    """The endpoint the settings describe. ``url``, when set, wins over host, port,
    username, password and db; TLS material and mode still come from ``ssl_mode``."""
    url = config.get("url")
    if not url:
        return Endpoint(
            host=str(config.get("host") or "localhost"),
            port=int(config.get("port") or 6379),
            db=int(config.get("db") or 0),
            username=config.get("username") or None,
            password=config.get("password") or None,
            tls=tls_mode(config),
        )
    parts = urllib.parse.urlsplit(str(url))
    if parts.scheme not in ("redis", "rediss"):
        msg = "Setting 'url' must start with redis:// or rediss://."
        raise TargetRedisError(msg)
    try:
        port = parts.port or 6379
        path = parts.path.lstrip("/")
        db = int(path) if path else 0
    except ValueError:
        msg = "Setting 'url' has an invalid port or database number."
        raise TargetRedisError(msg) from None
    return Endpoint(
        host=parts.hostname or "localhost",
        port=port,
        db=db,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        tls=tls_mode(config, url_tls=parts.scheme == "rediss"),
    )


class TLSConnection(redis.connection.Connection):
    """A redis-py connection wrapped in a prepared SSLContext.

    The certificate is checked against ``server_hostname`` (the real Redis host),
    not the address connected to, so TLS through an SSH tunnel still verifies it.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext, server_hostname: str, **kwargs: t.Any
    ) -> None:
        """Keep the context and the name to verify; the rest goes to redis-py."""
        super().__init__(**kwargs)
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname

    def _connect(self) -> socket.socket:
        sock = super()._connect()
        try:
            # The handshake gets the connect timeout: a plain-text server never answers it.
            sock.settimeout(self.socket_connect_timeout)
            tls_sock = self._ssl_context.wrap_socket(sock, server_hostname=self._server_hostname)
            tls_sock.settimeout(self.socket_timeout)
        except OSError:
            sock.close()
            raise
        return tls_sock


class Connection:
    """The shared client, what is known of its server, and the tunnel under it."""

    def __init__(
        self,
        client: redis.Redis,
        server: ServerInfo,
        where: str,
        forwarder: sshtunnel.SSHTunnelForwarder | None,
    ) -> None:
        """Hold the parts; ``close()`` releases them."""
        self.client = client
        self.server = server
        self.where = where
        self._forwarder = forwarder

    def close(self) -> None:
        """Close the client and the tunnel (safe to call twice)."""
        self.client.close()
        if self._forwarder is not None:
            self._forwarder.stop(force=True)
            self._forwarder = None


def connect(config: t.Mapping[str, t.Any]) -> Connection:
    """Open the tunnel (if any), connect, authenticate and PING.

    Raises TargetRedisError with one line naming host:port (never a secret).
    """
    target = endpoint(config)
    tunnel = None
    if (config.get("tunnel_method") or {}).get("tunnel_method", "NO_TUNNEL") != "NO_TUNNEL":
        from target_redis.tunnel import tunnel_settings  # paramiko: imported only when used

        tunnel = tunnel_settings(config)
    context = build_context(config, target.tls) if target.tls != DISABLE else None
    where = target.describe()
    kwargs: dict[str, t.Any] = {
        "host": target.host,
        "port": target.port,
        "db": target.db,
        "username": target.username,
        "password": target.password,
        "socket_connect_timeout": _seconds(config, "connect_timeout_seconds", _CONNECT_TIMEOUT),
        "socket_timeout": _seconds(config, "socket_timeout_seconds", _READ_TIMEOUT),
        "decode_responses": True,
    }
    forwarder = None
    if tunnel is not None:
        from target_redis.tunnel import open_tunnel

        forwarder = open_tunnel(tunnel, target.host, target.port)
        atexit.register(forwarder.stop, force=True)
        kwargs.update(host="127.0.0.1", port=forwarder.local_bind_port)
        where += f" (SSH tunnel via {tunnel['tunnel_host']})"
    if context is not None:
        kwargs.update(
            connection_class=TLSConnection, ssl_context=context, server_hostname=target.host
        )
    client = redis.Redis(connection_pool=redis.ConnectionPool(**kwargs))
    connection = Connection(client, ServerInfo((0,)), where, forwarder)
    try:
        client.ping()
        connection.server = ServerInfo(parse_version(server_version(client)))
    except redis.AuthenticationError as exc:
        connection.close()
        who = f"user '{target.username}'" if target.username else "password"
        msg = f"Redis at {where} refused the credentials ({who}): {exc}"
        raise TargetRedisError(msg) from None
    except redis.ResponseError as exc:
        connection.close()
        msg = f"Redis at {where} refused the connection: {exc}"
        raise TargetRedisError(msg) from None
    except redis.RedisError as exc:
        connection.close()
        msg = f"Cannot connect to Redis at {where}: {exc}"
        raise TargetRedisError(msg) from None
    return connection


def server_version(client: redis.Redis) -> str:
    """The server's version, or "0" (oldest-safe commands) if INFO is not allowed."""
    try:
        return str(client.info("server").get("redis_version", "0"))
    except redis.exceptions.NoPermissionError:
        return "0"


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.0.15"`` -> ``(7, 0, 15)``; unknown parts count as 0."""
    parts = []
    for part in text.split(".")[:3]:
        digits = re.match(r"\d*", part)
        parts.append(int(digits.group()) if digits and digits.group() else 0)
    return tuple(parts)
