"""TLS modes against real TLS redis-servers, with certificates made by trustme."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest
import redis
import trustme
from conftest import need_tls_server_binary
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg

from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.target import TargetRedis

INPUT = singer_lines(
    schema_msg("s", {"id": {"type": "integer"}}, ["id"]),
    record_msg("s", {"id": 1}),
    state_msg({"s": 1}),
)


class TLSServer(t.NamedTuple):
    server: RedisServer
    ca: trustme.CA
    files: Path


def start_tls_server(
    tmp: Path, ca: trustme.CA, names: tuple[str, ...], *, client_auth: bool
) -> RedisServer:
    cert = ca.issue_cert(*names)
    cert.cert_chain_pems[0].write_to_path(tmp / "server.crt")
    cert.private_key_pem.write_to_path(tmp / "server.key")
    ca.cert_pem.write_to_path(tmp / "ca.crt")
    args = [
        "--tls-cert-file",
        str(tmp / "server.crt"),
        "--tls-key-file",
        str(tmp / "server.key"),
        "--tls-ca-cert-file",
        str(tmp / "ca.crt"),
        "--tls-auth-clients",
        "yes" if client_auth else "no",
    ]
    return RedisServer(need_tls_server_binary(), args, tls=True)


def serve(
    factory: pytest.TempPathFactory, ca: trustme.CA, names: tuple[str, ...], *, client_auth: bool
) -> t.Iterator[RedisServer]:
    server = start_tls_server(factory.mktemp("tls"), ca, names, client_auth=client_auth)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[RedisServer]:
    """TLS server whose certificate names localhost and 127.0.0.1; no client certs."""
    yield from serve(tmp_path_factory, ca, ("localhost", "127.0.0.1"), client_auth=False)


@pytest.fixture(scope="module")
def other_name_server(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> t.Iterator[RedisServer]:
    """TLS server whose certificate is valid only for redis.example.test."""
    yield from serve(tmp_path_factory, ca, ("redis.example.test",), client_auth=False)


@pytest.fixture(scope="module")
def mtls_server(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> t.Iterator[RedisServer]:
    """TLS server that requires a client certificate signed by the CA."""
    yield from serve(tmp_path_factory, ca, ("localhost", "127.0.0.1"), client_auth=True)


def ssl_config(server: RedisServer, host: str = "127.0.0.1", **ssl_mode: t.Any) -> dict:
    return {"host": host, "port": server.port, "ssl": True, "ssl_mode": ssl_mode}


def ca_pem(ca: trustme.CA) -> str:
    return ca.cert_pem.bytes().decode()


def read_back(
    server: RedisServer, ca: trustme.CA, db: int = 0, host: str = "127.0.0.1"
) -> str | None:
    """Read the test record over TLS with redis-py itself, then empty the server."""
    ca_file = Path(server._dir) / "reader-ca.crt"
    ca.cert_pem.write_to_path(ca_file)
    with redis.Redis(
        host=host,
        port=server.port,
        db=db,
        ssl=True,
        ssl_ca_certs=str(ca_file),
        ssl_check_hostname=False,
        decode_responses=True,
    ) as client:
        value = client.hget(":s:1", "_airbyte_data")
        client.flushall()
        return value


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_with_private_ca(tls_server: RedisServer, ca: trustme.CA, host: str) -> None:
    run = run_target(
        ssl_config(tls_server, host, mode="verify-full", ca_certificate=ca_pem(ca)), INPUT
    )
    assert run.states == [{"s": 1}]
    assert read_back(tls_server, ca) == '{"id":1}'


def test_ssl_true_defaults_to_verify_full(tls_server: RedisServer, ca: trustme.CA) -> None:
    run = run_target(ssl_config(tls_server, ca_certificate=ca_pem(ca)), INPUT)
    assert run.states == [{"s": 1}]
    assert read_back(tls_server, ca) == '{"id":1}'


def test_without_ca_uses_system_store_and_refuses_private_ca(tls_server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match="certificate verify failed"):
        TargetRedis(config=ssl_config(tls_server))


def test_verify_full_refuses_other_hostname(other_name_server: RedisServer, ca: trustme.CA) -> None:
    config = ssl_config(other_name_server, mode="verify-full", ca_certificate=ca_pem(ca))
    with pytest.raises(TargetRedisError, match=r"127\.0\.0\.1:\d+/0.*(mismatch|not valid)"):
        TargetRedis(config=config)


def test_verify_ca_accepts_other_hostname(other_name_server: RedisServer, ca: trustme.CA) -> None:
    config = ssl_config(other_name_server, mode="verify-ca", ca_certificate=ca_pem(ca))
    assert run_target(config, INPUT).states == [{"s": 1}]
    assert read_back(other_name_server, ca) == '{"id":1}'


@pytest.mark.parametrize("mode", ["verify-full", "verify-ca"])
def test_untrusted_ca_is_refused(tls_server: RedisServer, mode: str) -> None:
    stranger = trustme.CA()
    config = ssl_config(tls_server, mode=mode, ca_certificate=ca_pem(stranger))
    with pytest.raises(TargetRedisError, match="certificate verify failed"):
        TargetRedis(config=config)


def test_require_encrypts_without_verifying_and_warns(
    other_name_server: RedisServer, ca: trustme.CA, caplog: pytest.LogCaptureFixture
) -> None:
    config = ssl_config(other_name_server, mode="require")
    assert run_target(config, INPUT).states == [{"s": 1}]
    assert "NOT verified" in caplog.text
    assert read_back(other_name_server, ca) == '{"id":1}'


def test_mutual_tls(mtls_server: RedisServer, ca: trustme.CA) -> None:
    client_cert = ca.issue_cert("loader@example.test")
    pair = {
        "ca_certificate": ca_pem(ca),
        "client_certificate": client_cert.cert_chain_pems[0].bytes().decode(),
        "client_key": client_cert.private_key_pem.bytes().decode(),
    }
    assert run_target(ssl_config(mtls_server, mode="verify-full", **pair), INPUT).states == [
        {"s": 1}
    ]
    without = ssl_config(mtls_server, mode="verify-full", ca_certificate=ca_pem(ca))
    with pytest.raises(TargetRedisError, match="Cannot connect"):
        TargetRedis(config=without)


def test_certificates_and_key_as_files(
    mtls_server: RedisServer, ca: trustme.CA, tmp_path: Path
) -> None:
    """A user with ca.pem on disk had no recipe: only PEM text was taken."""
    client_cert = ca.issue_cert("loader@example.test")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    client_cert.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    files = {
        "ca_certificate": str(tmp_path / "ca.pem"),
        "client_certificate": str(tmp_path / "client.pem"),
        "client_key": str(tmp_path / "client.key"),
    }
    config = ssl_config(mtls_server, mode="verify-full", **files)
    assert run_target(config, INPUT).states == [{"s": 1}]
    missing = ssl_config(mtls_server, **{**files, "client_key": str(tmp_path / "nope.key")})
    with pytest.raises(TargetRedisError, match=r"'ssl_mode\.client_key' is neither PEM") as e:
        TargetRedis(config=missing)
    assert "nope.key" not in str(e.value)  # a secret setting's value is never echoed


def test_encrypted_client_key(mtls_server: RedisServer, ca: trustme.CA) -> None:
    from cryptography.hazmat.primitives import serialization

    client_cert = ca.issue_cert("loader@example.test")
    key = serialization.load_pem_private_key(client_cert.private_key_pem.bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-pass"),
    ).decode()
    base = {
        "ca_certificate": ca_pem(ca),
        "client_certificate": client_cert.cert_chain_pems[0].bytes().decode(),
        "client_key": encrypted,
    }
    assert run_target(
        ssl_config(mtls_server, mode="verify-full", client_key_password="key-pass", **base), INPUT
    ).states
    with pytest.raises(TargetRedisError, match="could not be loaded"):
        TargetRedis(
            config=ssl_config(mtls_server, mode="verify-full", client_key_password="wrong", **base)
        )


def test_rediss_url(tls_server: RedisServer, ca: trustme.CA) -> None:
    config = {
        "url": f"rediss://localhost:{tls_server.port}/2",
        "ssl_mode": {"ca_certificate": ca_pem(ca)},
    }
    assert run_target(config, INPUT).states == [{"s": 1}]
    assert read_back(tls_server, ca, db=2, host="localhost") == '{"id":1}'


def test_ssl_with_mode_disable_is_a_contradiction(tls_server: RedisServer) -> None:
    with pytest.raises(TargetRedisError, match="contradict"):
        TargetRedis(config=ssl_config(tls_server, mode="disable"))


def test_mode_without_ssl_flag_still_uses_tls(server: RedisServer) -> None:
    # A plain server: TLS is attempted (the handshake times out), never plain text.
    config = server.config(ssl_mode={"mode": "verify-full"}, connect_timeout_seconds=1)
    with pytest.raises(TargetRedisError, match=r"Cannot connect .* over TLS \(verify-full\)"):
        TargetRedis(config=config)


def test_key_material_never_touches_disk_beyond_private_tmp(
    mtls_server: RedisServer, ca: trustme.CA, tmp_path: Path
) -> None:
    client_cert = ca.issue_cert("loader@example.test")
    workdir, tmpdir = tmp_path / "work", tmp_path / "tmp"
    workdir.mkdir()
    tmpdir.mkdir()
    config = ssl_config(
        mtls_server,
        mode="verify-full",
        ca_certificate=ca_pem(ca),
        client_certificate=client_cert.cert_chain_pems[0].bytes().decode(),
        client_key=client_cert.private_key_pem.bytes().decode(),
    )
    proc = run_cli(config, INPUT, cwd=workdir, env={"TMPDIR": str(tmpdir)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == '{"s":1}\n'
    assert os.listdir(workdir) == []
    assert os.listdir(tmpdir) == []
