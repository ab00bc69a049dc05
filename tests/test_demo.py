"""README's first command: scripts/demo.py loads the sample and shows what landed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_server_binary

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("extra", [[], ["--cluster"]], ids=["server", "cluster"])
def test_demo_loads_the_sample(extra: list[str]) -> None:
    need_server_binary()
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"orders":{"replication_key_value":"A-1002"}' in out
    assert "9 keys:" in out and "':users'" in out and "string 3" in out
    assert "':{:users}:target-redis-manifest:users'  hash   12 fields" in out
    assert "  keys: ids\n" in out and "  cache_type: hash\n" in out
    assert '_airbyte_data: {"id":3,"name":"李雷"' in out
    assert ("(cluster)" in out) == bool(extra)
    assert "The server was stopped and its files removed." in out
