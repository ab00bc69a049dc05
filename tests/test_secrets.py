"""No secret setting ever reaches stdout or stderr, on success or failure (debug logs on)."""

from __future__ import annotations

import typing as t

import pytest
from conftest import need_server_binary
from helpers import record_msg, run_cli, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer

MARKER = "Zq7MARKERsecret"
INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    record_msg("s", {"id": 1}),
    state_msg({"s": 1}),
)
DEBUG = {"LOGLEVEL": "DEBUG"}


@pytest.fixture(scope="module")
def protected() -> t.Iterator[RedisServer]:
    server = RedisServer(need_server_binary(), ["--requirepass", MARKER])
    yield server
    server.stop()


def every_secret(**overrides: t.Any) -> dict[str, t.Any]:
    """Every secret setting holds the marker (inert where TLS / tunnel are off)."""
    config: dict[str, t.Any] = {
        "password": MARKER,
        "ssl_mode": {
            "mode": "disable",
            "ca_certificate": MARKER,
            "client_certificate": MARKER,
            "client_key": MARKER,
            "client_key_password": MARKER,
        },
        "tunnel_method": {
            "tunnel_method": "NO_TUNNEL",
            "ssh_key": MARKER,
            "tunnel_user_password": MARKER,
            "ssh_key_passphrase": MARKER,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def assert_no_marker(proc) -> None:
    output = proc.stdout + proc.stderr
    assert MARKER not in output, output


def test_success_with_every_secret_set(protected: RedisServer) -> None:
    url = f"redis://:{MARKER}@127.0.0.1:{protected.port}/0"
    proc = run_cli(every_secret(url=url), INPUT, env=DEBUG)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"s":1}\n'
    assert "DEBUG" in proc.stderr  # debug logging was really on
    assert_no_marker(proc)
    proc = run_cli(every_secret(**protected.config()), INPUT, "--test", env=DEBUG)
    assert proc.returncode == 0, proc.stderr
    assert_no_marker(proc)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"password": "x" + MARKER}, id="wrong-password"),
        pytest.param({"url": "redis://u:x{m}@127.0.0.1:{port}/0"}, id="wrong-url-password"),
        pytest.param({"url": "http://u:{m}@127.0.0.1:{port}/0"}, id="bad-url-scheme"),
        pytest.param({"ssl": True, "ssl_mode": {"mode": "verify-full"}}, id="bad-ca-pem"),
        pytest.param(
            {"ssl": True, "ssl_mode": {"mode": "require", "ca_certificate": None}},
            id="bad-client-pair",
        ),
        pytest.param(
            {
                "tunnel_method": {
                    "tunnel_method": "SSH_KEY_AUTH",
                    "tunnel_host": "127.0.0.1",
                    "tunnel_user": "u",
                }
            },
            id="bad-ssh-key",
        ),
        pytest.param({"port": "not-a-port"}, id="config-validation"),
    ],
)
def test_failures_never_echo_secrets(protected: RedisServer, overrides: dict) -> None:
    filled = {
        k: v.format(m=MARKER, port=protected.port) if isinstance(v, str) else v
        for k, v in overrides.items()
    }
    config = every_secret(**{"host": protected.host, "port": protected.port, **filled})
    proc = run_cli(config, INPUT, env=DEBUG)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert_no_marker(proc)
