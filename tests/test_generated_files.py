"""Files generated from ``--about`` are up to date: README's tables, the Meltano plugin
definition and the dev project's meltano.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["update_readme.py", "plugin_definition.py"])
def test_generated_files_match_about(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


SDK_SETTINGS = {"batch_config", "stream_maps", "faker_config", "flattening_enabled"}


def _with_allowed_values(schema: dict, parent: str = "") -> list[tuple[str, list, str]]:
    found = []
    for name, prop in schema.get("properties", {}).items():
        if not parent and name in SDK_SETTINGS:
            continue  # the SDK's own descriptions
        text = f"{parent} {prop.get('description', '')}"
        if "enum" in prop:
            found.append((name, prop["enum"], text))
        found += _with_allowed_values(prop, text)
    return found


def test_descriptions_name_every_accepted_value() -> None:
    # A description that says less than the code accepts (once: "Only NO_TUNNEL is
    # accepted until tunnel support lands") is caught here.
    from target_redis import settings

    for name, values, text in _with_allowed_values(settings.SCHEMA):
        missing = [v for v in values if f"`{v}`" not in text]
        assert not missing, f"setting {name!r}: description does not name {missing}"
