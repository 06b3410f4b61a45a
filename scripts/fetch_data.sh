#!/usr/bin/env bash
# fetch_data.sh: puts the Tiny Shakespeare text at data/tinyshakespeare/input.txt and checks its
# SHA-256, and prints its path. Uses, in order: SPECTRAL_DATA=/path/to/file (a copy you have), a copy
# already in place, a copy in a workspace folder beside the checkout (shared/data/tinyshakespeare.txt
# next to it), then a download from char-rnn's public location. No network and no local copy: one
# clear message and exit 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/data/tinyshakespeare/input.txt"
sha="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"

ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha" ]; }

mkdir -p "$(dirname "$dest")"
if [ -n "${SPECTRAL_DATA:-}" ]; then
  if ! ok "$SPECTRAL_DATA"; then
    echo "fetch_data: SPECTRAL_DATA=$SPECTRAL_DATA is missing or its SHA-256 is not $sha" >&2
    exit 1
  fi
  cp "$SPECTRAL_DATA" "$dest.tmp" && mv "$dest.tmp" "$dest"
elif ok "$dest"; then
  :
elif ok "$(dirname "$root")/shared/data/tinyshakespeare.txt"; then
  cp "$(dirname "$root")/shared/data/tinyshakespeare.txt" "$dest.tmp" && mv "$dest.tmp" "$dest"
else
  if ! command -v curl >/dev/null && ! command -v wget >/dev/null; then
    echo "fetch_data: neither curl nor wget is installed; set SPECTRAL_DATA=/path/to/input.txt" >&2
    exit 1
  fi
  if command -v curl >/dev/null; then
    curl -fsSL --max-time 60 -o "$dest.tmp" "$url" || true
  else
    wget -q -T 60 -O "$dest.tmp" "$url" || true
  fi
  if ! ok "$dest.tmp"; then
    rm -f "$dest.tmp"
    echo "fetch_data: could not download Tiny Shakespeare from $url (no network?) and no local copy found;" >&2
    echo "            set SPECTRAL_DATA=/path/to/input.txt (SHA-256 $sha)" >&2
    exit 1
  fi
  mv "$dest.tmp" "$dest"
fi
echo "$dest"
