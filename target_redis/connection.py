"""Settings -> a connected, authenticated, checked redis client (TLS, SSH tunnel)."""

from __future__ import annotations

import atexit
import dataclasses
import socket
import ssl
import typing as t
import urllib.parse

import redis
import redis.connection
import redis.exceptions

from target_redis import connection_settings, settings
from target_redis.errors import REDIS_ERRORS, TargetRedisError
from target_redis.server import DEFAULT_MAX_BULK, ServerInfo, parse_version
from target_redis.tls import DISABLE, build_context, tls_mode

if t.TYPE_CHECKING:
    import sshtunnel


FAKEREDIS = "fakeredis"


def _seconds(config: t.Mapping[str, t.Any], name: str) -> float:
    return float(settings.value(config, name))


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
            host=str(settings.value(config, "host")),
            port=int(settings.value(config, "port")),
            db=int(settings.value(config, "db")),
            username=config.get("username") or None,
            password=config.get("password") or None,
            tls=tls_mode(config),
        )
    try:
        parts = urllib.parse.urlsplit(str(url))
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"; the text never holds the url
        msg = f"Setting 'url' is not a valid URL ({exc})."
        raise TargetRedisError(msg) from None
    if parts.scheme not in ("redis", "rediss"):
        msg = "Setting 'url' must start with redis:// or rediss://."
        raise TargetRedisError(msg)
    try:
        port = parts.port or int(settings.DEFAULTS["port"])
        path = parts.path.lstrip("/")
        db = int(path) if path else 0
    except ValueError:
        msg = "Setting 'url' has an invalid port or database number."
        raise TargetRedisError(msg) from None
    return Endpoint(
        host=parts.hostname or str(settings.DEFAULTS["host"]),
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
        client: redis.Redis | redis.RedisCluster,
        server: ServerInfo,
        where: str,
        forwarder: sshtunnel.SSHTunnelForwarder | None,
    ) -> None:
        """Hold the parts; ``close()`` releases them."""
        self.client = client
        self.server = server
        self.where = where
        self._forwarder = forwarder

    owns_client = True
    """False for a client handed in by the caller (the in-process API): left open."""

    def close(self) -> None:
        """Close the client and the tunnel (safe to call twice)."""
        if self.owns_client:
            self.client.close()
            if isinstance(self.client, redis.Redis):
                # close() leaves a pool it was handed (connection_pool=) open: its
                # sockets would be left to the garbage collector (ResourceWarning).
                self.client.connection_pool.disconnect()
        if self._forwarder is not None:
            self._forwarder.stop(force=True)
            self._forwarder = None


def connect(config: t.Mapping[str, t.Any]) -> Connection:
    """Open the tunnel (if any), connect, authenticate and PING (with ``cluster_mode``:
    discover the cluster's nodes from the one given).

    Raises TargetRedisError with one line naming host:port (never a secret).
    """
    target = endpoint(config)
    cluster = bool(config.get("cluster_mode"))
    tunnel = None
    no_tunnel = connection_settings.TUNNEL_METHODS[0]
    if (config.get("tunnel_method") or {}).get("tunnel_method", no_tunnel) != no_tunnel:
        from target_redis.tunnel import tunnel_settings  # paramiko: imported only when used

        tunnel = tunnel_settings(config)
    if cluster:
        check_cluster_settings(config, target, tunnel_used=tunnel is not None)
    context = build_context(config, target.tls) if target.tls != DISABLE else None
    where = target.describe() if not cluster else f"{target.host}:{target.port} (cluster)"
    kwargs: dict[str, t.Any] = {
        "host": target.host,
        "port": target.port,
        "username": target.username,
        "password": target.password,
        "socket_connect_timeout": _seconds(config, "connect_timeout_seconds"),
        "socket_timeout": _seconds(config, "socket_timeout_seconds"),
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
        # Each connection checks the certificate against the host it was asked to
        # reach (through a tunnel: the real Redis host; in a cluster: each node).
        name = target.host if forwarder is not None else None
        kwargs["connection_class"] = tls_connection_class(context, name)
    client: redis.Redis | redis.RedisCluster | None = None
    try:
        if cluster:
            client = cluster_client(kwargs)
        else:
            client = redis.Redis(connection_pool=redis.ConnectionPool(db=target.db, **kwargs))
            client.ping()
        server = server_info(client, where)
    except BaseException as exc:  # a refusal too: nothing stays open
        if client is not None:
            client.close()
        if forwarder is not None:
            forwarder.stop(force=True)
        if isinstance(exc, REDIS_ERRORS):
            raise connect_error(exc, target, where) from None
        raise
    return Connection(client, server, where, forwarder)


def adopt(client: redis.Redis) -> Connection:
    """A Connection over a client the caller made (a FakeRedis or a real one): replies
    are decoded whatever the client's own setting, and the client is left open."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": True}
    decoding = type(client)(  # FakeRedis stays FakeRedis: its replies need its callbacks
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )
    where = "the given client"
    connection = Connection(decoding, server_info(decoding, where), where, None)
    connection.owns_client = True  # the decoding copy; the caller's own stays open
    return connection


def connect_error(exc: Exception, target: Endpoint, where: str) -> TargetRedisError:
    """One line for a failed connect (never a secret)."""
    if target.tls != DISABLE:
        where += f" over TLS ({target.tls})"
    if isinstance(exc, redis.exceptions.RedisClusterException) and isinstance(
        exc.__cause__, redis.RedisError
    ):
        exc = exc.__cause__  # what the node said (e.g. refused credentials)
    detail = " ".join(str(exc).split())
    if "cluster mode is not enabled" in detail.lower():
        return TargetRedisError(
            f"Redis at {where} is not a cluster node (cluster mode is not enabled); "
            "leave 'cluster_mode' off for a standalone server."
        )
    if isinstance(exc, redis.AuthenticationError):
        who = f"user '{target.username}'" if target.username else "password"
        return TargetRedisError(f"Redis at {where} refused the credentials ({who}): {detail}")
    if isinstance(exc, redis.ResponseError):
        return TargetRedisError(f"Redis at {where} refused the connection: {detail}")
    return TargetRedisError(f"Cannot connect to Redis at {where}: {detail}")


def cluster_client(kwargs: dict[str, t.Any]) -> redis.RedisCluster:
    """A cluster client (it connects to discover the nodes). The start-up node goes in
    as a url: only on that path does redis-py hand ``connection_class`` (our TLS) to
    every node's connection pool."""
    host, port = kwargs.pop("host"), kwargs.pop("port")
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return redis.RedisCluster(url=f"redis://{netloc}", **kwargs)


def check_cluster_settings(
    config: t.Mapping[str, t.Any], target: Endpoint, *, tunnel_used: bool
) -> None:
    """Refuse settings a cluster cannot honour."""
    if target.db:
        msg = "Setting 'cluster_mode': a Redis Cluster has only database 0 (setting 'db' or 'url')."
        raise TargetRedisError(msg)
    if tunnel_used:
        msg = (
            "Setting 'cluster_mode' cannot be combined with 'tunnel_method': an SSH tunnel "
            "forwards one node, and the cluster sends clients to all of them."
        )
        raise TargetRedisError(msg)


def tls_connection_class(
    context: ssl.SSLContext, server_hostname: str | None
) -> type[redis.connection.Connection]:
    """A TLSConnection class bound to ``context``, verifying ``server_hostname`` or,
    when None, the host each connection is made to (redis-py creates the connections
    of every cluster node from the class alone)."""

    class BoundTLSConnection(TLSConnection):
        def __init__(self, **kwargs: t.Any) -> None:
            super().__init__(
                ssl_context=context,
                server_hostname=server_hostname or kwargs.get("host", "localhost"),
                **kwargs,
            )

    return BoundTLSConnection


def server_info(client: redis.Redis | redis.RedisCluster, where: str) -> ServerInfo:
    """What the server is (in a cluster: the oldest primary); a standalone client
    pointed at a cluster node is refused (its writes would be MOVED elsewhere)."""
    if isinstance(client, redis.RedisCluster):
        nodes = [node.redis_connection for node in client.get_primaries()]
        found = [server_facts(node) for node in nodes if node is not None]
        oldest = min(found, key=lambda info: info.version, default=ServerInfo((0,)))
        label = f"{oldest.label} (cluster of {len(found)} primaries)"
        bulk = min((info.max_bulk_bytes for info in found), default=DEFAULT_MAX_BULK)
        return dataclasses.replace(oldest, cluster=True, label=label, max_bulk_bytes=bulk)
    info = server_facts(client)
    if info.cluster:
        msg = (
            f"Redis at {where} is a Redis Cluster node; set 'cluster_mode: true' so keys "
            "go to the nodes that own their slots."
        )
        raise TargetRedisError(msg)
    return info


def server_facts(client: redis.Redis) -> ServerInfo:
    """Version and cluster mode from INFO, or from HELLO for a user who may not run
    INFO; version 0 (oldest-safe commands) when neither is allowed."""
    try:
        info = client.info()
    except redis.ResponseError:
        pass  # no permission, or no INFO at all (fakeredis): HELLO says what it is
    else:
        version = str(info.get("redis_version", "0"))
        valkey = info.get("valkey_version")
        label = f"Valkey {valkey}" if valkey else f"Redis {version}"
        cluster = str(info.get("cluster_enabled")) == "1"
        return ServerInfo(parse_version(version), cluster, label, max_bulk(client))
    try:
        hello = _hello(client)
    except redis.ResponseError:  # no permission, or a server before Redis 6
        return ServerInfo((0,))
    if isinstance(hello, list):
        hello = dict(zip(hello[::2], hello[1::2], strict=False))
    version = str(hello.get("version", "0"))
    cluster = hello.get("mode") == "cluster"
    if str(hello.get("server")) == FAKEREDIS:
        # Its own version, not a Redis version: it speaks Redis 7's commands.
        return ServerInfo((7, 0), cluster, f"fakeredis {version}", fakeredis=True)
    label = f"{str(hello.get('server', 'redis')).capitalize()} {version}"
    return ServerInfo(parse_version(version), cluster, label)


def _hello(client: redis.Redis) -> t.Any:
    """HELLO's reply, on a connection dropped afterwards: after a HELLO, redis-py's
    connection (fakeredis's at least) no longer turns HGETALL replies into dicts."""
    pool = client.connection_pool
    connection = pool.connection_class(**pool.connection_kwargs)  # not the pool's
    try:
        connection.send_command("HELLO")
        reply = connection.read_response()
    finally:
        connection.disconnect()
    if isinstance(reply, redis.ResponseError):
        raise reply
    return reply


def max_bulk(client: redis.Redis) -> int:
    """``proto-max-bulk-len`` (its default when CONFIG may not be read)."""
    try:
        found = client.config_get("proto-max-bulk-len")
        return int(str(found.get("proto-max-bulk-len", DEFAULT_MAX_BULK)))
    except (redis.RedisError, ValueError):
        return DEFAULT_MAX_BULK
