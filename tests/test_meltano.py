"""End to end with real Meltano and a real tap: `meltano run tap-jsonl target-redis`.

Slow (installs Meltano and both plugins into a temporary project): deselect locally
with ``-m "not meltano"``. CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import redis
import yaml

from devtools.server import RedisServer, free_port

pytestmark = pytest.mark.meltano

ROOT = Path(__file__).resolve().parent.parent
MELTANO = "meltano==4.4.1"


@pytest.fixture(scope="module")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("meltano-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", MELTANO],
        capture_output=True,
        text=True,
        check=False,
    )
    if pip.returncode != 0:
        reason = f"cannot install {MELTANO}: {pip.stderr[-500:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return venv / "bin" / "meltano"


@pytest.fixture(scope="module")
def project(
    meltano: Path, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    directory = tmp_path_factory.mktemp("meltano-project")
    (directory / "data").mkdir()
    (directory / "data" / "users.jsonl").write_text(
        '{"id": 101, "name": "Ada", "city": "London"}\n'
        '{"id": 102, "name": "Grace", "city": "Arlington"}\n'
    )
    (directory / "orders").mkdir()
    (directory / "orders" / "orders.jsonl").write_text(
        '{"order_id": "A-1", "user_id": 101, "total": 19.99}\n'
        '{"order_id": "A-2", "user_id": 102, "total": 5.00}\n'
    )
    dev = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor, orders = dev["plugins"]["extractors"]
    extractor["config"] = {"path": "data/*.jsonl", "stream_name": "users", "primary_keys": ["id"]}
    orders["config"] = {**orders["config"], "path": "orders/*.jsonl"}
    (directory / "batches").mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": (directory / "batches").as_uri(), "prefix": "users-"},
    }
    extractor["settings"].append({"name": "batch_config", "kind": "object"})
    dev["plugins"]["extractors"].append(
        {
            "name": "tap-jsonl--batch",
            "inherit_from": "tap-jsonl",
            "config": {**extractor["config"], "batch_config": batch_config},
        }
    )
    dev_streams = dev["plugins"]["loaders"][0]["config"]["streams"]
    loader = yaml.safe_load((ROOT / "plugin" / "target-redis.yml").read_text())
    loader.update(
        pip_url=str(ROOT),
        config={
            "host": redis_server.host,
            "port": redis_server.port,
            "load_method": "upsert",
            "namespace": "e2e",
            "streams": dev_streams,  # orders: a sorted set (the dev project's own)
        },
        commands=dev["plugins"]["loaders"][0]["commands"],
    )
    for key in ("label", "description"):
        loader.pop(key)
    dev["plugins"]["loaders"] = [loader]
    (directory / "meltano.yml").write_text(yaml.safe_dump(dev, sort_keys=False))
    run(meltano, directory, "install")
    return directory


def clean_env() -> dict[str, str]:
    """The environment without target-redis or Meltano settings, and no tracking."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TARGET_REDIS_", "MELTANO_"))},
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_DISABLE_TRACKING": "true",
    }


def run(
    meltano: Path, directory: Path, *args: str, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(meltano), *args],
        cwd=directory,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if ok:
        lines = (proc.stdout + proc.stderr).splitlines()
        assert proc.returncode == 0, "\n".join(line[:300] for line in lines[-40:])
    # Meltano sets PYTHONWARNINGS: an unclosed socket or file would show here.
    assert "ResourceWarning" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return proc


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A README shell block, run as a user would (``bash -e``); it must succeed."""
    proc = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def users(client: redis.Redis) -> dict[str, dict[str, t.Any]]:
    return {
        key: json.loads(client.hget(key, "_airbyte_data"))
        for key in client.scan_iter(match="e2e:users:*", _type="hash")
    }


def test_meltano_run_twice_upsert_and_state(
    meltano: Path, project: Path, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.flushall()
        run(meltano, project, "run", "tap-jsonl", "target-redis")
        first = users(client)
        assert set(first) == {"e2e:users:101", "e2e:users:102"}
        assert first["e2e:users:101"]["name"] == "Ada"
        run(meltano, project, "run", "--full-refresh", "tap-jsonl", "target-redis")
        assert set(users(client)) == {"e2e:users:101", "e2e:users:102"}  # upsert: no duplicates
        assert client.get("e2e:users") == "4"  # two writes per key, ids never reused
    state = run(meltano, project, "state", "get", "dev:tap-jsonl-to-target-redis")
    assert "bookmarks" in state.stdout or "singer_state" in state.stdout, state.stdout


def test_one_meltano_run_loads_each_stream_in_its_shape(
    meltano: Path, project: Path, redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.flushall()
        run(
            meltano,
            project,
            "run",
            "tap-jsonl",
            "target-redis",
            "tap-jsonl--orders",
            "target-redis",
        )
        assert set(users(client)) == {"e2e:users:101", "e2e:users:102"}  # hashes, upsert
        assert client.zrange("orders:by-total", 0, -1, withscores=True) == [
            ("A-2", 5.0),
            ("A-1", 19.99),
        ]


def test_a_tap_in_batch_mode_lands_what_its_record_mode_lands(
    meltano: Path, project: Path, redis_server: RedisServer
) -> None:
    """Issue 22: an SDK tap with batch_config sends BATCH messages (gzip JSONL files)."""
    with redis_server.client() as client:
        client.flushall()
        run(meltano, project, "run", "--full-refresh", "tap-jsonl", "target-redis")
        records = users(client)
        client.flushall()
        run(meltano, project, "run", "--full-refresh", "tap-jsonl--batch", "target-redis")
        assert list((project / "batches").glob("users-*")), "the tap wrote no BATCH file"
        assert users(client) == records and set(records) == {"e2e:users:101", "e2e:users:102"}


def test_meltano_test_runs_the_connection_check(meltano: Path, project: Path) -> None:
    proc = run(meltano, project, "test", "target-redis")
    assert "Connection check passed" in proc.stdout + proc.stderr


def test_meltano_test_fails_when_redis_is_unreachable(meltano: Path, project: Path) -> None:
    env = {**clean_env(), "TARGET_REDIS_PORT": str(free_port())}
    proc = subprocess.run(
        [str(meltano), "test", "target-redis"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Cannot connect to Redis" in proc.stdout + proc.stderr


def test_meltano_config_test_writes_its_record(
    meltano: Path, project: Path, redis_server: RedisServer
) -> None:
    proc = run(meltano, project, "config", "test", "target-redis", ok=False)
    output = proc.stdout + proc.stderr
    # Meltano 4.4.1 exits 1 even after a successful test: once the loader has exited it
    # still calls terminate() on it (ProcessLookupError, a Meltano bug).
    assert proc.returncode in (0, 1), output
    with redis_server.client() as client:
        keys = sorted(client.scan_iter())
        assert any(key.startswith("e2e:") and "test" in key for key in keys), (keys, output[-2000:])


def test_readme_fakeredis_ci_recipe(meltano: Path, project: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- fakeredis-recipe:start -->")[1].split(
        "<!-- fakeredis-recipe:end -->"
    )[0]
    script = block.split("```bash\n")[1].split("```")[0]
    port = free_port()
    # the job's python has fakeredis and redis; meltano comes from its own venv
    path = [str(Path(sys.executable).parent), str(meltano.parent), os.environ["PATH"]]
    env = {**clean_env(), "PATH": os.pathsep.join(path)}
    proc = bash(script.replace("6390", str(port)), project, env)
    assert "2 users loaded" in proc.stdout


def test_meltano_add_from_ref(meltano: Path, tmp_path: Path) -> None:
    run(meltano, tmp_path, "init", "fresh", "--no_usage_stats")
    fresh = tmp_path / "fresh"
    ref = str(ROOT / "plugin" / "target-redis.yml")
    run(meltano, fresh, "add", "target-redis", "--from-ref", ref, "--no-install")
    loader = yaml.safe_load((fresh / "meltano.yml").read_text())["plugins"]["loaders"][0]
    assert loader["name"] == "target-redis"
    settings = {s["name"]: s for s in loader["settings"]}
    assert settings["password"]["sensitive"] is True
    assert settings["ssl_mode.client_key"]["sensitive"] is True
    assert settings["port"]["kind"] == "integer"
    assert "activate-version" in loader["capabilities"]
    assert loader["commands"]["test"]["args"] == "--config ENV --test"  # meltano test


def test_readme_meltano_add_sequence(
    meltano: Path, tmp_path: Path, redis_server: RedisServer
) -> None:
    """README's commands, as written, with this checkout and the test server."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- meltano-add:start -->")[1].split("<!-- meltano-add:end -->")[0]
    script = block.split("```bash\n")[1].split("```")[0]
    script = script.replace("/path/to/target-redis", str(ROOT))
    script = script.replace("redis.example.com", "127.0.0.1")
    script = "\n".join(line for line in script.splitlines() if "tap-postgres" not in line)
    script = script.replace(
        "meltano test", f"meltano config set target-redis port {redis_server.port}\nmeltano test"
    )
    run(meltano, tmp_path, "init", "fresh", "--no_usage_stats")
    path = [str(meltano.parent), os.environ["PATH"]]
    env = {**clean_env(), "PATH": os.pathsep.join(path), "REDIS_PASSWORD": ""}
    proc = bash(script, tmp_path / "fresh", env)
    assert "Connection check passed" in proc.stdout + proc.stderr
