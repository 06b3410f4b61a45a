#!/usr/bin/python3
"""make_recall.py: writes a synthetic associative-recall text and the positions of its answers.

usage: make_recall.py --out TEXT --answers CSV [--chars N] [--seed S] [--window W]
                      [--distances 16,64,256,1024] [--copy-distance 256] [--copy-length 16]

The text is one line of random filler (lowercase letters) into which events are written:
  pair   "=KV"  a key K (uppercase letter) bound to a value V (digit), and
  query  "?KV"  the same key asked again exactly D characters later (from "=" to "?", so also
                from the pair's V to the query's V): V is the answer. D is one of --distances.
  copy   "[s" then "]s"  a random lowercase string s of --copy-length characters, and its repeat
                exactly --copy-distance characters later (from "[" to "]"): the repeat is the answer.
Several pairs are open at once and their queries come in another order than the pairs, so the
distance to look back is known only by matching the key. Within the W characters before each query
(W = --window, the model's context) the queried key occurs nowhere but in its own pair, and within
the W characters before each "]" there is no other copy: every answer is determined by the text.
The answers CSV has one row per answer character: position (0-based index of the character in the
text, as in `spectral eval --per-char`), task (recall-D or copy-D), character. Same arguments,
same files (the only randomness is random.Random(seed))."""
import argparse
import random
import string
import sys

KEYS = string.ascii_uppercase
VALUES = string.digits
FILLER = string.ascii_lowercase
PAIR, QUERY, COPY_OPEN, COPY_REPEAT = "=", "?", "[", "]"


def generate(n, seed, window, distances, copy_distance, copy_length):
    """Returns (text, answers) with answers a list of (position, task, character)."""
    rng = random.Random(seed)
    cells = [None] * n
    answers = []
    # the last position each key (and the one copy channel) occupies: a new use must put that
    # position more than `window` characters before its own query
    last_use = {k: -(10 ** 9) for k in KEYS}
    copy_last = -(10 ** 9)
    # the recall distances take turns in rounds of random order, so that each gets as many pairs
    # (a short distance needs its key unused for longer and would otherwise lose to the long ones);
    # a copy is written whenever the copy channel is free
    turn = []

    def free(a, length):
        return a + length <= n and all(c is None for c in cells[a:a + length])

    for p in range(n):
        if cells[p] is not None or rng.random() < 0.5:
            continue
        q = p + copy_distance
        if copy_length > 0 and copy_last < q - window and free(p, 1 + copy_length) and free(q, 1 + copy_length):
            s = [rng.choice(FILLER) for _ in range(copy_length)]
            cells[p:p + 1 + copy_length] = [COPY_OPEN] + s
            cells[q:q + 1 + copy_length] = [COPY_REPEAT] + s
            copy_last = q + copy_length
            answers.extend((q + 1 + i, "copy-%d" % copy_distance, c) for i, c in enumerate(s))
            continue
        if not turn:
            turn = rng.sample(distances, len(distances))
        d = turn[0]
        q = p + d
        if not (free(p, 3) and free(q, 3)):
            continue
        keys = [k for k in KEYS if last_use[k] < q - window]
        if not keys:
            continue
        k, v = rng.choice(keys), rng.choice(VALUES)
        cells[p:p + 3] = [PAIR, k, v]
        cells[q:q + 3] = [QUERY, k, v]
        last_use[k] = q + 2
        answers.append((q + 2, "recall-%d" % d, v))
        turn.pop(0)
    text = "".join(c if c is not None else rng.choice(FILLER) for c in cells)
    answers.sort()
    return text, answers


def main(argv):
    p = argparse.ArgumentParser(prog="make_recall.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="TEXT", help="text file to write")
    p.add_argument("--answers", required=True, metavar="CSV", help="answer positions to write (position,task,character)")
    p.add_argument("--chars", type=int, default=100000, help="length of the text in characters (default 100000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--window", type=int, default=1280,
                   help="characters before each query in which its key is unique (the model's context; default 1280)")
    p.add_argument("--distances", default="16,64,256,1024", help="pair-to-query distances, comma list (default 16,64,256,1024)")
    p.add_argument("--copy-distance", type=int, default=256, help="copy-to-repeat distance (default 256)")
    p.add_argument("--copy-length", type=int, default=16, help="characters copied; 0 = no copy task (default 16)")
    a = p.parse_args(argv)
    try:
        distances = [int(x) for x in a.distances.split(",")]
    except ValueError:
        p.error(f"--distances {a.distances}: expected a comma list of integers")
    if any(d < 3 for d in distances):
        p.error(f"--distances {a.distances}: each must be at least 3 (a pair is 3 characters long)")
    if a.copy_length < 0 or (a.copy_length > 0 and a.copy_distance < a.copy_length + 1):
        p.error(f"--copy-distance {a.copy_distance} must be at least --copy-length + 1 = {a.copy_length + 1}")
    longest = max(distances + ([a.copy_distance] if a.copy_length else []))
    if a.window <= longest:
        p.error(f"--window {a.window} must exceed the longest distance {longest}")
    if a.chars < 2 * longest:
        p.error(f"--chars {a.chars} is too short for distance {longest}")
    text, answers = generate(a.chars, a.seed, a.window, distances, a.copy_distance, a.copy_length)
    with open(a.out, "w") as f:
        f.write(text)
    with open(a.answers, "w") as f:
        f.write("position,task,character\n")
        for pos, task, ch in answers:
            f.write(f"{pos},{task},{ch}\n")
    counts = {}
    for _, task, _ in answers:
        counts[task] = counts.get(task, 0) + 1
    print(f"{a.out}: {len(text)} characters; answers: " + ", ".join(f"{t} {c}" for t, c in sorted(counts.items())),
          file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
