#!/usr/bin/env bash
# tests/check_layers_test.sh - tools/check-layers passes on the tree and fails,
# naming the file and both layers, on a copy with an include that points up.
# Usage: check_layers_test.sh SOURCE_DIR
set -euo pipefail
src=$1
chk="$src/tools/check-layers"

"$chk" "$src" || { echo "FAIL: the tree itself breaks the layer rule"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/src" "$tmp/src"

# base may not include the runtime
printf '#include "runtime/cluster.h"\n' >>"$tmp/src/base/log.c"
if out=$("$chk" "$tmp" 2>&1); then
  echo "FAIL: an include from base up to runtime passed the check"; exit 1
fi
grep -q 'src/base/log.c:.*base (layer 0) includes runtime' <<<"$out" || { echo "FAIL: message does not name the file and layers: $out"; exit 1; }

# the scheduler may not include a collection (reset the first break)
cp "$src/src/base/log.c" "$tmp/src/base/log.c"
printf '#include "array/array.h"\n' >>"$tmp/src/scheduler/graph.h"
if "$chk" "$tmp" >/dev/null 2>&1; then echo "FAIL: scheduler -> array passed the check"; exit 1; fi

# a folder that is no layer is an error too
cp "$src/src/scheduler/graph.h" "$tmp/src/scheduler/graph.h"
mkdir -p "$tmp/src/misc" && printf 'int x;\n' >"$tmp/src/misc/x.c"
if "$chk" "$tmp" >/dev/null 2>&1; then echo "FAIL: an unknown folder passed the check"; exit 1; fi
rm -rf "$tmp/src/misc"

# and the repaired copy passes again
"$chk" "$tmp" >/dev/null || { echo "FAIL: the repaired copy fails"; exit 1; }
echo "check-layers: passes on the tree, fails on each wrong include"
