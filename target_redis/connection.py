"""Settings -> a connected, authenticated redis client."""

from __future__ import annotations

import dataclasses
import re
import typing as t

import redis
import redis.exceptions

from target_redis.errors import TargetRedisError

_TIMEOUT_SECONDS = 10.0


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


def describe(config: t.Mapping[str, t.Any]) -> str:
    """``host:port/db`` for messages (never credentials)."""
    return f"{config.get('host', 'localhost')}:{config.get('port', 6379)}/{config.get('db', 0)}"


def refuse_unsupported_transport(config: t.Mapping[str, t.Any]) -> None:
    """Stop when the config asks for TLS or an SSH tunnel, which are not built yet.

    Connecting in plain text when TLS was asked for would leak data and
    credentials, so these configs are refused rather than ignored.
    """
    ssl_mode = config.get("ssl_mode") or {}
    mode = ssl_mode.get("mode", "disable") if isinstance(ssl_mode, dict) else "disable"
    if config.get("ssl") or mode != "disable":
        msg = (
            "Setting 'ssl'/'ssl_mode' asks for TLS, which this version of "
            "target-redis does not support yet; refusing to connect in plain text."
        )
        raise TargetRedisError(msg)
    tunnel = config.get("tunnel_method") or {}
    method = tunnel.get("tunnel_method", "NO_TUNNEL") if isinstance(tunnel, dict) else "NO_TUNNEL"
    if method != "NO_TUNNEL":
        msg = (
            f"Setting 'tunnel_method' asks for {method}, which this version of "
            "target-redis does not support yet."
        )
        raise TargetRedisError(msg)


def connect(config: t.Mapping[str, t.Any]) -> tuple[redis.Redis, ServerInfo]:
    """Connect, authenticate and PING; raise TargetRedisError with a clear line."""
    refuse_unsupported_transport(config)
    client = redis.Redis(
        host=config.get("host", "localhost"),
        port=int(config.get("port", 6379)),
        db=int(config.get("db", 0)),
        username=config.get("username") or None,
        password=config.get("password") or None,
        socket_connect_timeout=_TIMEOUT_SECONDS,
        socket_timeout=max(_TIMEOUT_SECONDS, 60.0),
        decode_responses=True,
    )
    where = describe(config)
    try:
        client.ping()
        version = server_version(client)
    except redis.AuthenticationError as exc:
        client.close()
        who = f"user '{config['username']}'" if config.get("username") else "password"
        msg = f"Redis at {where} refused the credentials ({who}): {exc}"
        raise TargetRedisError(msg) from None
    except redis.ResponseError as exc:
        client.close()
        msg = f"Redis at {where} refused the connection: {exc}"
        raise TargetRedisError(msg) from None
    except redis.RedisError as exc:
        client.close()
        msg = f"Cannot connect to Redis at {where}: {exc}"
        raise TargetRedisError(msg) from None
    return client, ServerInfo(parse_version(version))


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
