"""Refresh README's settings table from ``target-redis --about --format=markdown``.

Run with ``--check`` to fail (exit 1) when README is out of date instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def settings_table() -> str:
    about = subprocess.run(
        [sys.executable, "-m", "target_redis", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"^\| Setting .*?(?=\n\n)", about, re.S | re.M)
    if not match:
        raise SystemExit("no settings table in --about output")
    return match.group(0).strip()


def render(readme: str, table: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main() -> int:
    readme = README.read_text(encoding="utf-8")
    fresh = render(readme, settings_table())
    if "--check" in sys.argv:
        if fresh != readme:
            print("README settings table differs from --about; run scripts/update_readme.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
