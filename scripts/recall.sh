#!/usr/bin/env bash
# recall.sh [--seeds S]: what each mixer can recall. Generates training and test texts with
# scripts/make_recall.py — key-value pairs "=KV" asked again as "?KV" exactly D characters later, and
# a random string repeated exactly 64 characters later — in two groups: the short distances (D = 16
# and 64, and the copy) at context 256, the long ones (D = 256 and 1024) at context 1280, the
# distances of a group mixed in one text so that the distance to look back is known only by the key.
# Per seed (train.seed = 1..S, default 3), group and mixer it trains one model for the group's
# number of steps (the same tokens for every mixer: the budget does not depend on the machine's
# speed), scores the group's test text with `spectral eval --per-char`, and with
# scripts/score_recall.py and scripts/recall_table.py writes to runs/recall/: runs.csv (one row per
# mixer, seed and task; tasks key-D are the queries' key characters), table.md (per mixer and task:
# accuracy on the answer characters and their mean loss, mean ± sample standard deviation over the
# seeds) and plot.png.
# MIXERS="attention fft" (names of configs/*.json; default attention fft rot-dynamic local hybrid)
# restricts the runs; every model is the config's mixer(s) at the size below, whatever else the
# config says. RECALL_STEPS_SHORT and RECALL_STEPS_LONG change the budgets (default 400 and 100).
# A previous run directory is moved aside to runs/recall.<time>, and the script says so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage="usage: recall.sh [--seeds S]"
seeds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="${2:?$usage}"; shift 2 ;;
    --seeds=*) seeds="${1#--seeds=}"; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || { echo "recall.sh: --seeds must be a positive integer, got $seeds" >&2; exit 2; }
# The model, the same for every mixer: whatever else a config says, d_model 64, 4 layers, no dropout.
d_model=64 n_layers=4
# Two task groups, each with its own texts, context and budget (the same for every mixer): the short
# distances at context 256, the long ones at context 1280 (the longest distance plus the pair with
# room to spare). Keys are unique within one context before each query. Per group: name, make_recall.py
# arguments, context, batch, steps, eval stride (every answer is predicted from at least context −
# stride characters of history: more than its distance plus the pair).
groups=(
  "short|--distances 16,64 --copy-distance 64 --copy-length 8|256|8|${RECALL_STEPS_SHORT:-400}|128"
  "long|--distances 256,1024 --copy-length 0|1280|4|${RECALL_STEPS_LONG:-100}|224"
)
bin="$root/build/spectral"
[ -x "$bin" ] || BUILD_DIR="$root/build" "$root/scripts/build.sh"
read -r -a runs <<< "${MIXERS:-attention fft rot-dynamic local hybrid}"
for name in "${runs[@]}"; do
  [ -f "$root/configs/$name.json" ] || { echo "recall.sh: no config configs/$name.json (MIXERS names configs)" >&2; exit 2; }
done
out="$root/runs/recall"
if [ -e "$out" ]; then
  kept="$out.$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$kept"
  echo "== the previous recall run in $out is kept: moved to $kept" >&2
fi
mkdir -p "$out"
for g in "${groups[@]}"; do
  IFS='|' read -r group gen context batch steps stride <<< "$g"
  # shellcheck disable=SC2086  # gen is a list of arguments
  /usr/bin/python3 "$root/scripts/make_recall.py" --out "$out/$group-train.txt" --answers "$out/$group-train-answers.csv" \
    --chars 1000000 --seed 1 --window "$context" $gen
  # shellcheck disable=SC2086
  /usr/bin/python3 "$root/scripts/make_recall.py" --out "$out/$group-test.txt" --answers "$out/$group-test-answers.csv" \
    --chars 40000 --seed 2 --window "$context" $gen
done
echo "mixer,seed,task,answers,accuracy,mean_loss" > "$out/runs.csv"
# seed by seed, so that a run stopped early has every mixer at the seeds it finished
for seed in $(seq 1 "$seeds"); do
  for g in "${groups[@]}"; do
    IFS='|' read -r group gen context batch steps stride <<< "$g"
    for name in "${runs[@]}"; do
      dir="$out/$name-$group-s$seed"
      echo "== $name, $group distances, seed $seed: $steps steps of $batch x $context characters" >&2
      start=$(date +%s)
      "$bin" train --config "$root/configs/$name.json" --out "$dir" --overwrite --no-progress \
        --set data.path="$out/$group-train.txt" --set model.context="$context" --set model.d_model="$d_model" \
        --set model.n_layers="$n_layers" --set model.dropout=0 --set train.batch_size="$batch" \
        --set train.steps="$steps" --set train.warmup_steps=40 --set train.time_limit_s=0 --set train.schedule=steps \
        --set train.eval_interval=100 --set train.eval_batches=4 --set train.seed="$seed" 2> "$dir.log" \
        || { echo "$name $group seed $seed failed, see $dir.log" >&2; continue; }
      "$bin" eval --checkpoint "$dir/last.safetensors" --text "$out/$group-test.txt" --stride "$stride" \
        --per-char "$dir/per-char.csv" >> "$dir.log" 2>&1
      /usr/bin/python3 "$root/scripts/score_recall.py" "$dir/per-char.csv" "$out/$group-test-answers.csv" \
        --query-keys --prefix "$name,$seed," >> "$out/runs.csv"
      echo "   $(( $(date +%s) - start )) s" >&2
    done
  done
done
budgets=""
for g in "${groups[@]}"; do
  IFS='|' read -r group gen context batch steps stride <<< "$g"
  budgets+="$group: $steps steps x $batch x $context characters ($(( steps * batch * context )) tokens), eval stride $stride; "
done
params=""
for name in "${runs[@]}"; do
  params+="$name $(grep -ho 'model: [0-9]* parameters' "$out/$name"-short-s1.log 2>/dev/null | grep -o '[0-9]*'), "
done
header="<!-- $budgets d_model $d_model, $n_layers layers (parameters: ${params%, }), $seeds seed(s), $(date -u +%Y-%m-%d) -->"
/usr/bin/python3 "$root/scripts/recall_table.py" "$out/runs.csv" --header "$header" --plot "$out/plot.png" > "$out/table.md"
cat "$out/table.md"
echo "plot: $out/plot.png"
