"""benchmarks/ab.py runs (a tree against itself, a few records): the tool that judged
round two of the hot path stays usable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ab_compares_two_trees() -> None:
    options = ["--records", "300", "--rounds", "1", "--shape", "wide"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ab", str(ROOT), str(ROOT), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(
        r"^median \d+\.\d\d -> \d+\.\d\d µs/record \([+-]\d+\.\d%\)$", done.stdout, re.M
    )
