"""The connection's settings (server, credentials, TLS, SSH tunnel, timeouts), part
of settings.SCHEMA: ``CONNECTION`` comes first in it, ``TRANSPORT`` after the load's
settings."""

from __future__ import annotations

from singer_sdk import typing as th

SSL_MODES = ["disable", "require", "verify-ca", "verify-full"]
TUNNEL_METHODS = ["NO_TUNNEL", "SSH_KEY_AUTH", "SSH_PASSWORD_AUTH"]

CONNECTION = [
    th.Property(
        "host",
        th.StringType,
        default="localhost",
        description="Redis server host name or IP address.",
    ),
    th.Property(
        "port",
        th.IntegerType(minimum=1, maximum=65535),
        default=6379,
        description="Redis server port.",
    ),
    th.Property(
        "url",
        th.StringType,
        secret=True,
        description=(
            "Alternative to host/port/username/password/db: `redis://[user:password@]host"
            "[:port][/db]`, or `rediss://...` for TLS. When set, it wins over those five "
            "settings; TLS mode and certificates still come from `ssl_mode`."
        ),
    ),
    th.Property(
        "username",
        th.StringType,
        description="ACL user name (Redis 6+). Leave empty for password-only servers.",
    ),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        description="Password (of the ACL user, or the server's `requirepass`).",
    ),
    th.Property(
        "db",
        th.IntegerType(minimum=0),
        default=0,
        description="Database number to write to (standalone servers).",
    ),
    th.Property(
        "cluster_mode",
        th.BooleanType,
        default=False,
        description=(
            "Write to a Redis Cluster: `host`/`port` (or `url`) name any node and the "
            "others are discovered. Keys go to the nodes owning their slots; redirections "
            "during a resharding are followed. `db` must be 0; not combinable with "
            "`tunnel_method`. With TLS, each node's certificate "
            "must match the address the cluster announces for it."
        ),
    ),
]

TRANSPORT = [
    th.Property(
        "ssl",
        th.BooleanType,
        description=(
            "Use TLS (Airbyte setting). The mode defaults to `verify-full`; see `ssl_mode`. "
            "`false` with a TLS mode in `ssl_mode` is refused (Airbyte would use plain text)."
        ),
    ),
    th.Property(
        "ssl_mode",
        th.ObjectType(
            th.Property(
                "mode",
                th.StringType,
                allowed_values=SSL_MODES,
                description=(
                    "`disable`; `require` (encrypted, certificate not verified); `verify-ca` "
                    "(chain verified, hostname not); `verify-full` (chain and hostname). A "
                    "mode other than `disable` turns TLS on even without `ssl: true`."
                ),
            ),
            th.Property(
                "ca_certificate",
                th.StringType,
                secret=True,
                description=(
                    "CA certificate(s) to trust: PEM text, or the path of a PEM file. "
                    "Without it the system trust store is used."
                ),
            ),
            th.Property(
                "client_certificate",
                th.StringType,
                secret=True,
                description=(
                    "Client certificate for mutual TLS: PEM text, or the path of a PEM file "
                    "(optional)."
                ),
            ),
            th.Property(
                "client_key",
                th.StringType,
                secret=True,
                description=(
                    "Private key of the client certificate: PEM text, or the path of a PEM file."
                ),
            ),
            th.Property(
                "client_key_password",
                th.StringType,
                secret=True,
                description="Password of the client key.",
            ),
        ),
        description=(
            "TLS options (Airbyte setting). Key material stays in memory (a client pair "
            "passes through a private temporary file removed at once)."
        ),
    ),
    th.Property(
        "tunnel_method",
        th.ObjectType(
            th.Property(
                "tunnel_method",
                th.StringType,
                allowed_values=TUNNEL_METHODS,
                description="Tunnel kind.",
            ),
            th.Property("tunnel_host", th.StringType, description="SSH bastion host."),
            th.Property(
                "tunnel_port",
                th.IntegerType(minimum=1, maximum=65535),
                description="SSH port (default 22).",
            ),
            th.Property("tunnel_user", th.StringType, description="SSH user."),
            th.Property(
                "ssh_key", th.StringType, secret=True, description="SSH private key (PEM text)."
            ),
            th.Property(
                "tunnel_user_password", th.StringType, secret=True, description="SSH password."
            ),
            th.Property(
                "ssh_key_passphrase",
                th.StringType,
                secret=True,
                description="Passphrase of `ssh_key`, if it is encrypted.",
            ),
            th.Property(
                "host_public_key",
                th.StringType,
                description=(
                    "The bastion's host key, e.g. `ssh-ed25519 AAAA...` (a line of "
                    "`ssh-keyscan`). A different key is refused; without it the key is "
                    "not verified and a warning is logged."
                ),
            ),
        ),
        description=(
            "SSH tunnel (Airbyte setting): `NO_TUNNEL`, `SSH_KEY_AUTH` or "
            "`SSH_PASSWORD_AUTH` through a bastion."
        ),
    ),
    th.Property(
        "retry_max_seconds",
        th.NumberType(minimum=0),
        default=60,
        description=(
            "How long a write keeps retrying transient failures (dropped connection, "
            "timeout, server restarting) before the run fails. 0 disables retries."
        ),
    ),
    th.Property(
        "retry_backoff_max_seconds",
        th.NumberType(minimum=0),
        default=5,
        description="Longest wait between two retries (waits start at 0.1 s and double).",
    ),
    th.Property(
        "connect_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=10,
        description="Timeout to connect (and for the TLS handshake).",
    ),
    th.Property(
        "socket_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="Timeout for one reply from Redis; a stalled connection is then retried.",
    ),
]
