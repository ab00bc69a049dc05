#!/usr/bin/env bash
# Create .venv (once) and install target-redis with its dev dependencies,
# pinned by requirements-dev.lock. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"  # scripts/test-pythons.sh makes one per Python version
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
stamp=$VENV/.installed-$(cat pyproject.toml requirements-dev.lock | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c requirements-dev.lock -e '.[dev]'
    rm -f "$VENV"/.installed-* && touch "$stamp"
fi
