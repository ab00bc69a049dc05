#!/usr/bin/env bash
# The whole test suite (tests start their own redis-server processes on free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
