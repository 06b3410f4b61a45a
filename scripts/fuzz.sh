#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan, everything
# instrumented) into build-fuzz/ and runs each for SECONDS (default 60): fuzz_config (config JSON +
# --set lines), fuzz_checkpoint (checkpoint file bytes), fuzz_utf8 (the decoder). Each starts from
# its seed corpus in tests/fuzz/corpus/<target>/ (left untouched; new inputs go to
# build-fuzz/corpus/<target>/). A crashing input is saved in build-fuzz/findings/<target>/ and the
# script exits 1; the last lines of each run (executions, corpus size) are printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
build="${BUILD_DIR:-$root/build-fuzz}"
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is not installed (apt-get install clang)" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSPECTRAL_FUZZ=ON -DSPECTRAL_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_config fuzz_checkpoint fuzz_utf8
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
failed=()
for t in config checkpoint utf8; do
  work="$build/corpus/$t" findings="$build/findings/$t"
  mkdir -p "$work" "$findings"
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  echo "== fuzz_$t for ${secs}s" >&2
  set +e
  "$build/tests/fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$work" "$root/tests/fuzz/corpus/$t" >"$build/fuzz_$t.log" 2>&1
  rc=$?
  set -e
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ +DONE|SUMMARY|ERROR' "$build/fuzz_$t.log" >&2 || true
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz_$t: FAILED (exit $rc); input in $findings/, log in $build/fuzz_$t.log" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: no crashes" >&2
