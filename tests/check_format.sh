#!/usr/bin/env bash
# tests/check_format.sh - the ctest test check_format_script: tools/check-format
# fails on a misformatted file and passes a clean one.
#
#   explicit files   a badly formatted .c and .cu exit 1, name the file and the
#                    fix, and are left as they were (--dry-run); clean .c, .h,
#                    .cc exit 0; a missing file or a bad option exit 2
#   changed files    in a scratch git repository holding a copy of the script
#                    and .clang-format: only files changed since --base are
#                    checked, also untracked ones, only under the source dirs
#   --all            the same repository: fails, then passes after
#                    clang-format -i on the files it named
#
# Usage: tests/check_format.sh SOURCE_DIR. Exits 77 (ctest: skipped) without
# clang-format (CLANG_FORMAT picks the binary, as for the script).
set -euo pipefail

src=${1:?usage: check_format.sh SOURCE_DIR}
script=$src/tools/check-format
fmt=${CLANG_FORMAT:-clang-format}
if ! command -v "$fmt" >/dev/null 2>&1; then
  echo "SKIPPED: no $fmt (Debian: apt-get install clang-format)"
  exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
# expect STATUS REGEX CMD...: CMD exits STATUS and its output matches REGEX
expect() {
  local want=$1 re=$2 rc=0 out
  shift 2
  out=$("$@" 2>&1) || rc=$?
  if [[ $rc -ne $want || ! $out =~ $re ]]; then
    echo "FAIL: $* -> exit $rc (want $want), output should match '$re':"
    echo "$out" | sed 's/^/    /'
    fails=$((fails + 1))
  else
    echo "ok: $* -> exit $rc"
  fi
}

bad_c='int  f( int a ){return a;}'
good_c='int f(int a) { return a; }'
printf '%s\n' "$bad_c" >"$tmp/bad.c"
printf '__global__ void k(float* x){x[threadIdx.x]=0;}\n' >"$tmp/bad.cu"
printf '%s\n' "$good_c" >"$tmp/good.c"
printf '#ifndef G_H\n#define G_H\nint g(int a);\n#endif\n' >"$tmp/good.h"
printf '#include <vector>\n\nint h(const std::vector<int> &v) { return static_cast<int>(v.size()); }\n' >"$tmp/good.cc"
cp "$tmp/bad.c" "$tmp/bad.c.orig"

# ---- explicit files --------------------------------------------------------------
expect 1 "bad\.c.*differs.*clang-format -i .*bad\.c" "$script" "$tmp/bad.c"
expect 1 "clang-format -i .*bad\.cu" "$script" "$tmp/bad.cu"
expect 1 "1 of 2 file" "$script" "$tmp/good.c" "$tmp/bad.c"
expect 0 "3 file\(s\) clean" "$script" "$tmp/good.c" "$tmp/good.h" "$tmp/good.cc"
expect 2 "cannot read" "$script" "$tmp/missing.c"
expect 2 "unknown option" "$script" --frobnicate
if ! cmp -s "$tmp/bad.c" "$tmp/bad.c.orig"; then
  echo "FAIL: check-format rewrote $tmp/bad.c"
  fails=$((fails + 1))
fi

# ---- changed files and --all, in a scratch repository -----------------------------
if command -v git >/dev/null 2>&1; then
  repo=$tmp/repo
  mkdir -p "$repo/tools" "$repo/src" "$repo/docs"
  cp "$script" "$repo/tools/check-format"
  cp "$src/.clang-format" "$repo/.clang-format"
  printf '%s\n' "$good_c" >"$repo/src/a.c"
  printf '%s\n' "$bad_c" >"$repo/src/old_bad.c" # misformatted, but not changed below
  g() { git -C "$repo" -c user.name=t -c user.email=t@t -c commit.gpgsign=false "$@"; }
  g init -q
  g add -A
  g commit -qm base
  expect 0 "no C/C\+\+/CUDA files to check" "$repo/tools/check-format" --base HEAD
  printf '%s\n' "$bad_c" >"$repo/src/a.c"           # changed, misformatted
  printf '%s\n' "$bad_c" >"$repo/docs/example.c"    # outside the source dirs
  printf '%s\n' "$good_c" >"$repo/src/new.c"        # untracked, clean
  expect 1 "1 of 2 file.*clang-format -i src/a\.c" "$repo/tools/check-format" --base HEAD
  if "$repo/tools/check-format" --base HEAD 2>&1 | grep -Eq "old_bad|example"; then
    echo "FAIL: --base HEAD checked a file that did not change or lies outside the source dirs"
    fails=$((fails + 1))
  fi
  g add -A
  g commit -qm change
  expect 1 "clang-format -i src/a\.c" env DTX_FORMAT_BASE=HEAD~1 "$repo/tools/check-format"
  expect 1 "clang-format -i src/a\.c" "$repo/tools/check-format" # default base: HEAD~1 here
  expect 2 "is not a commit" "$repo/tools/check-format" --base no-such-ref
  expect 1 "2 of 3 file.*src/a\.c.*src/old_bad\.c" "$repo/tools/check-format" --all
  "$fmt" -i "$repo/src/a.c" "$repo/src/old_bad.c"
  expect 0 "3 file\(s\) clean" "$repo/tools/check-format" --all
else
  echo "note: no git, the changed-files and --all modes are not checked"
fi

if [[ $fails -ne 0 ]]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"
