#!/usr/bin/env bash
# compare.sh [--seeds S] BUDGET_MINUTES [CONTEXT]: trains attention, fft, each rot variant,
# local and the hybrid for the same wall-clock budget (train.time_limit_s, with the learning rate
# annealed over that budget: train.schedule = "time") from the configs in configs/, at the given
# context (default 256), each with S seeds (train.seed = 1..S; default 1), evaluates each best
# checkpoint on the validation split, and writes to runs/compare-<budget>m-ctx<context>/.
# compare.sh [--seeds S] --steps N [CONTEXT]: the budget is N optimizer steps instead (equal tokens
# seen, the learning rate annealed over the steps): the result no longer depends on the machine or its
# load, and the directory is runs/compare-<N>steps-ctx<context>/. Either way it holds: runs.csv (one row per run),
# table.md (per mixer: parameters, tokens seen, tokens/s, and val loss and bpc as mean ± sample
# standard deviation over the seeds, then which differences from the best mixer exceed the noise)
# and plot.png (every run's validation loss against wall time).
# Environment: MIXERS="attention fft" (names of configs/*.json) restricts the runs; THREADS=N sets each
# run's --threads; TEXT=FILE trains and scores on that text instead of Tiny Shakespeare; OUT=DIR writes
# under DIR instead of runs/; SPECTRAL=FILE is the binary (default build/spectral). A previous
# comparison in the same directory is kept: it is moved aside to <directory>.<time>, and the script says so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage="usage: compare.sh [--seeds S] BUDGET_MINUTES [CONTEXT] | compare.sh [--seeds S] --steps N [CONTEXT]"
seeds=1
steps=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="${2:?$usage}"; shift 2 ;;
    --seeds=*) seeds="${1#--seeds=}"; shift ;;
    --steps) steps="${2:?$usage}"; shift 2 ;;
    --steps=*) steps="${1#--steps=}"; shift ;;
    -*) echo "$usage" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --seeds must be a positive integer, got $seeds" >&2; exit 2; }
if [ -n "$steps" ]; then
  [[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --steps must be a positive integer, got $steps" >&2; exit 2; }
  [ ${#args[@]} -le 1 ] || { echo "$usage" >&2; exit 2; }
  context="${args[0]:-256}"
  tag="${steps}steps"
  budget_sets=(--set train.schedule=steps --set train.steps="$steps" --set train.time_limit_s=0)
  budget_text="$steps steps"
else
  budget="${args[0]:?$usage}"
  [[ "$budget" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "compare.sh: BUDGET_MINUTES must be a number of minutes, got $budget" >&2; exit 2; }
  context="${args[1]:-256}"
  tag="${budget}m"
  budget_text="${budget} min"
  limit=$(awk -v m="$budget" 'BEGIN { printf "%d", m * 60 }')
  [ "$limit" -ge 1 ] || { echo "compare.sh: BUDGET_MINUTES must be at least one second (0.017), got $budget" >&2; exit 2; }
  budget_sets=(--set train.time_limit_s="$limit" --set train.schedule=time --set train.steps=1000000)
fi
[[ "$context" =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: CONTEXT must be a positive integer, got $context" >&2; exit 2; }
bin="${SPECTRAL:-$root/build/spectral}"
[ -n "${SPECTRAL:-}" ] || [ -x "$bin" ] || BUILD_DIR="$root/build" "$root/scripts/build.sh"
[ -x "$bin" ] || { echo "compare.sh: no spectral binary at $bin" >&2; exit 2; }
if [ -n "${TEXT:-}" ]; then
  [ -f "$TEXT" ] || { echo "compare.sh: TEXT=$TEXT is not a file" >&2; exit 2; }
  data="$TEXT"
else
  data="$("$root/scripts/fetch_data.sh")"
fi
out="${OUT:-$root/runs}/compare-${tag}-ctx${context}"
if [ -e "$out" ]; then
  kept="$out.$(date +%Y%m%d-%H%M%S)"
  mv "$out" "$kept"
  echo "== the previous comparison in $out is kept: moved to $kept" >&2
fi
mkdir -p "$out"
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
    echo "== $name, seed $seed: $budget_text, context $context" >&2
    "$bin" train --config "$root/configs/$name.json" --out "$dir" --overwrite --no-progress \
      --set data.path="$data" "${budget_sets[@]}" ${THREADS:+--threads "$THREADS"} \
      --set model.context="$context" --set train.batch_size="$batch" --set train.eval_interval=100 \
      --set train.seed="$seed" 2> "$dir.log" || { echo "$name seed $seed failed, see $dir.log" >&2; continue; }
    params=$(grep -o 'model: [0-9]* parameters' "$dir.log" | grep -o '[0-9]*')
    # the run's own summary line: "done|stopped: N steps in Xs, R tokens/s, ..."
    summary=$(grep -Eo '(done|stopped): [0-9]+ steps in [0-9.]+s, [0-9]+ tokens/s' "$dir.log" | tail -1)
    [ -n "$summary" ] || { echo "$name seed $seed: no summary line in $dir.log" >&2; continue; }
    steps=$(echo "$summary" | awk '{ print $2 }')
    tps=$(echo "$summary" | awk '{ print $6 }')
    ev=$("$bin" eval --checkpoint "$dir/best.safetensors" --text "$data" --split val --json)
    loss=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["loss"])')
    bpc=$(echo "$ev" | /usr/bin/python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["bpc"])')
    echo "$name,$seed,$params,$(( steps * batch * context )),$tps,$loss,$bpc" >> "$out/runs.csv"
  done
done
header="<!-- $budget_text per run, context $context, batch $batch, $seeds seed(s), $(nproc) cores, $(date -u +%Y-%m-%d), load before: $(cut -d' ' -f1-3 /proc/loadavg) -->"
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
group=(); [ "$seeds" -gt 1 ] && group=(--group-seeds)
/usr/bin/python3 "$root/scripts/plot_loss.py" "${group[@]}" "${dirs[@]}" -o "$out/plot.png" >/dev/null
cat "$out/table.md"
echo "plot: $out/plot.png"
