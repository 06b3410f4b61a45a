#!/usr/bin/env bash
# install_deps.sh: installs the Debian packages spectral builds, tests and plots with, if missing.
# Needs root (apt-get). Extra package names may be passed as arguments.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcli11-dev libfftw3-dev libopenblas-dev nlohmann-json3-dev
      libspdlog-dev libgtest-dev libopenmpi-dev openmpi-bin python3-torch curl ca-certificates "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
