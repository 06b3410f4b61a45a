#!/usr/bin/env bash
# test.sh [--sanitize]: installs what is missing, builds, and runs the whole test suite with CTest.
# The tests make their own texts: none needs the Tiny Shakespeare download.
# --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer (-DSPECTRAL_SANITIZE=ON)
# into build-sanitize/ and runs the same suite there; any finding fails the test that hit it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize]" >&2; exit 2 ;;
  esac
done
"$root/scripts/install_deps.sh" python3-matplotlib  # matplotlib: the scripts' plots are tested too
if [ $sanitize -eq 1 ]; then
  build="$root/build-sanitize"
  BUILD_DIR="$build" "$root/scripts/build.sh" -DSPECTRAL_SANITIZE=ON
  # leaks are findings too; UBSan stops at the first report (-fno-sanitize-recover) with a stack
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
else
  build="$root/build"
  BUILD_DIR="$build" "$root/scripts/build.sh"
fi
cd "$build"
ctest --output-on-failure -j2 --timeout 900
