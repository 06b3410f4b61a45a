#!/usr/bin/env bash
# test_compare.sh SPECTRAL_BINARY: runs scripts/compare.sh end to end on a small generated text, with
# two mixers, two seeds and an equal budget of steps, and checks what it writes: one row per run, a
# table of mean ± spread per mixer with a verdict on the noise, a plot, the seeds giving different
# runs, and a second comparison keeping the first. Then bad arguments: exit 2 and a message.
set -euo pipefail
bin="${1:?usage: test_compare.sh SPECTRAL_BINARY}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 - "$work/text.txt" <<'PY'
import random, sys
r = random.Random(7)
words = ["the", "king", "shall", "not", "be", "moved", "and", "yet", "my", "lord", "speak", "again"]
with open(sys.argv[1], "w") as f:
    for _ in range(3000):
        f.write(" ".join(r.choice(words) for _ in range(r.randint(3, 9))) + ".\n")
PY

export SPECTRAL="$bin" TEXT="$work/text.txt" OUT="$work/runs" THREADS=1 MIXERS="rot-dynamic fft"
"$root/scripts/compare.sh" --seeds 2 --steps 3 32 > "$work/out.txt" 2> "$work/err.txt" || { cat "$work/err.txt" >&2; fail "compare.sh failed"; }
dir="$work/runs/compare-3steps-ctx32"
[ -f "$dir/runs.csv" ] || fail "no runs.csv in $dir"
rows=$(( $(wc -l < "$dir/runs.csv") - 1 ))
[ "$rows" -eq 4 ] || fail "runs.csv has $rows rows, want 4 (2 mixers x 2 seeds)"
/usr/bin/python3 - "$dir/runs.csv" <<'PY' || fail "runs.csv content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [(r["mixer"], r["seed"]) for r in rows] == [("rot-dynamic", "1"), ("rot-dynamic", "2"), ("fft", "1"), ("fft", "2")], rows
for r in rows:
    # 3 steps of 128 windows of 32 characters (compare.sh keeps 4,096 characters per step)
    assert int(r["tokens_seen"]) == 3 * 128 * 32, r
    assert 0 < float(r["val_loss"]) < 10, r
by = {}
for r in rows:
    by.setdefault(r["mixer"], []).append(float(r["val_loss"]))
for m, xs in by.items():
    assert xs[0] != xs[1], "seeds 1 and 2 gave the same loss for %s: %s" % (m, xs)
PY
grep -q "| rot-dynamic | 2 |" "$dir/table.md" || fail "table.md has no 2-seed row for rot-dynamic"
grep -q " ± " "$dir/table.md" || fail "table.md gives no spread"
grep -Eq "(larger than|within) the noise \(standard error" "$dir/table.md" || fail "table.md has no verdict on the noise"
grep -q "3 steps per run" "$dir/table.md" || fail "table.md does not state the budget"
[ -s "$dir/plot.png" ] || fail "no plot.png"
cmp -s "$dir/table.md" <(sed -n '/^<!--/,$p' "$work/out.txt" | head -n "$(wc -l < "$dir/table.md")") || fail "stdout does not show table.md"

# a second comparison into the same place keeps the first one
MIXERS="rot-dynamic" "$root/scripts/compare.sh" --steps 3 32 > /dev/null 2> "$work/err2.txt" || fail "second compare.sh failed"
grep -q "is kept: moved to" "$work/err2.txt" || fail "the previous comparison was not reported as kept"
[ "$(ls -d "$work/runs/compare-3steps-ctx32."* | wc -l)" -eq 1 ] || fail "the previous comparison was not moved aside"

# a wall-clock budget (0.04 minutes = 2 s per run): the learning rate is annealed over the time
MIXERS="rot-dynamic" "$root/scripts/compare.sh" 0.04 32 > /dev/null 2> "$work/err3.txt" || { cat "$work/err3.txt" >&2; fail "compare.sh with a budget in minutes failed"; }
tdir="$work/runs/compare-0.04m-ctx32"
[ "$(( $(wc -l < "$tdir/runs.csv") - 1 ))" -eq 1 ] || fail "minutes budget: runs.csv does not have one row"
grep -q "0.04 min per run" "$tdir/table.md" || fail "minutes budget: table.md does not state the budget: $(head -5 "$tdir/table.md")"
grep -Eq '"time_limit_s": *2(\.0)?[,}]?$' "$tdir/rot-dynamic-s1/config.json" || fail "minutes budget: the run was not given a 2-second limit"

# bad arguments: exit 2 with a message, nothing run
expect2() {
  local what="$1"; shift
  set +e; "$@" > /dev/null 2> "$work/bad.txt"; local rc=$?; set -e
  [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
  grep -q "$what" "$work/bad.txt" || fail "$what: message was: $(cat "$work/bad.txt")"
}
expect2 "seeds must be a positive integer" "$root/scripts/compare.sh" --seeds 0 --steps 3
expect2 "steps must be a positive integer" "$root/scripts/compare.sh" --steps -4
expect2 "BUDGET_MINUTES must be a number" "$root/scripts/compare.sh" five
expect2 "at least one second" "$root/scripts/compare.sh" 0.001
expect2 "CONTEXT must be a positive integer" "$root/scripts/compare.sh" --steps 3 0
expect2 "no config" env MIXERS="nonesuch" "$root/scripts/compare.sh" --steps 3 32
expect2 "is not a file" env TEXT="$work/missing.txt" "$root/scripts/compare.sh" --steps 3 32
echo "compare.sh: all checks passed"
