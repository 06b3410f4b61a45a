#!/usr/bin/env bash
# compare.sh [--seeds S] BUDGET_MINUTES [CONTEXT]: trains attention, fft, each rot variant, local and
# the hybrid for the same wall-clock budget (train.time_limit_s, with the learning rate annealed over
# that budget: train.schedule = "time") from the configs in configs/, at the given context (default
# 256), each with S seeds (train.seed = 1..S; default 1), evaluates each best checkpoint on the
# validation split, and writes to runs/compare-<budget>m-ctx<context>/: runs.csv (one row per run),
# table.md (per mixer: parameters, tokens seen, tokens/s, and val loss and bpc as mean ± sample
# standard deviation over the seeds, then which differences from the best mixer exceed the noise)
# and plot.png (every run's validation loss against wall time).
# MIXERS="attention fft" (names of configs/*.json) restricts the runs. A previous comparison in that
# directory is kept: it is moved aside to runs/compare-<budget>m-ctx<context>.<time>, and the script says so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage="usage: compare.sh [--seeds S] BUDGET_MINUTES [CONTEXT]"
seeds=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="${2:?$usage}"; shift 2 ;;
    --seeds=*) seeds="${1#--seeds=}"; shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --seeds must be a positive integer, got $seeds" >&2; exit 2; }
budget="${args[0]:?$usage}"
context="${args[1]:-256}"
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
echo "mixer,seed,parameters,tokens_seen,tokens_per_s,val_loss,bpc" > "$out/runs.csv"
for name in "${runs[@]}"; do
  for seed in $(seq 1 "$seeds"); do
    dir="$out/$name-s$seed"
    echo "== $name, seed $seed: ${budget} min, context $context" >&2
    "$bin" train --config "$root/configs/$name.json" --out "$dir" --overwrite --no-progress \
      --set data.path="$data" --set train.time_limit_s="$limit" --set train.schedule=time --set train.steps=1000000 \
      --set model.context="$context" --set train.batch_size="$batch" --set train.eval_interval=100 \
      --set train.seed="$seed" 2> "$dir.log" || { echo "$name seed $seed failed, see $dir.log" >&2; continue; }
    params=$(grep -o 'model: [0-9]* parameters' "$dir.log" | grep -o '[0-9]*')
    last=$(grep '"tokens_per_s"' "$dir/metrics.jsonl" | tail -1)
    steps=$(echo "$last" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])')
    tps=$(echo "$last" | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["tokens_per_s"]))')
    ev=$("$bin" eval --checkpoint "$dir/best.safetensors" --text "$data" --split val --json)
    loss=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["loss"])')
    bpc=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["bpc"])')
    echo "$name,$seed,$params,$(( steps * batch * context )),$tps,$loss,$bpc" >> "$out/runs.csv"
  done
done
header="<!-- ${budget} min per run, context $context, batch $batch, $seeds seed(s), $(nproc) cores, $(date -u +%Y-%m-%d), load before: $(cut -d' ' -f1-3 /proc/loadavg) -->"
# mean ± sample standard deviation per mixer; a difference from the best mixer counts as larger than
# the noise when it exceeds twice its standard error, sqrt(s1²/n1 + s2²/n2) (needs 2+ seeds each)
/usr/bin/python3 - "$out/runs.csv" "$header" > "$out/table.md" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
order, by = [], {}
for r in rows:
    if r["mixer"] not in by:
        order.append(r["mixer"])
    by.setdefault(r["mixer"], []).append(r)
def stats(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, s
def pm(xs, fmt="%.4f"):
    m, s = stats(xs)
    return fmt % m + ("" if math.isnan(s) else " ± " + fmt % s)
print(sys.argv[2])
print("| mixer | seeds | parameters | tokens seen | tokens/s | val loss (nats/char) | bpc |")
print("|---|---|---|---|---|---|---|")
for name in order:
    rs = by[name]
    f = lambda k: [float(r[k]) for r in rs]
    print("| %s | %d | %s | %s | %s | %s | %s |" % (name, len(rs), rs[0]["parameters"], pm(f("tokens_seen"), "%.0f"),
                                                 pm(f("tokens_per_s"), "%.0f"), pm(f("val_loss")), pm(f("bpc"))))
if order:
    loss = {n: [float(r["val_loss"]) for r in by[n]] for n in order}
    best = min(order, key=lambda n: stats(loss[n])[0])
    print()
    print("Differences in val loss from the best, %s (larger than the noise: more than twice the standard error):" % best)
    for n in order:
        if n == best:
            continue
        (m1, s1), (m2, s2) = stats(loss[best]), stats(loss[n])
        if len(loss[best]) < 2 or len(loss[n]) < 2:
            verdict = "noise unknown (one seed)"
        else:
            se = math.sqrt(s1 ** 2 / len(loss[best]) + s2 ** 2 / len(loss[n]))
            verdict = ("larger than the noise" if m2 - m1 > 2 * se else "within the noise") + " (standard error %.4f)" % se
        print("- %s: +%.4f, %s" % (n, m2 - m1, verdict))
PY
dirs=()
for name in "${runs[@]}"; do
  for seed in $(seq 1 "$seeds"); do [ -f "$out/$name-s$seed/metrics.jsonl" ] && dirs+=("$out/$name-s$seed"); done
done
/usr/bin/python3 "$root/scripts/plot_loss.py" "${dirs[@]}" -o "$out/plot.png" >/dev/null
cat "$out/table.md"
echo "plot: $out/plot.png"
