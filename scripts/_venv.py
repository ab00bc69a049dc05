"""Run this script with the project's ``.venv`` Python (made by ``scripts/setup.sh``):
the scripts import target-redis and its dependencies, which another Python may lack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"


def use_venv() -> None:
    """Re-run the calling script with ``.venv``'s Python if it exists and is not this one;
    without it, stop with one line saying how to make it."""
    if Path(sys.executable) == VENV_PYTHON or sys.prefix != sys.base_prefix:
        return
    if not VENV_PYTHON.exists():
        sys.exit("No .venv here: run `bash scripts/setup.sh` first.")
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
