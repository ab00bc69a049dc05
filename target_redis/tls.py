"""TLS for the Redis connection, from Airbyte's ``ssl`` / ``ssl_mode`` settings.

Certificates and keys arrive as PEM text. They are loaded into an in-memory
``ssl.SSLContext``; a client certificate/key pair, which Python can only load from
files, is written to a private (0700 directory, 0600 files) temporary directory and
removed as soon as it is loaded, never to the working directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import ssl
import tempfile
import typing as t

from target_redis import connection_settings
from target_redis.errors import TargetRedisError

logger = logging.getLogger("target-redis")

DISABLE, REQUIRE, VERIFY_CA, VERIFY_FULL = connection_settings.SSL_MODES


def tls_mode(config: t.Mapping[str, t.Any], *, url_tls: bool = False) -> str:
    """The TLS mode the settings ask for (``disable`` when TLS is off).

    TLS is on when ``ssl`` is true, the url is ``rediss://``, or ``ssl_mode.mode``
    names a TLS mode; a mode given without ``ssl: true`` still turns TLS on, so a
    config never falls back to plain text when it names a TLS mode.
    """
    ssl_mode = config.get("ssl_mode") or {}
    mode = ssl_mode.get("mode")
    wants_tls = bool(config.get("ssl")) or url_tls
    if mode == DISABLE and wants_tls:
        msg = (
            "Settings 'ssl' (or a rediss:// url) and 'ssl_mode.mode: disable' contradict "
            "each other; choose a TLS mode or turn TLS off."
        )
        raise TargetRedisError(msg)
    if config.get("ssl") is False and not url_tls and mode not in (None, "", DISABLE):
        msg = (
            f"Settings 'ssl: false' and 'ssl_mode.mode: {mode}' contradict each other (Airbyte "
            "would connect in plain text; target-redis never falls back to it): set 'ssl: "
            "true' to use TLS, or 'ssl_mode.mode: disable' (or leave ssl_mode out) for plain "
            "text."
        )
        raise TargetRedisError(msg)
    if mode in (None, ""):
        return VERIFY_FULL if wants_tls else DISABLE
    return str(mode)


def build_context(config: t.Mapping[str, t.Any], mode: str) -> ssl.SSLContext:
    """An SSLContext for ``mode`` with the CA and client pair of ``ssl_mode``."""
    ssl_mode = config.get("ssl_mode") or {}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mode == REQUIRE:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        logger.warning(
            "TLS mode 'require': the connection is encrypted but the server's "
            "certificate is NOT verified; anyone on the path can impersonate the server. "
            "Use 'verify-full' with 'ca_certificate' to verify it."
        )
    else:
        context.check_hostname = mode == VERIFY_FULL
        context.verify_mode = ssl.CERT_REQUIRED
        ca = pem(ssl_mode, "ca_certificate")
        if ca:
            try:
                context.load_verify_locations(cadata=ca)
            except (ssl.SSLError, ValueError):
                msg = "Setting 'ssl_mode.ca_certificate' is not a valid PEM certificate."
                raise TargetRedisError(msg) from None
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    _load_client_pair(context, ssl_mode)
    return context


def _load_client_pair(context: ssl.SSLContext, ssl_mode: t.Mapping[str, t.Any]) -> None:
    cert, key = pem(ssl_mode, "client_certificate"), pem(ssl_mode, "client_key")
    if not cert and not key:
        return
    if not cert:
        msg = "Setting 'ssl_mode.client_key' needs 'ssl_mode.client_certificate' too."
        raise TargetRedisError(msg)
    directory = tempfile.mkdtemp(prefix="target-redis-tls-")  # mode 0700
    try:
        cert_path = _private_file(directory, "client.crt", cert)
        key_path = _private_file(directory, "client.key", key) if key else None
        try:
            context.load_cert_chain(
                cert_path, key_path, password=ssl_mode.get("client_key_password") or None
            )
        except (ssl.SSLError, ValueError, OSError):
            msg = (
                "Settings 'ssl_mode.client_certificate' / 'client_key' could not be loaded "
                "(not PEM, not a matching pair, or a wrong 'client_key_password')."
            )
            raise TargetRedisError(msg) from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def pem(ssl_mode: t.Mapping[str, t.Any], name: str) -> str | None:
    """The PEM text of setting ``ssl_mode.<name>``: the value itself, or, when it holds no
    PEM block and is one line, the contents of the file it names (``ca.pem`` on disk)."""
    value = ssl_mode.get(name)
    if not value or "-----BEGIN" in value or "\n" in value.strip():
        return value or None
    path = os.path.expanduser(value.strip())
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:  # secret settings: the value is not shown
        msg = (
            f"Setting 'ssl_mode.{name}' is neither PEM text nor a readable file "
            f"({type(exc).__name__})."
        )
        raise TargetRedisError(msg) from None


def _private_file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with contextlib.closing(os.fdopen(fd, "w", encoding="utf-8")) as handle:
        handle.write(text)
    return path
