"""Write the Meltano plugin definition and the dev project from ``--about``.

    python scripts/plugin_definition.py          # rewrite plugin/target-redis.yml, meltano.yml
    python scripts/plugin_definition.py --check  # exit 1 if either is out of date

Every setting gets its ``kind`` (Meltano passes undeclared ones as strings), secrets
are ``sensitive``, capabilities are exactly those the target declares. Object settings
holding secrets (``ssl_mode``, ``tunnel_method``) are declared field by field (dotted
names, which Meltano nests back into objects) so each secret is marked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

from _venv import use_venv

use_venv()  # before importing what only .venv has

import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugin" / "target-redis.yml"
PROJECT = ROOT / "meltano.yml"
KINDS = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
}


def about() -> dict[str, t.Any]:
    out = subprocess.run(
        [sys.executable, "-m", "target_redis", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return t.cast("dict", json.loads(out))


def setting(name: str, schema: dict[str, t.Any]) -> dict[str, t.Any]:
    types = [kind for kind in schema.get("type", ["string"]) if kind != "null"]
    entry: dict[str, t.Any] = {
        "name": name,
        "label": schema.get("title") or name.replace("_", " ").title(),
    }
    if "enum" in schema:
        entry["kind"] = "options"
        entry["options"] = [{"label": str(value), "value": value} for value in schema["enum"]]
    else:
        # true-or-object settings (search_index) are objects to Meltano: an object's
        # value from the environment is JSON text, which a boolean kind would not parse.
        first = "object" if "object" in types else (types[0] if types else "string")
        entry["kind"] = KINDS.get(first, "string")
    if schema.get("description"):
        entry["description"] = schema["description"]
    if schema.get("default") not in (None, ""):
        entry["value"] = schema["default"]
    if schema.get("secret"):
        entry["sensitive"] = True
    return entry


def settings(info: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    out = []
    for name, schema in info["settings"]["properties"].items():
        children = schema.get("properties") or {}
        if any(child.get("secret") for child in children.values()):
            out += [setting(f"{name}.{child}", sub) for child, sub in children.items()]
        else:
            out.append(setting(name, schema))
    return out


def plugin_definition(info: dict[str, t.Any]) -> dict[str, t.Any]:
    """The loader in Meltano Hub's format (for ``meltano add --from-ref``)."""
    return {
        "name": "target-redis",
        "namespace": "target_redis",
        "variant": "target-redis",
        "label": "Redis",
        "description": info["description"],
        "pip_url": "target-redis",
        "executable": "target-redis",
        "capabilities": info["capabilities"],
        "settings": settings(info),
        # `meltano test target-redis` runs the commands whose names start with "test"
        "commands": {
            "test": {
                "args": "--config ENV --test",
                "description": "Connect, authenticate and check write access; load nothing.",
            }
        },
    }


def project(definition: dict[str, t.Any]) -> dict[str, t.Any]:
    """A dev project: this checkout as the loader, tap-jsonl on the bundled sample."""
    loader = {
        key: value for key, value in definition.items() if key not in ("label", "description")
    }
    loader.update(
        pip_url="-e .",
        config={
            "host": "localhost",
            "port": 6379,
            # users: the Airbyte layout (the defaults); orders: a leaderboard by total
            "streams": {
                "orders": {
                    "load_method": "append-only",  # ZADD: a member's score moves
                    "cache_type": "sorted_set",
                    "score_field": "total",
                    "key_template": "orders:by-total",
                }
            },
        },
    )
    return {
        "version": 1,
        "default_environment": "dev",
        "project_id": "target-redis-dev",
        "environments": [{"name": "dev"}],
        "plugins": {
            "extractors": [
                {
                    "name": "tap-jsonl",
                    "namespace": "tap_jsonl",
                    "pip_url": "tap-jsonl==0.3.1",
                    "executable": "tap-jsonl",
                    "capabilities": ["catalog", "discover", "state"],
                    "settings": [
                        {"name": "path", "kind": "string"},
                        {"name": "stream_name", "kind": "string"},
                        {"name": "primary_keys", "kind": "array"},
                    ],
                    "config": {
                        "path": "samples/users.jsonl",
                        "stream_name": "users",
                        "primary_keys": ["id"],
                    },
                },
                {
                    "name": "tap-jsonl--orders",
                    "inherit_from": "tap-jsonl",
                    "config": {
                        "path": "samples/orders.jsonl",
                        "stream_name": "orders",
                        "primary_keys": ["order_id"],
                    },
                },
            ],
            "loaders": [loader],
        },
    }


def render(data: dict[str, t.Any], header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def main() -> int:
    definition = plugin_definition(about())
    files = {
        PLUGIN: render(
            definition,
            "# Meltano plugin definition (generated by scripts/plugin_definition.py).\n"
            "# meltano add target-redis --from-ref plugin/target-redis.yml\n",
        ),
        PROJECT: render(
            project(definition),
            "# Dev Meltano project (generated by scripts/plugin_definition.py).\n"
            "#   meltano install\n"
            "#   meltano run tap-jsonl target-redis tap-jsonl--orders target-redis\n",
        ),
    }
    stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
    if "--check" in sys.argv:
        for path in stale:
            print(
                f"{path.relative_to(ROOT)} differs from --about; run scripts/plugin_definition.py"
            )
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_text(files[path])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
