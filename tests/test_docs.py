"""The documentation site (docs/, mkdocs.yml) builds with every warning an error: links
between pages and anchors resolve, every page is in the navigation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from singer_sdk.plugin_base import JSONSchemaValidator

from devtools.server import RedisServer
from target_redis import stream_settings
from target_redis.target import TargetRedis

ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "guarantees" / "index.html").exists()


def test_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 350
    for page in (
        "layouts",
        "key-spaces",
        "search",
        "guarantees",
        "cluster",
        "security",
        "settings",
    ):
        assert f"](docs/{page}.md)" in readme, page


def _blocks(language: str) -> list[tuple[str, str]]:
    """Every fenced ``language`` block of README and the docs pages: (where, text)."""
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if path.name == "index.md":  # generated from README
            continue
        text = path.read_text(encoding="utf-8")
        for number, block in enumerate(text.split(f"```{language}\n")[1:], start=1):
            found.append((f"{path.name} #{number}", block.split("```")[0]))
    return found


def _configs() -> list[tuple[str, dict]]:
    configs = [(where, json.loads(text)) for where, text in _blocks("json")]
    for where, text in _blocks("yaml"):
        loaded = yaml.safe_load(text)
        if isinstance(loaded, dict) and "config" in loaded:
            configs.append((where, loaded["config"]))
    return configs


@pytest.mark.parametrize(("where", "config"), _configs(), ids=[w for w, _ in _configs()])
def test_every_config_shown_is_a_valid_config(where: str, config: dict) -> None:
    """Checked as a run checks them before connecting: schema, unknown keys, streams."""
    schema = TargetRedis.config_jsonschema
    errors = [e.message for e in JSONSchemaValidator(schema).iter_errors(config)]
    assert errors == [], where
    unknown = set(config) - set(schema["properties"]) - {"stream_maps"}
    assert not unknown, where
    stream_settings.entries(config)  # raises TargetRedisError with the refusal


def _fenced(path: Path) -> list[tuple[int, str, str]]:
    """(line, language, the line just before the fence) of each fenced block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, inside = [], False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            if not inside:
                found.append((number + 1, line[3:].strip(), lines[number - 1] if number else ""))
            inside = not inside
    return found


def test_every_command_block_says_which_test_runs_it() -> None:
    """A shell or Python block a user would run names the test that runs it (and that
    test exists), or why none does."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in pages:
        if path.name == "index.md":  # generated from README
            continue
        for number, language, before in _fenced(path):
            if language not in ("bash", "python"):
                continue
            where = f"{path.name}:{number}"
            assert before.startswith(("<!-- checked by tests/", "<!-- not run by the tests:")), (
                where
            )
            for test in re.findall(r"tests/(\w+\.py)::(\w+)", before):
                assert f"def {test[1]}(" in (ROOT / "tests" / test[0]).read_text(), (where, test)


def test_readme_usage_block(server: RedisServer, tmp_path: Path) -> None:
    """README's usage commands, with the sample as the tap and this test's server."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- checked by tests/test_docs.py::test_readme_usage_block -->")[1]
    script = block.split("```bash\n")[1].split("```")[0]
    (tmp_path / "config.json").write_text(json.dumps(server.config()))
    script = "\n".join(line for line in script.splitlines() if not line.startswith("pip install"))
    script = script.replace("tap-something", f"cat {ROOT / 'samples' / 'sample.singer'}")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    proc = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    states = (tmp_path / "state.json").read_text().splitlines()
    assert states, "STATE lines were written to state.json"
    with server.client() as client:
        assert client.get(":users") == "3"


def test_the_development_commands() -> None:
    """Lint, types and the generators, as README's development block runs them."""
    venv = Path(sys.executable).parent
    for command in (
        [str(venv / "ruff"), "check", "."],
        [str(venv / "ruff"), "format", "--check", "."],
        [sys.executable, "-m", "mypy", "target_redis"],
        [sys.executable, "scripts/update_readme.py", "--check"],
    ):
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
