#!/usr/bin/env bash
# compare.sh BUDGET_MINUTES [CONTEXT]: trains attention, fft, each rot variant, local and the hybrid
# for the same wall-clock budget (train.time_limit_s, with the learning rate annealed over that
# budget: train.schedule = "time") from the configs in configs/, at the given context (default 256),
# evaluates each best checkpoint on the validation split, and writes
# runs/compare-<budget>m-ctx<context>/table.md (parameters, tokens seen, tokens/s, val loss, bpc)
# and plot.png (every run's validation loss against wall time).
# MIXERS="attention fft" (names of configs/*.json) restricts the runs. A previous comparison in that
# directory is kept: it is moved aside to runs/compare-<budget>m-ctx<context>.<time>, and the script says so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
budget="${1:?usage: compare.sh BUDGET_MINUTES [CONTEXT]}"
context="${2:-256}"
bin="$root/build/spectral"
[ -x "$bin" ] || BUILD_DIR="$root/build" "$root/scripts/build.sh"
data="$("$root/scripts/fetch_data.sh")"
out="$root/runs/compare-${budget}m-ctx${context}"
if [ -e "$out" ]; then
  kept="$out.$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$kept"
  echo "== the previous comparison in $out is kept: moved to $kept" >&2
fi
mkdir -p "$out"
limit=$(awk -v m="$budget" 'BEGIN { printf "%d", m * 60 }')
# at long contexts keep tokens per step constant (16 x 256) so every mixer sees the same batch size in tokens
batch=$(( 4096 / context )); [ "$batch" -ge 1 ] || batch=1
read -r -a runs <<< "${MIXERS:-attention fft rot-lowrank rot-headphase rot-dynamic local hybrid}"
for name in "${runs[@]}"; do
  [ -f "$root/configs/$name.json" ] || { echo "compare.sh: no config configs/$name.json (MIXERS names configs)" >&2; exit 2; }
done
{
  echo "<!-- ${budget} min per run, context $context, batch $batch, $(nproc) cores, $(date -u +%Y-%m-%d), load before: $(cut -d' ' -f1-3 /proc/loadavg) -->"
  echo "| mixer | parameters | tokens seen | tokens/s | val loss (nats/char) | bpc |"
  echo "|---|---|---|---|---|---|"
} > "$out/table.md"
for name in "${runs[@]}"; do
  dir="$out/$name"
  echo "== $name: ${budget} min, context $context" >&2
  "$bin" train --config "$root/configs/$name.json" --out "$dir" --no-progress \
    --set data.path="$data" --set train.time_limit_s="$limit" --set train.schedule=time --set train.steps=1000000 \
    --set model.context="$context" --set train.batch_size="$batch" --set train.eval_interval=100 \
    2> "$dir.log" || { echo "$name failed, see $dir.log" >&2; continue; }
  params=$(grep -o 'model: [0-9]* parameters' "$dir.log" | grep -o '[0-9]*')
  last=$(grep '"tokens_per_s"' "$dir/metrics.jsonl" | tail -1)
  steps=$(echo "$last" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])')
  tps=$(echo "$last" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_s"]))')
  ev=$("$bin" eval --checkpoint "$dir/best.safetensors" --text "$data" --split val --json)
  loss=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["loss"])')
  bpc=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["bpc"])')
  echo "| $name | $params | $(( steps * batch * context )) | $tps | $loss | $bpc |" >> "$out/table.md"
done
dirs=()
for name in "${runs[@]}"; do [ -f "$out/$name/metrics.jsonl" ] && dirs+=("$out/$name"); done
/usr/bin/python3 "$root/scripts/plot_loss.py" "${dirs[@]}" -o "$out/plot.png" >/dev/null
cat "$out/table.md"
echo "plot: $out/plot.png"
