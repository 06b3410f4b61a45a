#!/usr/bin/env bash
# bench_vs_torch.sh: training throughput of spectral against PyTorch at the reference shape
# (V=65, d=128, 4 layers, T=256, B=16, same thread count), one mixer after the other so that both
# sides of each ratio are measured within the same minute, then a table of the ratios.
#
#   scripts/bench_vs_torch.sh                      # attention, fft, rot on all cores
#   MIXERS="fft" THREADS=2 STEPS=30 scripts/bench_vs_torch.sh
#
# Environment: SPECTRAL_BIN (default build/spectral), THREADS (default nproc), STEPS (20), WARMUP (3),
# MIXERS ("attention fft rot"), PYTHON (the interpreter with python3-torch; default /usr/bin/python3),
# TORCH_ENVS (default "default OMP_WAIT_POLICY=PASSIVE"): PyTorch runs once per entry — "default"
# is its out-of-the-box setting; OMP_WAIT_POLICY=PASSIVE stops its OpenMP threads from spinning,
# which on a shared, busy 2-core machine is several times faster (and is what spectral itself runs
# with: its main() re-executes itself with a passive policy unless the user set one). The ratio is
# taken against the fastest PyTorch run, so that it never flatters spectral.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${SPECTRAL_BIN:-$root/build/spectral}"
threads="${THREADS:-$(nproc)}"
steps="${STEPS:-20}"
warmup="${WARMUP:-3}"
mixers="${MIXERS:-attention fft rot}"
torch_envs="${TORCH_ENVS:-default OMP_WAIT_POLICY=PASSIVE}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
[[ -x "$bin" ]] || { echo "bench_vs_torch.sh: no spectral binary at $bin (scripts/build.sh, or set SPECTRAL_BIN)" >&2; exit 2; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "bench_vs_torch.sh: $PYTHON has no torch (apt-get install -y python3-torch)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "machine: nproc $(nproc), ${cpu:-unknown CPU}, threads $threads, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "shape: V=65, d=128, layers=4, heads=4, T=256, B=16; $warmup warm-up + $steps timed steps (median) on each side"

# the reference shape, pinned whatever configs/default.json says today
shape=(--set model.d_model=128 --set model.n_layers=4 --set model.n_heads=4 --set model.context=256
       --set model.mlp_ratio=4 --set model.pos_emb=learned --set model.tie_embeddings=true --set model.fft.gate=true
       --set model.rot.variant=lowrank --set model.rot.rank=0 --set train.batch_size=16)

declare -A spectral_tps torch_best torch_all
for m in $mixers; do
  echo
  echo "== $m: spectral bench train"
  "$bin" bench train "${shape[@]}" --set model.mixer="$m" --steps "$steps" --warmup "$warmup" --threads "$threads" \
    --csv "$tmp/s_$m.csv" | sed 's/^/   /'
  spectral_tps[$m]="$(awk -F, 'NR==2 {print $9}' "$tmp/s_$m.csv")"
  best=0
  all=""
  k=0
  for e in $torch_envs; do
    k=$((k + 1))
    echo "== $m: bench_torch.py ($e)"
    if [[ "$e" == default ]]; then envs=(); else envs=("$e"); fi
    env "${envs[@]}" "$PYTHON" "$root/scripts/bench_torch.py" --mixers "$m" --steps "$steps" --warmup "$warmup" \
      --threads "$threads" --csv "$tmp/t_${m}_$k.csv" | sed 's/^/   /'
    tps="$(awk -F, 'NR==2 {print $2}' "$tmp/t_${m}_$k.csv")"
    all+="${all:+, }$e $(printf '%.0f' "$tps")"
    best="$(awk -v a="$best" -v b="$tps" 'BEGIN {print (b > a) ? b : a}')"
  done
  torch_best[$m]="$best"
  torch_all[$m]="$all"
done

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s  %16s  %16s  %8s  %s\n' mixer "spectral tok/s" "torch tok/s" ratio "torch runs (tok/s)"
for m in $mixers; do
  s="${spectral_tps[$m]}"
  t="${torch_best[$m]}"
  printf '%-10s  %16.0f  %16.0f  %7.2fx  %s\n' "$m" "$s" "$t" "$(awk -v a="$s" -v b="$t" 'BEGIN {print a / b}')" \
    "${torch_all[$m]}"
done
echo "ratio = spectral / fastest PyTorch run"
