#!/usr/bin/env bash
# run.sh: the main job. Installs what is missing, builds, fetches Tiny Shakespeare, trains
# configs/shakespeare-5min.json (or the config given as $1), plots the loss curves to a PNG, samples from
# the best checkpoint and evaluates it on the validation split.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="${1:-$root/configs/shakespeare-5min.json}"
name="$(basename "$config" .json)"
out="$root/runs/$name"
"$root/scripts/install_deps.sh" python3-matplotlib
BUILD_DIR="$root/build" "$root/scripts/build.sh"
data="$("$root/scripts/fetch_data.sh")"
bin="$root/build/spectral"
cd "$root"
echo "== training $config -> $out" >&2
start=$(date +%s)
"$bin" train --config "$config" --set data.path="$data" --out "$out" --overwrite
echo "== trained in $(( $(date +%s) - start )) s" >&2
/usr/bin/python3 "$root/scripts/plot_loss.py" "$out/loss.png" "$out" >/dev/null
echo "== loss curves: $out/loss.png" >&2
echo "== sample (temperature 0.8, 400 characters)" >&2
"$bin" sample --checkpoint "$out/best.safetensors" --prompt "ROMEO:" --tokens 400 --temperature 0.8 --seed 7
echo "== validation split" >&2
"$bin" eval --checkpoint "$out/best.safetensors" --text "$data" --split val
echo "loss curves: $out/loss.png"
