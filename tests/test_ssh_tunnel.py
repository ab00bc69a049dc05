"""SSH tunnels through a real OpenSSH sshd started by the tests."""

from __future__ import annotations

import os
import typing as t

import pytest
import redis
import sshd
import trustme
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    record_msg("s", {"id": 1}),
    state_msg({"s": 1}),
)


@pytest.fixture(scope="module")
def bastion() -> t.Iterator[sshd.Bastion]:
    reason = sshd.missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs an sshd bastion: {reason}")
        pytest.skip(reason)
    server = sshd.Bastion()
    yield server
    server.stop()


def via(bastion: sshd.Bastion, server: RedisServer, method: str, **extra: t.Any) -> dict:
    # Redis is addressed as the bastion sees it; the target never connects to it directly.
    return server.config(tunnel_method=bastion.tunnel(method, **extra))


@pytest.mark.parametrize("method", ["SSH_KEY_AUTH", "SSH_PASSWORD_AUTH"])
def test_load_through_tunnel(
    bastion: sshd.Bastion,
    server: RedisServer,
    r: redis.Redis,
    method: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = run_target(via(bastion, server, method), INPUT)
    assert run.states == [{"s": 1}]
    assert r.hget(":s:1", "_airbyte_data") == '{"id":1}'
    assert "was NOT verified" in caplog.text


def test_pinned_host_key_accepted(
    bastion: sshd.Bastion, server: RedisServer, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = via(bastion, server, "SSH_KEY_AUTH", host_public_key=bastion.host_key_line)
    assert run_target(config, INPUT).states == [{"s": 1}]
    assert "NOT verified" not in caplog.text


def test_wrong_pinned_host_key_refused(
    bastion: sshd.Bastion, server: RedisServer, tmp_path
) -> None:
    other = sshd.keygen(tmp_path / "other")
    config = via(bastion, server, "SSH_PASSWORD_AUTH", host_public_key=other)
    proc = run_cli(config, INPUT)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "does not match 'tunnel_method.host_public_key'" in proc.stderr
    assert sshd.PASSWORD not in proc.stderr


def test_wrong_password_refused(bastion: sshd.Bastion, server: RedisServer) -> None:
    config = via(bastion, server, "SSH_PASSWORD_AUTH", tunnel_user_password="wrong-pw-xyz")
    proc = run_cli(config, INPUT)
    assert proc.returncode == 1
    assert proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "SSH tunnel through 127.0.0.1" in errors[0], proc.stderr
    assert "wrong-pw-xyz" not in proc.stderr


def test_unreadable_key_refused(bastion: sshd.Bastion, server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match="not a readable"):
        TargetRedis(config=via(bastion, server, "SSH_KEY_AUTH", ssh_key="not a key"))


def test_tls_through_tunnel_verifies_real_hostname(
    bastion: sshd.Bastion, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from test_tls import read_back, start_tls_server

    ca = trustme.CA()
    # The certificate names only "localhost": verifying 127.0.0.1 (the tunnel's
    # local end) would fail, so success shows the real host name was checked.
    tls = start_tls_server(
        tmp_path_factory.mktemp("tunnel-tls"), ca, ("localhost",), client_auth=False
    )
    try:
        config = {
            "host": "localhost",
            "port": tls.port,
            "ssl": True,
            "ssl_mode": {"mode": "verify-full", "ca_certificate": ca.cert_pem.bytes().decode()},
            "tunnel_method": bastion.tunnel("SSH_KEY_AUTH", host_public_key=bastion.host_key_line),
        }
        assert run_target(config, INPUT).states == [{"s": 1}]
        assert read_back(tls, ca, host="localhost") == '{"id":1}'
    finally:
        tls.stop()


def test_tunnel_closed_after_run(bastion: sshd.Bastion, server: RedisServer) -> None:
    target = TargetRedis(config=via(bastion, server, "SSH_KEY_AUTH"))
    forwarder = target.connection._forwarder
    assert forwarder is not None and forwarder.is_active
    target.close()
    assert not forwarder.is_active
