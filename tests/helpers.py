"""Helpers for tests: Singer messages, target runs, reading Redis back."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import redis
import yaml

from target_redis.target import TargetRedis


def singer_lines(*messages: dict) -> str:
    """Singer messages as input text."""
    return "".join(json.dumps(m) + "\n" for m in messages)


def schema_msg(stream: str, properties: dict, key_properties: list[str] | None = None) -> dict:
    """A SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": key_properties or [],
    }


def record_msg(stream: str, record: dict, **extra: t.Any) -> dict:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state_msg(value: dict) -> dict:
    """A STATE message."""
    return {"type": "STATE", "value": value}


class Run(t.NamedTuple):
    """What an in-process run printed."""

    states: list[dict]
    stdout: str


def run_target(config: dict, text: str) -> Run:
    """Run the target in-process over ``text``; return the STATE lines it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target = TargetRedis(config=dict(config))
        try:
            target.process_lines(io.StringIO(text))
            target.process_endofpipe()
        finally:
            target.close()  # as the CLI does: gives back an overwrite's lease
    stdout = out.getvalue()
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return Run(states, stdout)


def run_cli(
    config: dict | None,
    text: str | bytes = "",
    *args: str,
    env: dict | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m target_redis`` as a user would, with a config file (input as
    text, or as raw bytes; output decoded as UTF-8)."""
    argv = [sys.executable, "-m", "target_redis", *args]
    config_path = None
    if config is not None:
        fd, config_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        argv += ["--config", config_path]
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_REDIS_")}
    try:
        done = subprocess.run(
            argv,
            input=text if isinstance(text, bytes) else text.encode(),
            capture_output=True,
            timeout=timeout,
            env={**clean_env, **(env or {})},
            cwd=cwd,
            check=False,
        )
        return subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
    finally:
        if config_path:
            os.unlink(config_path)


def hashes(client: redis.Redis, pattern: str = "*") -> dict[str, dict[str, str]]:
    """Every HASH matching ``pattern`` except stream manifests, with its fields."""
    return {
        key: client.hgetall(key)
        for key in client.scan_iter(match=pattern, _type="hash")
        if not is_manifest(key)
    }


def is_manifest(key: str) -> bool:
    """Whether ``key`` is a stream manifest (``N:{N:S}:target-redis-manifest:S``)."""
    return ":target-redis-manifest:" in key


def manifest(client: redis.Redis, namespace: str, stream: str) -> dict[str, str]:
    """The stream's manifest fields, without the ones that change every run."""
    from target_redis.keyspace import KeySpace

    fields = client.hgetall(KeySpace(namespace, stream).manifest_key)
    return {k: v for k, v in fields.items() if k not in ("updated_at", "written_by")}


def data_of(client: redis.Redis, pattern: str) -> list[dict]:
    """The ``_airbyte_data`` of every hash matching ``pattern``, in id order."""
    found = hashes(client, pattern)
    ordered = sorted(found.values(), key=lambda h: int(h["_airbyte_ab_id"]))
    return [json.loads(h["_airbyte_data"]) for h in ordered]


def docs_section(page: str, heading: str) -> str:
    """The text of docs/``page`` under ``## heading``, up to the next ``## ``."""
    text = (Path(__file__).resolve().parent.parent / "docs" / page).read_text(encoding="utf-8")
    return text.split(f"## {heading}")[1].split("\n## ")[0]


def docs_config(section: str) -> dict[str, t.Any]:
    """The target settings of a docs section's first YAML block (a meltano.yml ``config``)."""
    loaded = yaml.safe_load(section.split("```yaml\n")[1].split("```")[0])
    return t.cast("dict[str, t.Any]", loaded["config"])


def check_cli_sessions(text: str, port: int) -> int:
    """Run every ``$ redis-cli ...`` line of ``text``'s console blocks against the server
    on ``port`` (as a terminal shows replies, ``--no-raw``) and assert that its output is
    the one shown; how many ran."""
    cli = shutil.which("redis-cli") or shutil.which("valkey-cli")
    assert cli is not None, "redis-cli comes with redis-server"
    ran = 0
    for block in text.split("```console\n")[1:]:
        for session in block.split("```")[0].split("$ redis-cli ")[1:]:
            command, _, expected = session.partition("\n")
            argv = [cli, "--no-raw", "-p", str(port), *shlex.split(command, comments=True)]
            out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            assert out == expected, command
            ran += 1
    return ran
