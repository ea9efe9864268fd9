#!/usr/bin/env bash
# tests/install/check.sh - checks an installed dtx from the outside.
#
#   tests/install/check.sh [BUILD_DIR]
#
# Installs dtx into a temporary prefix (from BUILD_DIR, a configured and built
# tree without sanitizers; without it, from a fresh library-only build), then:
#   1. the shared library exports dtx_ symbols and nothing else;
#   2. tests/install is built with CMake's find_package(dtx CONFIG) against the
#      prefix, linking dtx::dtx and dtx::dtx_static, and both programs run;
#   3. consumer.c is built with `pkg-config dtx` (shared) and
#      `pkg-config --static dtx` (static), and both programs run.
# The static programs must not need libdtx.so. Set DTX_KEEP_TMP=1 to keep the
# temporary directory. Exit status 0 when every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-}
cc=${CC:-cc}
jobs=${DTX_JOBS:-2}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtx-install-check.XXXXXX")
cleanup() { if [[ "${DTX_KEEP_TMP:-0}" == 1 ]]; then echo "check.sh: kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
fail() { echo "check.sh: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== check.sh: $*"; }

# ---- install ------------------------------------------------------------------
if [[ -z "$build" ]]; then
  build=$tmp/build
  step "library-only build in $build"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DDTX_BUILD_TESTS=OFF -DDTX_BUILD_BENCH=OFF -DDTX_BUILD_TOOLS=OFF >/dev/null
  cmake --build "$build" -j"$jobs"
fi
[[ -f "$build/CMakeCache.txt" ]] || fail "$build is not a configured build tree"
if grep -Eq '^DTX_SANITIZE:[A-Z]*=.+' "$build/CMakeCache.txt"; then
  fail "$build is a sanitizer build; give a plain one (its programs would need the sanitizer runtime)"
fi

prefix=$tmp/prefix
step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }

so=$(find "$prefix" -name 'libdtx.so' | head -n1)
ar=$(find "$prefix" -name 'libdtx.a' | head -n1)
pc=$(find "$prefix" -name 'dtx.pc' | head -n1)
config=$(find "$prefix" -name 'dtxConfig.cmake' | head -n1)
[[ -n "$so" ]] || fail "no libdtx.so under $prefix"
[[ -n "$ar" ]] || fail "no libdtx.a under $prefix"
[[ -n "$pc" ]] || fail "no dtx.pc under $prefix"
[[ -n "$config" ]] || fail "no dtxConfig.cmake under $prefix"
for h in dtx.h cluster.h export.h future.h graph.h status.h version.h; do
  [[ -f "$prefix/include/dtx/$h" ]] || fail "header include/dtx/$h not installed"
done
libdir=$(dirname "$so")
echo "installed: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# ---- 1. exported symbols ---------------------------------------------------------
step "exported symbols of $so"
nm -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' >"$tmp/symbols"
grep -Ev '^dtx_' "$tmp/symbols" | grep -Evx '_init|_fini|_edata|_end|__bss_start' >"$tmp/foreign" || true
if [[ -s "$tmp/foreign" ]]; then
  echo "libdtx.so exports $(wc -l <"$tmp/foreign") symbol(s) without the dtx_ prefix:" >&2
  head -n 40 "$tmp/foreign" >&2
  fail "only dtx_ symbols may be exported"
fi
grep -qx 'dtx_version' "$tmp/symbols" || fail "dtx_version is not exported"
echo "ok: $(grep -c '^dtx_' "$tmp/symbols") dtx_ symbols, nothing else"

# Runs a consumer program; checks whether it needs libdtx.so (shared) or not (static).
run_consumer() {
  local exe=$1 kind=$2
  if readelf -d "$exe" | grep -q 'NEEDED.*libdtx\.so'; then
    [[ "$kind" == shared ]] || fail "$exe should be linked statically but needs libdtx.so"
  else
    [[ "$kind" == static ]] || fail "$exe should need libdtx.so"
  fi
  (cd "$tmp" && "$exe") || fail "$exe exited with status $?"
  (cd "$tmp" && DTX_SCHEDULER=sync "$exe") || fail "DTX_SCHEDULER=sync $exe exited with status $?"
}

# ---- 2. CMake package ------------------------------------------------------------------
step "find_package(dtx CONFIG) consumer"
cmake -S "$here" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  || fail "configuring tests/install against $prefix"
cmake --build "$tmp/cmake-consumer" -j"$jobs" || fail "building tests/install against $prefix"
run_consumer "$tmp/cmake-consumer/consumer_shared" shared
run_consumer "$tmp/cmake-consumer/consumer_static" static

# ---- 3. pkg-config -------------------------------------------------------------------------
step "pkg-config consumer"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pc_prefix=$(pkg-config --variable=prefix dtx)
[[ "$(cd "$pc_prefix" && pwd -P)" == "$(cd "$prefix" && pwd -P)" ]] \
  || fail "dtx.pc resolves its prefix to $pc_prefix, not $prefix"
warn=(-std=c11 -Wall -Wextra -Wpedantic -Werror)
read -r -a cflags <<<"$(pkg-config --cflags dtx)"
read -r -a libs <<<"$(pkg-config --libs dtx)"
echo "shared: ${cflags[*]} ${libs[*]}"
"$cc" "${warn[@]}" "${cflags[@]}" "$here/consumer.c" "${libs[@]}" -Wl,-rpath,"$libdir" \
  -o "$tmp/pc_shared" || fail "pkg-config shared build"
run_consumer "$tmp/pc_shared" shared

read -r -a cflags <<<"$(pkg-config --static --cflags dtx)"
# libdtx.so sits beside libdtx.a, so ask for the archive by name.
read -r -a libs <<<"$(pkg-config --static --libs dtx | sed -E 's/(^| )-ldtx( |$)/\1-l:libdtx.a\2/')"
echo "static: ${cflags[*]} ${libs[*]}"
"$cc" "${warn[@]}" "${cflags[@]}" "$here/consumer.c" "${libs[@]}" -o "$tmp/pc_static" \
  || fail "pkg-config static build"
run_consumer "$tmp/pc_static" static

echo
echo "check.sh: all install checks passed"
