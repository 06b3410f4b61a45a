#!/usr/bin/python3
"""test_recall.py: the recall probe's scripts (scripts/make_recall.py, scripts/score_recall.py).

usage: test_recall.py --scripts DIR --workdir DIR

Checks that the generator is deterministic (same seed, same files; another seed, another text),
that every answer position holds what the format says (the query's value equals its pair's, exactly
D characters after it; the copy repeats its string exactly at its distance), that the queried key
occurs nowhere else in the window before the query, that every event in the text is listed, that
the distances are about equally frequent, and that the scorer counts accuracy and loss on the
answer characters only (and, with --query-keys, the characters before them). Exit status 0 when all hold, 1 with the failures listed."""
import argparse
import csv
import os
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def generate(scripts, workdir, name, *args):
    text, answers = os.path.join(workdir, name + ".txt"), os.path.join(workdir, name + ".csv")
    subprocess.run(["/usr/bin/python3", os.path.join(scripts, "make_recall.py"), "--out", text, "--answers", answers,
                    *args], check=True, capture_output=True)
    with open(text) as f:
        t = f.read()
    with open(answers, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(answers, "rb") as f:
        raw = f.read()
    return t, rows, raw, answers


def check_text(t, rows, window, distances, copy_distance, copy_length):
    answers = {int(r["position"]): r for r in rows}
    check(len(answers) == len(rows), "an answer position is listed twice")
    counts = {}
    for pos, r in answers.items():
        task, ch = r["task"], r["character"]
        counts[task] = counts.get(task, 0) + 1
        check(t[pos] == ch, f"position {pos}: text has {t[pos]!r}, answers say {ch!r}")
        kind, d = task.split("-")
        d = int(d)
        if kind == "recall":
            q, k = pos - 2, t[pos - 1]
            p = q - d
            check(d in distances, f"position {pos}: distance {d} not asked for")
            check(t[q] == "?" and k.isupper() and ch.isdigit(), f"position {pos}: not a query ?KV: {t[q:q + 3]!r}")
            check(t[p:p + 3] == "=" + k + ch, f"position {pos}: the pair {d} before is {t[p:p + 3]!r}, not ={k}{ch}")
            # the key occurs exactly twice (pair, query) in the window that ends with the query's value
            seen = [i for i in range(max(0, pos + 1 - window), pos + 1) if t[i] == k]
            check(seen == [p + 1, q + 1], f"position {pos}: key {k} at {seen} in the window, want {[p + 1, q + 1]}")
        else:
            check(kind == "copy" and d == copy_distance, f"position {pos}: unexpected task {task}")
            # the copied character sits in a repeat that starts with "]" exactly d after its "["
            start = next((s for s in range(pos, pos - copy_length, -1) if t[s - 1] == "]"), None)
            check(start is not None, f"position {pos}: no ']' within {copy_length} characters before")
            start = start if start is not None else pos
            check(t[start - 1 - d] == "[", f"position {pos}: no '[' {d} before the repeat's ']'")
            check(t[pos - d] == ch, f"position {pos}: the copied string has {t[pos - d]!r} at distance {d}, not {ch!r}")
            opens = [i for i in range(max(0, pos + 1 - window), pos + 1) if t[i] == "["]
            check(opens == [start - 1 - d], f"position {pos}: '[' at {opens} in the window, want one at {start - 1 - d}")
    # every event in the text is an answer's: each '?' and '=' belongs to one recall answer, each ']' starts copy answers
    queries = [i for i, c in enumerate(t) if c == "?"]
    check(sorted(queries) == sorted(p - 2 for p, r in answers.items() if r["task"].startswith("recall")),
          "a query in the text has no answer row, or the other way round")
    pairs = [i for i, c in enumerate(t) if c == "="]
    check(len(pairs) == len(queries), f"{len(pairs)} pairs but {len(queries)} queries")
    repeats = [i for i, c in enumerate(t) if c == "]"]
    check(len(repeats) * copy_length == counts.get("copy-%d" % copy_distance, 0), "copy answers do not match the ']'s")
    check(set(t) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=?[]"), "unexpected characters")
    recall = [counts.get("recall-%d" % d, 0) for d in distances]
    check(min(recall) >= 50 and max(recall) - min(recall) <= 1, f"recall answers per distance not balanced: {recall}")
    check(counts.get("copy-%d" % copy_distance, 0) >= 10 * copy_length, f"too few copies: {counts}")


def check_scorer(scripts, workdir):
    # a per-char CSV in the format of spectral eval, with a quoted comma and a quoted newline, and an
    # answers file naming three of its positions: accuracy and loss over those three only
    per = os.path.join(workdir, "per.csv")
    with open(per, "w") as f:
        f.write('position,character,loss,correct\n1,"a",0.500000,1\n2,",",1.000000,0\n3,"\n",2.000000,0\n'
                '4,"7",0.250000,1\n5,"3",3.000000,0\n6,"x",0.125000,1\n')
    ans = os.path.join(workdir, "ans.csv")
    with open(ans, "w") as f:
        f.write("position,task,character\n4,recall-16,7\n5,recall-16,3\n6,copy-256,x\n")
    out = subprocess.run(["/usr/bin/python3", os.path.join(scripts, "score_recall.py"), per, ans],
                         capture_output=True, text=True)
    check(out.returncode == 0, f"score_recall.py failed: {out.stderr}")
    check(out.stdout == "task,answers,accuracy,mean_loss\nrecall-16,2,0.5000,1.6250\ncopy-256,1,1.0000,0.1250\n",
          f"score_recall.py printed {out.stdout!r}")
    # --query-keys: the character before each recall answer, as task key-D (positions 3 and 4 here)
    out = subprocess.run(["/usr/bin/python3", os.path.join(scripts, "score_recall.py"), per, ans, "--query-keys"],
                         capture_output=True, text=True)
    check(out.stdout == "task,answers,accuracy,mean_loss\nrecall-16,2,0.5000,1.6250\nkey-16,2,0.5000,1.1250\n"
                        "copy-256,1,1.0000,0.1250\n", f"score_recall.py --query-keys printed {out.stdout!r}")
    # a text that is not the one the answers were written for is refused
    with open(ans, "w") as f:
        f.write("position,task,character\n4,recall-16,8\n")
    out = subprocess.run(["/usr/bin/python3", os.path.join(scripts, "score_recall.py"), per, ans],
                         capture_output=True, text=True)
    check(out.returncode == 2 and "position 4" in out.stderr, f"a wrong answer character was not refused: {out.stderr!r}")


def main(argv):
    p = argparse.ArgumentParser(prog="test_recall.py")
    p.add_argument("--scripts", required=True)
    p.add_argument("--workdir", required=True)
    a = p.parse_args(argv)
    a.scripts = os.path.abspath(a.scripts)
    os.makedirs(a.workdir, exist_ok=True)
    args = ["--chars", "60000", "--window", "1280"]
    t1, rows1, raw1, _ = generate(a.scripts, a.workdir, "a", *args, "--seed", "5")
    t2, _, raw2, _ = generate(a.scripts, a.workdir, "b", *args, "--seed", "5")
    t3, _, _, _ = generate(a.scripts, a.workdir, "c", *args, "--seed", "6")
    check(t1 == t2 and raw1 == raw2, "same seed, different files")
    check(t1 != t3, "another seed, the same text")
    check(len(t1) == 60000, f"text length {len(t1)}, asked for 60000")
    check_text(t1, rows1, 1280, [16, 64, 256, 1024], 256, 16)
    # other distances, window and copy length
    t4, rows4, _, _ = generate(a.scripts, a.workdir, "d", "--chars", "20000", "--window", "200", "--distances", "5,40",
                               "--copy-distance", "100", "--copy-length", "4", "--seed", "2")
    check_text(t4, rows4, 200, [5, 40], 100, 4)
    # bad arguments: exit 2 naming the argument
    bad = subprocess.run(["/usr/bin/python3", os.path.join(a.scripts, "make_recall.py"), "--out", "x", "--answers", "y",
                          "--window", "1000"], capture_output=True, text=True, cwd=a.workdir)
    check(bad.returncode == 2 and "--window 1000" in bad.stderr, f"a window below the longest distance: {bad.stderr!r}")
    check_scorer(a.scripts, a.workdir)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
