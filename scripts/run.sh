#!/usr/bin/env bash
# run.sh: the main job. Installs what is missing, builds, fetches Tiny Shakespeare, trains
# configs/shakespeare-5min.json (or the config given as $1) into runs/<config name>, plots the loss
# curves to a PNG, samples from the run's best checkpoint and evaluates it on the validation split.
# A previous run in runs/<config name> is kept: it is moved aside to runs/<config name>.<time>, and
# the script says so.
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
if [ -e "$out" ]; then
  kept="$out.$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$kept"
  echo "== the previous run in $out is kept: moved to $kept" >&2
fi
"$bin" train --config "$config" --set data.path="$data" --out "$out"
echo "== trained in $(( $(date +%s) - start )) s" >&2
/usr/bin/python3 "$root/scripts/plot_loss.py" "$out" -o "$out/loss.png" >/dev/null
echo "== loss curves: $out/loss.png" >&2
echo "== sample (temperature 0.8, 400 characters)" >&2
"$bin" sample --checkpoint "$out" --prompt "ROMEO:" --tokens 400 --temperature 0.8 --seed 7
echo "== validation split" >&2
"$bin" eval --checkpoint "$out" --text "$data" --split val
echo "loss curves: $out/loss.png"
