#!/usr/bin/env bash
# bench/run_array_peers.sh - dtx's chunked arrays beside Dask array (threaded
# scheduler) and NumPy, BENCHMARKS.md section 2, in one run on this machine,
# with the memory-bandwidth floor measured by a large copy.
#
# Makes (or completes) bench/.venv with pinned Dask and NumPy from PyPI, builds
# dtx-bench-array if the build dir lacks it, then runs bench/array_peers.py,
# which runs dtx-bench-array --json and the same cases through Dask and NumPy
# and prints a table (or JSON lines with --json).
#
# usage: bench/run_array_peers.sh [--build-dir DIR] [array_peers.py options...]
#   --build-dir DIR   CMake build dir holding bin/dtx-bench-array (default: build)
#   everything else goes to array_peers.py: --n N --chunk C --reps R --dask-reps R
#   --threads T --cases transpose-sum,sum,... --no-numpy --json
# The full run (8192 x 8192, every case) takes a few minutes and about 3 GB of memory.
set -euo pipefail

DASK_VERSION=2026.8.0
NUMPY_VERSION=2.4.6
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/bench/.venv
BUILD_DIR=$ROOT/build
PASS=()

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD_DIR=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

log() { echo "run_array_peers: $*" >&2; }

# ---- Dask and NumPy in their own venv ------------------------------------------------
if [[ ! -x $VENV/bin/python ]]; then
  log "making $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import dask, numpy, sys; sys.exit(dask.__version__ != '$DASK_VERSION' or numpy.__version__ != '$NUMPY_VERSION')" 2>/dev/null; then
  log "installing dask==$DASK_VERSION numpy==$NUMPY_VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "dask==$DASK_VERSION" "numpy==$NUMPY_VERSION" >&2
fi

# ---- dtx-bench-array --------------------------------------------------------------------
BIN=$BUILD_DIR/bin/dtx-bench-array
if [[ ! -x $BIN ]]; then
  log "building dtx-bench-array in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  cmake --build "$BUILD_DIR" --target dtx-bench-array -j "$(nproc)" >&2
fi

exec "$VENV/bin/python" "$ROOT/bench/array_peers.py" --dtx-bin "$BIN" "${PASS[@]+"${PASS[@]}"}"
