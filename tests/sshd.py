"""A real OpenSSH sshd on a free port, as the SSH bastion for tunnel tests."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

from devtools.server import free_port

SSHD = "/usr/sbin/sshd"
PASSWORD_USER = "trtunnel"
PASSWORD = "tunnel-pw-123"


def missing() -> str | None:
    """Why an sshd bastion cannot run here, or None."""
    if not Path(SSHD).exists():
        return f"{SSHD} not installed (Debian package openssh-server)"
    if os.geteuid() != 0:
        return "sshd with password auth needs root"
    if not shutil.which("ssh-keygen"):
        return "ssh-keygen not installed"
    return None


def ensure_password_user() -> bool:
    """A login user with a known password, for SSH_PASSWORD_AUTH; whether it was created
    here (then ``remove_password_user`` deletes it: tests leave no user behind)."""
    created = False
    try:
        pwd.getpwnam(PASSWORD_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/bin/sh", PASSWORD_USER], check=True
        )
        created = True
    subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{PASSWORD}\n", text=True, check=True)
    return created


def remove_password_user() -> None:
    """Delete the user ``ensure_password_user`` created."""
    subprocess.run(["userdel", PASSWORD_USER], check=False, capture_output=True)


def keygen(path: Path, kind: str = "ed25519") -> str:
    """Make a key pair; return the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path), "-C", "test"], check=True
    )
    return Path(f"{path}.pub").read_text().strip()


class Bastion:
    """sshd on 127.0.0.1:<free port>: root by key, ``trtunnel`` by password."""

    def __init__(self) -> None:
        """Generate keys and config, start sshd, wait for its port."""
        self.dir = Path(tempfile.mkdtemp(prefix="target-redis-sshd-"))
        self.port = free_port()
        self.host_key_line = keygen(self.dir / "host_key")
        client_pub = keygen(self.dir / "client_key")
        self.client_key = (self.dir / "client_key").read_text()
        (self.dir / "authorized_keys").write_text(client_pub + "\n")
        self._created_user = ensure_password_user()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self.dir / "sshd_config"
        config.write_text(
            f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.dir / "host_key"}
PidFile {self.dir / "sshd.pid"}
AuthorizedKeysFile {self.dir / "authorized_keys"}
StrictModes no
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
AllowTcpForwarding yes
AllowUsers root {PASSWORD_USER}
LogLevel ERROR
"""
        )
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    err = self.process.stderr.read() if self.process.stderr else ""
                    self.stop()
                    msg = f"sshd did not start: {err}"
                    raise RuntimeError(msg) from None
                time.sleep(0.05)

    def tunnel(self, method: str, **extra: t.Any) -> dict[str, t.Any]:
        """A ``tunnel_method`` setting for this bastion."""
        if method == "SSH_KEY_AUTH":
            base = {"tunnel_user": "root", "ssh_key": self.client_key}
        else:
            base = {"tunnel_user": PASSWORD_USER, "tunnel_user_password": PASSWORD}
        return {
            "tunnel_method": method,
            "tunnel_host": "127.0.0.1",
            "tunnel_port": self.port,
            **base,
            **extra,
        }

    def stop(self) -> None:
        """Stop sshd and remove its files."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if getattr(self, "_created_user", False):
            remove_password_user()
            self._created_user = False
