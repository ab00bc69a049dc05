"""SSH tunnels from Airbyte's ``tunnel_method`` settings, with host-key pinning."""

from __future__ import annotations

import base64
import binascii
import io
import logging
import typing as t

import paramiko
import sshtunnel

from target_redis import connection_settings
from target_redis.errors import TargetRedisError

logger = logging.getLogger("target-redis")

NO_TUNNEL, KEY_AUTH, PASSWORD_AUTH = connection_settings.TUNNEL_METHODS
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
_TIMEOUT = 10.0


def tunnel_settings(config: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """The ``tunnel_method`` object, or None when no tunnel is asked for."""
    tunnel = config.get("tunnel_method") or {}
    method = tunnel.get("tunnel_method") or NO_TUNNEL
    if method == NO_TUNNEL:
        return None
    if method not in (KEY_AUTH, PASSWORD_AUTH):
        msg = f"Setting 'tunnel_method.tunnel_method' has an unknown value {method!r}."
        raise TargetRedisError(msg)
    for name in ("tunnel_host", "tunnel_user"):
        if not tunnel.get(name):
            msg = f"Setting 'tunnel_method.{name}' is required for {method}."
            raise TargetRedisError(msg)
    secret = "ssh_key" if method == KEY_AUTH else "tunnel_user_password"
    if not tunnel.get(secret):
        msg = f"Setting 'tunnel_method.{secret}' is required for {method}."
        raise TargetRedisError(msg)
    return dict(tunnel)


def parse_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """A private key from PEM / OpenSSH text (Ed25519, ECDSA or RSA)."""
    for key_class in _KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    msg = "Setting 'tunnel_method.ssh_key' is not a readable Ed25519, ECDSA or RSA private key."
    raise TargetRedisError(msg)


def parse_host_key(text: str) -> paramiko.PKey:
    """A pinned host key: ``ssh-ed25519 AAAA...`` (a known_hosts or ssh-keyscan line)."""
    fields = text.split()
    for i, field in enumerate(fields[:-1]):
        if field.startswith(("ssh-", "ecdsa-")):
            try:
                return paramiko.PKey.from_type_string(field, base64.b64decode(fields[i + 1]))
            except (binascii.Error, paramiko.SSHException, ValueError):
                break
    msg = (
        "Setting 'tunnel_method.host_public_key' must be an OpenSSH public key line, "
        "e.g. 'ssh-ed25519 AAAA...' (as printed by ssh-keyscan)."
    )
    raise TargetRedisError(msg)


def fingerprint(key: paramiko.PKey) -> str:
    """``ssh-ed25519 SHA256:...`` as ssh-keygen -l prints it."""
    return f"{key.get_name()} {key.fingerprint}"


def _check_host_key(host: str, port: int, pinned: paramiko.PKey | None) -> None:
    """Fetch the bastion's host key before any credential is sent; compare with the pin."""
    try:
        with paramiko.Transport((host, port)) as transport:
            transport.banner_timeout = _TIMEOUT
            transport.start_client(timeout=_TIMEOUT)
            offered = transport.get_remote_server_key()
    except (OSError, paramiko.SSHException) as exc:
        msg = f"Cannot reach the SSH bastion {host}:{port}: {exc}"
        raise TargetRedisError(msg) from None
    if pinned is None:
        logger.warning(
            "SSH host key of %s:%d was NOT verified (offered %s). Pin it with "
            "'tunnel_method.host_public_key' to refuse impostors.",
            host,
            port,
            fingerprint(offered),
        )
    elif offered.get_name() != pinned.get_name() or offered.asbytes() != pinned.asbytes():
        msg = (
            f"SSH host key of {host}:{port} does not match 'tunnel_method.host_public_key' "
            f"(server offered {fingerprint(offered)}, pinned {fingerprint(pinned)}); refusing."
        )
        raise TargetRedisError(msg)


def open_tunnel(
    tunnel: t.Mapping[str, t.Any], remote_host: str, remote_port: int
) -> sshtunnel.SSHTunnelForwarder:
    """Start a tunnel to ``remote_host:remote_port``; its local end is on 127.0.0.1."""
    host = str(tunnel["tunnel_host"])
    port = int(tunnel.get("tunnel_port") or 22)
    pinned = parse_host_key(tunnel["host_public_key"]) if tunnel.get("host_public_key") else None
    key = None
    if tunnel["tunnel_method"] == KEY_AUTH:
        key = parse_private_key(tunnel["ssh_key"], tunnel.get("ssh_key_passphrase") or None)
    _check_host_key(host, port, pinned)
    forwarder = sshtunnel.SSHTunnelForwarder(
        (host, port),
        ssh_username=tunnel["tunnel_user"],
        ssh_pkey=key,
        ssh_password=tunnel.get("tunnel_user_password") if key is None else None,
        ssh_host_key=pinned,
        ssh_config_file=None,
        allow_agent=False,
        host_pkey_directories=[],
        remote_bind_address=(remote_host, remote_port),
        local_bind_address=("127.0.0.1", 0),
        set_keepalive=30.0,
        logger=_quiet_logger(),
    )
    try:
        forwarder.start()
    except (sshtunnel.BaseSSHTunnelForwarderError, paramiko.SSHException, OSError):
        _discard(forwarder)
        user = tunnel["tunnel_user"]
        msg = (
            f"SSH tunnel through {host}:{port} as '{user}' could not be opened "
            f"(authentication failed or forwarding to {remote_host}:{remote_port} refused)."
        )
        raise TargetRedisError(msg) from None
    logger.info(
        "SSH tunnel open: 127.0.0.1:%d -> %s:%d via %s:%d",
        forwarder.local_bind_port,
        remote_host,
        remote_port,
        host,
        port,
    )
    return forwarder


def _discard(forwarder: sshtunnel.SSHTunnelForwarder) -> None:
    # stop() on a tunnel that never started waits forever for its serve loops
    # (socketserver.shutdown); close the listening sockets and transport directly.
    for server in forwarder._server_list:
        server.server_close()
    transport = getattr(forwarder, "_transport", None)
    if transport is not None:
        transport.close()


def _quiet_logger() -> logging.Logger:
    # sshtunnel logs its own errors (with tracebacks); ours are one clear line.
    quiet = logging.getLogger("target-redis.sshtunnel")
    quiet.setLevel(logging.CRITICAL)
    return quiet
