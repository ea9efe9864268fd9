#!/usr/bin/env bash
# tests/array_conformance/run.sh - the array conformance test (ctest runs it):
# NumPy 2 writes the cases (gen.py), dtx computes and compares them (driver).
# Usage: run.sh DRIVER WORKDIR
# Environment: DTX_TEST_PYTHON  a Python with NumPy 2 (default python3);
#              DTX_CONFORMANCE_SEED, DTX_CONFORMANCE_CASES  the random cases.
# Exits 77 (skipped) when that Python or its NumPy 2 is missing, 1 instead
# when DTX_CONFORMANCE_REQUIRED=1 (CI).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
driver=$1
work=$2
py=${DTX_TEST_PYTHON:-python3}
skip() { # skipped (77 for ctest), or a failure where the test is required
  if [[ ${DTX_CONFORMANCE_REQUIRED:-0} == 1 ]]; then
    echo "FAIL (DTX_CONFORMANCE_REQUIRED=1): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
if ! command -v "$py" >/dev/null 2>&1; then
  skip "no Python '$py'; set DTX_TEST_PYTHON (environment or CMake cache) to a Python with NumPy 2"
fi
if ! ver=$("$py" -c 'import numpy; print(numpy.__version__)' 2>/dev/null); then
  skip "'$py' has no NumPy; e.g. python3 -m venv .venv && .venv/bin/pip install numpy," \
    "then DTX_TEST_PYTHON=\$PWD/.venv/bin/python"
fi
if [[ ${ver%%.*} -lt 2 ]]; then
  skip "'$py' has NumPy $ver; the rules checked are NumPy 2's (NEP 50)"
fi
seed=${DTX_CONFORMANCE_SEED:-20250611}
count=${DTX_CONFORMANCE_CASES:-800}
echo "array conformance: $py, NumPy $ver, seed $seed (DTX_CONFORMANCE_SEED), $count random cases (DTX_CONFORMANCE_CASES)"
rm -rf "$work"
mkdir -p "$work"
"$py" "$here/gen.py" --seed "$seed" --count "$count" --out "$work"
"$driver" "$work/cases.txt"
