#!/usr/bin/env bash
# Create .venv (once) and install target-redis with its dev dependencies,
# pinned by requirements-dev.lock. Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements-dev.lock | cksum | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -c requirements-dev.lock -e '.[dev]'
    rm -f .venv/.installed-* && touch "$stamp"
fi
