#!/usr/bin/env bash
# test.sh: installs what is missing, builds, and runs the whole test suite with CTest.
# Tests that need real text use the Tiny Shakespeare copy that scripts/fetch_data.sh provides.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install_deps.sh"
BUILD_DIR="$root/build" "$root/scripts/build.sh"
if data="$("$root/scripts/fetch_data.sh")"; then
  export SPECTRAL_TEST_TEXT="$data"
else
  echo "test.sh: no Tiny Shakespeare text; tests that need it are skipped" >&2
fi
cd "$root/build"
ctest --output-on-failure -j2 --timeout 900
