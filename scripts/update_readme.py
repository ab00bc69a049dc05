"""Refresh README's settings table and capabilities from ``target-redis --about``.

Run with ``--check`` to fail (exit 1) when README is out of date instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from _venv import use_venv

use_venv()  # target_redis is imported by the subprocess: only .venv has it

README = Path(__file__).resolve().parent.parent / "README.md"


def about_markdown() -> str:
    return subprocess.run(
        [sys.executable, "-m", "target_redis", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def section(about: str, pattern: str) -> str:
    match = re.search(pattern, about, re.S | re.M)
    if not match:
        raise SystemExit(f"--about output has no match for {pattern!r}")
    return match.group(0).strip()


def render(readme: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def main() -> int:
    readme = README.read_text(encoding="utf-8")
    about = about_markdown()
    fresh = render(readme, "settings", section(about, r"^\| Setting .*?(?=\n\n)"))
    capabilities = section(about, r"(?<=## Capabilities\n\n).*?(?=\n\n)")
    fresh = render(fresh, "capabilities", capabilities)
    if "--check" in sys.argv:
        if fresh != readme:
            print("README differs from --about; run scripts/update_readme.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
