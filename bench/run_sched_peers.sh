#!/usr/bin/env bash
# bench/run_sched_peers.sh - dtx's scheduler cost per task beside Dask's (and
# StarPU's), BENCHMARKS.md section 1, in one run on this machine.
#
# Makes bench/.venv with a pinned Dask from PyPI, builds dtx-bench-sched if the
# build dir lacks it, then runs bench/dask_sched.py, which runs dtx-bench-sched
# --json and Dask's sync and threads schedulers on the same graphs and prints a
# table (or JSON lines with --json). With --starpu it also installs Debian's
# starpu-examples (apt-get, as root) when missing; StarPU's tasks_overhead runs
# whenever it is installed.
#
# usage: bench/run_sched_peers.sh [--build-dir DIR] [--starpu] [dask_sched.py options...]
#   --build-dir DIR   CMake build dir holding bin/dtx-bench-sched (default: build)
#   --starpu          apt-get install starpu-examples if tasks_overhead is missing
#   everything else goes to dask_sched.py: --tasks N --reps R --dask-reps R
#   --threads T --cases wide,chain,tree --schedulers sync,threads --json ...
# A full run at N=100,000 takes several minutes: Dask needs ~40-110 us per task.
set -euo pipefail

DASK_VERSION=2026.8.0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/bench/.venv
BUILD_DIR=$ROOT/build
STARPU_BIN=/usr/lib/x86_64-linux-gnu/starpu/examples/tasks_overhead
INSTALL_STARPU=0
PASS=()

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD_DIR=$(cd "$2" 2>/dev/null && pwd || echo "$2"); shift 2 ;;
    --starpu) INSTALL_STARPU=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac

log() { echo "run_sched_peers: $*" >&2; }

# ---- Dask in its own venv ----------------------------------------------------------
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import dask, sys; sys.exit(dask.__version__ != '$DASK_VERSION')" 2>/dev/null; then
  log "making $VENV with dask==$DASK_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "dask==$DASK_VERSION" >&2
fi

# ---- dtx-bench-sched ---------------------------------------------------------------
BIN=$BUILD_DIR/bin/dtx-bench-sched
if [[ ! -x $BIN ]]; then
  log "building dtx-bench-sched in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  cmake --build "$BUILD_DIR" --target dtx-bench-sched -j "$(nproc)" >&2
fi

# ---- StarPU's tasks_overhead (optional) ----------------------------------------------
STARPU_NOTE=""
if [[ ! -x $STARPU_BIN ]]; then
  if [[ $INSTALL_STARPU == 1 ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      log "installing starpu-examples"
      apt-get update -qq >&2 || true
      if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq starpu-examples >&2; then
        STARPU_NOTE="starpu-examples is not installable here (apt-get install failed)"
      fi
    else
      STARPU_NOTE="starpu-examples is not installed and this is not a root Debian shell to install it"
    fi
  else
    STARPU_NOTE="starpu-examples is not installed (run with --starpu to apt-get install it)"
  fi
fi

exec "$VENV/bin/python" "$ROOT/bench/dask_sched.py" --dtx-bin "$BIN" --starpu "$STARPU_BIN" \
  ${STARPU_NOTE:+--starpu-note "$STARPU_NOTE"} "${PASS[@]+"${PASS[@]}"}"
