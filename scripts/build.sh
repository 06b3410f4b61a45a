#!/usr/bin/env bash
# build.sh: configures and builds spectral with CMake into build/ (Release). Extra arguments are
# passed to CMake's configure step (e.g. -DSPECTRAL_SANITIZE=ON -B build-asan is not needed: use
# BUILD_DIR=build-asan scripts/build.sh -DSPECTRAL_SANITIZE=ON).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
