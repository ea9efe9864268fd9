#!/usr/bin/env bash
# tests/check_env_reads.sh - the environment is read in one place. Fails when
# a file of src/ outside the allow-list below reads it (getenv, secure_getenv,
# environ, dtxi_env_get), naming each file and line; then shows, on a copy of
# src/ with reads added to the GPU executor and the progress bar, that the
# check catches them.
#
# Usage: check_env_reads.sh SOURCE_DIR
set -euo pipefail
src=$1

# The files that may read the environment, and why:
#   base/config.c      the table of DTX_* settings (read once per process), and
#                      TMPDIR, the default of the spill dir and the report's
#                      temporary trace
#   base/config.h      declares dtxi_env_get
#   base/settings.c    resolves a cluster's settings from the table as read
#   runtime/cluster.c  resolves a cluster's settings once, at creation; reads
#                      NVTX_INJECTION64_PATH, the NVTX tool's own variable
allowed=(base/config.c base/config.h base/settings.c runtime/cluster.c)

# check ROOT: prints each read in ROOT/src outside the allowed files; fails if any.
check() {
  local root=$1 bad=0 hit rel file line text ok a
  while IFS= read -r hit; do
    rel=${hit#"$root"/src/}
    file=${rel%%:*}
    rel=${rel#*:}
    line=${rel%%:*}
    text=${rel#*:}
    ok=0
    for a in "${allowed[@]}"; do [[ $file == "$a" ]] && ok=1; done
    ((ok)) && continue
    echo "check_env_reads: src/$file:$line: reads the environment outside the settings (resolve it in runtime/cluster.c and pass the value down): ${text#"${text%%[![:space:]]*}"}" >&2
    bad=1
  done < <(grep -rnE '(^|[^_[:alnum:]])((secure_)?getenv[[:space:]]*\(|environ([^_[:alnum:]]|$)|dtxi_env_get[[:space:]]*\()' \
    --include='*.c' --include='*.h' --include='*.cu' --include='*.cuh' "$root/src" || true)
  return $bad
}

check "$src" || { echo "FAIL: src/ reads the environment outside the allowed files"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/src" "$tmp/src"
printf 'static int window(void) { return getenv("DTX_GPU_WINDOW") != 0; }\n' >>"$tmp/src/scheduler/gpu/dispatch.c"
printf 'static int bar(void) { return dtxi_env_get()->progress; }\n' >>"$tmp/src/scheduler/progress.c"
if out=$(check "$tmp" 2>&1); then echo "FAIL: a getenv in scheduler/gpu/dispatch.c passed the check"; exit 1; fi
grep -q 'src/scheduler/gpu/dispatch.c:[0-9]*: reads the environment' <<<"$out" || { echo "FAIL: dispatch.c not named: $out"; exit 1; }
grep -q 'src/scheduler/progress.c:[0-9]*: reads the environment' <<<"$out" || { echo "FAIL: progress.c not named: $out"; exit 1; }
cp "$src/src/scheduler/gpu/dispatch.c" "$tmp/src/scheduler/gpu/dispatch.c"
cp "$src/src/scheduler/progress.c" "$tmp/src/scheduler/progress.c"
check "$tmp" || { echo "FAIL: the repaired copy fails"; exit 1; }
echo "check_env_reads: only ${allowed[*]} read the environment; an added read is caught"
