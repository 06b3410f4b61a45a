#!/usr/bin/python3
"""recall_table.py: the table and the plot of a recall run (scripts/recall.sh).

usage: recall_table.py RUNS_CSV [--header TEXT] [--plot OUT.png]

RUNS_CSV has the rows mixer,seed,task,answers,accuracy,mean_loss. Prints a markdown table on
stdout: one row per mixer, one column per task, each cell the accuracy on the answer characters as
mean ± sample standard deviation over the seeds (in %), then the same for the mean loss in nats.
--plot draws the accuracies of the answers (recall and copy; not the query keys) as grouped bars
with the seeds' spread as error bars."""
import argparse
import csv
import math
import sys

# a guess among the characters an answer can be: one of 10 digits (recall), 26 lowercase letters
# (copy), 26 uppercase keys (key: a query's key, score_recall.py --query-keys)
CHANCE = {"recall": 1 / 10, "copy": 1 / 26, "key": 1 / 26}


def stats(xs):
    m = sum(xs) / len(xs)
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else float("nan")
    return m, s


def pm(xs, scale, fmt):
    m, s = stats([x * scale for x in xs])
    return fmt % m + ("" if math.isnan(s) else " ± " + fmt % s)


def task_order(tasks):
    # recall distances ascending, then the copy task(s), then the query keys
    def key(t):
        kind, _, d = t.rpartition("-")
        return ({"recall": 0, "copy": 1}.get(kind, 2), kind, int(d) if d.isdigit() else 0)
    return sorted(tasks, key=key)


def main(argv):
    p = argparse.ArgumentParser(prog="recall_table.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", metavar="RUNS_CSV")
    p.add_argument("--header", default="", help="a line printed before the table")
    p.add_argument("--plot", metavar="OUT.png", help="PNG to write")
    a = p.parse_args(argv)
    rows = list(csv.DictReader(open(a.runs)))
    if not rows:
        print(f"recall_table.py: {a.runs}: no runs", file=sys.stderr)
        return 2
    mixers, by = [], {}
    for r in rows:
        if r["mixer"] not in mixers:
            mixers.append(r["mixer"])
        by.setdefault((r["mixer"], r["task"]), []).append(r)
    tasks = task_order({r["task"] for r in rows})
    answers = {t: next(r["answers"] for r in rows if r["task"] == t) for t in tasks}
    if a.header:
        print(a.header)
    print("Accuracy on the answer characters, % (mean ± standard deviation over the seeds):")
    print()
    print("| mixer | seeds | " + " | ".join(f"{t} ({answers[t]} answers)" for t in tasks) + " |")
    print("|---|---|" + "---|" * len(tasks))
    for m in mixers:
        n = max(len(by.get((m, t), [])) for t in tasks)
        cells = [pm([float(r["accuracy"]) for r in by[(m, t)]], 100, "%.1f") if (m, t) in by else "–" for t in tasks]
        print(f"| {m} | {n} | " + " | ".join(cells) + " |")
    print("| *chance (a uniform guess among the possible answers)* | | " +
          " | ".join("%.1f" % (100 * CHANCE[t.rpartition('-')[0]]) for t in tasks) + " |")
    print()
    print("Mean loss on the answer characters, nats (mean ± standard deviation over the seeds):")
    print()
    print("| mixer | " + " | ".join(tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for m in mixers:
        cells = [pm([float(r["mean_loss"]) for r in by[(m, t)]], 1, "%.2f") if (m, t) in by else "–" for t in tasks]
        print(f"| {m} | " + " | ".join(cells) + " |")
    print("| *uniform guess* | " + " | ".join("%.2f" % -math.log(CHANCE[t.rpartition('-')[0]]) for t in tasks) + " |")
    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 3.6))
        width = 0.8 / len(mixers)
        colours = plt.get_cmap("tab10").colors
        tasks = [t for t in tasks if not t.startswith("key-")]
        for k, m in enumerate(mixers):
            xs, ys, es = [], [], []
            for i, t in enumerate(tasks):
                if (m, t) in by:
                    mean, sd = stats([100 * float(r["accuracy"]) for r in by[(m, t)]])
                    xs.append(i - 0.4 + width * (k + 0.5))
                    ys.append(mean)
                    es.append(0 if math.isnan(sd) else sd)
            ax.bar(xs, ys, width, yerr=es, capsize=2, color=colours[k % len(colours)], label=m)
        for i, t in enumerate(tasks):
            c = 100 * CHANCE[t.rpartition("-")[0]]
            ax.plot([i - 0.45, i + 0.45], [c, c], "k--", lw=0.8, label="chance" if i == 0 else None)
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels([t.replace("recall-", "recall, D=").replace("copy-", "copy, D=") for t in tasks])
        ax.set_ylabel("accuracy on answers, %")
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=80)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
