#!/usr/bin/env bash
# Builds and runs one libFuzzer target of tests/fuzz for a bounded time.
#
#   run_fuzz.sh TARGET SECONDS [FUZZ_BUILD_DIR]
#   run_fuzz.sh --build-only [FUZZ_BUILD_DIR]   (step 1 alone: tools/test builds
#                                                the fuzz tree with the rest)
#
#   TARGET          envelope | key_record | keystore | commit | statement | merkle
#   SECONDS         how long to fuzz (-max_total_time)
#   FUZZ_BUILD_DIR  the clang build (default: build/fuzz-build of the checkout);
#                   ctest passes ${CMAKE_BINARY_DIR}/fuzz-build
#
# 1. Configures (first time) and builds tests/fuzz/standalone with clang in
#    FUZZ_BUILD_DIR, holding flock on FUZZ_BUILD_DIR.lock so that parallel
#    runs (ctest -j) never build at once. If FIELDSYNC_BUILD_LOCK names a lock
#    file (e.g. /tmp/fieldsync-build.lock), the build also holds that one --
#    for running by hand next to other builds; ctest does not set it (a ctest
#    run under that lock would otherwise wait for itself).
# 2. Runs the target once over every file of tests/fuzz/regressions/TARGET/
#    (crashing inputs kept from earlier runs; the directory must exist).
# 3. Fuzzes for SECONDS from tests/fuzz/seeds/TARGET/, in a scratch corpus
#    FUZZ_BUILD_DIR/corpus/TARGET (kept between runs, so runs build on each
#    other; delete it at will), artifacts in FUZZ_BUILD_DIR/artifacts/TARGET.
#    A crash, leak, timeout or out-of-memory input is copied into
#    tests/fuzz/regressions/TARGET/, its path and hex are printed, and the
#    script exits non-zero.
set -euo pipefail

usage() {
  echo "usage: $0 envelope|key_record|keystore|commit|statement|merkle SECONDS [FUZZ_BUILD_DIR]" >&2
  echo "       $0 --build-only [FUZZ_BUILD_DIR]" >&2
  exit 2
}
build_only=0
if [ "${1:-}" = "--build-only" ]; then
  [ $# -le 2 ] || usage
  build_only=1
  target=all
  seconds=0
  set -- all 0 ${2:+"$2"}
else
  [ $# -ge 2 ] && [ $# -le 3 ] || usage
  target=$1
  seconds=$2
  case "$target" in
    envelope|key_record|keystore|commit|statement|merkle) ;;
    *) echo "run_fuzz.sh: unknown target '$target'" >&2; usage ;;
  esac
  [[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || {
    echo "run_fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
    usage
  }
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${3:-$root/build/fuzz-build}
mkdir -p "$(dirname "$build")"
build=$(cd "$(dirname "$build")" && pwd)/$(basename "$build")

say() { printf '[fuzz_%s] %s\n' "$target" "$*"; }
die() { printf '[fuzz_%s] FAIL: %s\n' "$target" "$*" >&2; exit 1; }

# --- toolchain ----------------------------------------------------------------
CXX_FUZZ=${FIELDSYNC_FUZZ_CXX:-clang++}
CC_FUZZ=${FIELDSYNC_FUZZ_CC:-clang}
for tool in "$CXX_FUZZ" "$CC_FUZZ" cmake ninja flock; do
  command -v "$tool" >/dev/null || {
    case "$tool" in
      clang*) die "$tool not found: the fuzz targets need clang with libFuzzer; install the Debian packages clang and libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev)" ;;
      *) die "$tool not found (see ../shared/docs/TOOLCHAIN.md)" ;;
    esac
  }
done
fuzzer_rt="$("$CXX_FUZZ" -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
[ -f "$fuzzer_rt" ] || die "clang's libFuzzer runtime is missing ($fuzzer_rt): install the Debian package libclang-rt-14-dev"

# --- build (serialised) -------------------------------------------------------
build_log="$build.$target.log"
build_tree() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    say "configuring the clang fuzz build in $build"
    cmake -S "$here/standalone" -B "$build" -G Ninja \
      -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_CXX_COMPILER="$CXX_FUZZ"
  fi
  cmake --build "$build" -j2
}
say "building (waiting for $build.lock${FIELDSYNC_BUILD_LOCK:+ and $FIELDSYNC_BUILD_LOCK})"
start=$(date +%s)
if ! (
  flock 9
  if [ -n "${FIELDSYNC_BUILD_LOCK:-}" ]; then
    exec 8>"$FIELDSYNC_BUILD_LOCK"
    flock 8
  fi
  build_tree
) 9>"$build.lock" >"$build_log" 2>&1; then
  tail -n 60 "$build_log" >&2
  die "the clang fuzz build failed (full log: $build_log)"
fi
say "build ready after $(( $(date +%s) - start )) s (log: $build_log)"
[ "$build_only" = 1 ] && exit 0

bin="$build/${target}_fuzz"
[ -x "$bin" ] || die "$bin was not built"

# Crash reports with symbols; a leak is a failure too.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}symbolize=1:detect_leaks=1"
symbolizer=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

hex() { od -An -tx1 -v "$1" | tr -d ' \n'; echo; }

artifacts="$build/artifacts/$target"
regressions="$here/regressions/$target"

# Copies what libFuzzer left in $artifacts into the regression corpus.
keep_artifacts() {
  local found=0 f dest
  for f in "$artifacts"/*; do
    [ -f "$f" ] || continue
    found=1
    dest="$regressions/$(basename "$f")"
    cp "$f" "$dest"
    echo "[fuzz_$target] crashing input kept as a regression test: $dest" >&2
    echo "[fuzz_$target]   $(stat -c %s "$f") bytes, hex: $(hex "$f")" >&2
  done
  [ "$found" = 1 ]
}

# --- 1. regression inputs -----------------------------------------------------
[ -d "$regressions" ] || die "$regressions is missing (it holds at least a README)"
mapfile -t kept < <(find "$regressions" -maxdepth 1 -type f | sort)
[ "${#kept[@]}" -gt 0 ] || die "$regressions is empty (it holds at least a README)"
rm -rf "$artifacts"
mkdir -p "$artifacts"
say "running ${#kept[@]} kept input(s) of $regressions"
if ! "$bin" -artifact_prefix="$artifacts/" -rss_limit_mb=2048 -timeout=25 "${kept[@]}" \
      >"$build/$target.regressions.log" 2>&1; then
  cat "$build/$target.regressions.log" >&2
  die "a kept regression input still fails (see above; sync-core is not fixed yet)"
fi

# --- 2. fuzzing ---------------------------------------------------------------
seeds="$here/seeds/$target"
corpus="$build/corpus/$target"
[ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ] || die "no seed inputs in $seeds"
mkdir -p "$corpus"
cp "$seeds"/* "$corpus"/
extra=()
[ -f "$here/dicts/$target.dict" ] && extra+=("-dict=$here/dicts/$target.dict")
say "fuzzing for $seconds s from $(ls "$seeds" | wc -l) seed(s); corpus $corpus ($(ls "$corpus" | wc -l) inputs)"
log="$build/$target.fuzz.log"
rc=0
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "${extra[@]}" "$corpus" >"$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$artifacts")" ]; then
  # The report, without the progress lines before it.
  report=$(sed -n '/^==[0-9]*==\|ERROR: libFuzzer\|ERROR: AddressSanitizer\|ERROR: LeakSanitizer/,$p' "$log")
  if [ -n "$report" ]; then echo "$report" | head -n 150 >&2; else tail -n 30 "$log" >&2; fi
  keep_artifacts || true
  die "libFuzzer exit status $rc (log: $log); add the kept input(s) to git and fix the bug"
fi
grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+.*DONE' "$log" || true
say "ok: no crash in $seconds s ($(ls "$corpus" | wc -l) inputs in the corpus)"
