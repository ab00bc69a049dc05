#!/usr/bin/env bash
# The fast, non-server-matrix part of the suite on every other CPython 3.10-3.13 found
# (scripts/test.sh runs the whole suite on the default one). Says which versions it ran
# and which it did not find. Each gets its own venv: .venv-3.X.
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=(tests/test_layouts.py tests/test_writer_fake.py tests/test_golden_layout.py
      tests/test_load_methods.py tests/test_key_spaces.py tests/test_fast_path.py
      tests/test_fidelity.py tests/test_direct_path.py tests/test_schema_types.py
      tests/test_pipelines.py)  # ~45 s a version; the rest runs on the default one
default=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ran=("$default (whole suite, scripts/test.sh)") missing=()
for version in 3.10 3.11 3.12 3.13; do
    [ "$version" = "$default" ] && continue
    python=""
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python"$version" \
                     "python$version"; do
        # a pyenv shim may exist for a version that is not active: run it to be sure
        if "$candidate" -c "pass" >/dev/null 2>&1; then python=$(command -v "$candidate"); break; fi
    done
    if [ -z "$python" ]; then missing+=("$version"); continue; fi
    echo "== Python $version ($python): ${#FAST[@]} test files"
    VENV=".venv-$version" PYTHON="$python" bash scripts/setup.sh
    ".venv-$version/bin/python" -m pytest -q -p no:cacheprovider "${FAST[@]}"
    ran+=("$version")
done
echo "Python versions run: ${ran[*]}"
echo "Python versions not found: ${missing[*]:-none}"
