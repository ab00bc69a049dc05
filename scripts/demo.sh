#!/usr/bin/env bash
# The main job: load samples/sample.singer into a throwaway local Redis and show what landed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
