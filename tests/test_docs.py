"""The documentation site (docs/, mkdocs.yml) builds with every warning an error: links
between pages and anchors resolve, every page is in the navigation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from singer_sdk.plugin_base import JSONSchemaValidator

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
    for page in ("layouts", "key-spaces", "guarantees", "cluster", "security", "settings"):
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
