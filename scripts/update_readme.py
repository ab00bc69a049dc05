"""Refresh the generated parts of the docs from ``target-redis --about``: the settings
table and capabilities in ``docs/settings.md``, and ``docs/index.md`` (README, with its
links made relative to ``docs/``: the site's home page).

Run with ``--check`` to fail (exit 1) when a file is out of date instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from _venv import use_venv

use_venv()  # target_redis is imported by the subprocess: only .venv has it

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SETTINGS = ROOT / "docs" / "settings.md"
INDEX = ROOT / "docs" / "index.md"


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


def render(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def settings_page(current: str) -> str:
    about = about_markdown()
    fresh = render(current, "settings", section(about, r"^\| Setting .*?(?=\n\n)"))
    capabilities = section(about, r"(?<=## Capabilities\n\n).*?(?=\n\n)")
    return render(fresh, "capabilities", capabilities)


def index_page(readme: str) -> str:
    """README for the site: ``docs/x.md`` links become ``x.md``; others point at files
    outside the site, so they become text."""
    text = re.sub(r"\]\(docs/([\w-]+\.md)", r"](\1", readme)
    text = re.sub(r"\[([^\]]+)\]\((?!https?://|#|[\w-]+\.md)[^)]*\)", r"\1", text)
    header = "<!-- Generated from README.md by scripts/update_readme.py: edit README. -->\n"
    return header + text


def main() -> int:
    wanted = {
        SETTINGS: settings_page(SETTINGS.read_text(encoding="utf-8")),
        INDEX: index_page(README.read_text(encoding="utf-8")),
    }
    stale = [
        path
        for path, text in wanted.items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    if "--check" in sys.argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date; run scripts/update_readme.py")
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
