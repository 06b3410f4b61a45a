#!/usr/bin/python3
"""plot_loss.py: draws train and validation loss against step (and wall time) from the
metrics.jsonl of one or more runs into a PNG.

usage: plot_loss.py RUN [RUN ...] -o OUT.png [--labels a,b] [--group-seeds]
  RUN is a run directory (spectral train --out DIR) or a metrics.jsonl file.
  --group-seeds: runs named NAME-s1, NAME-s2, ... (scripts/compare.sh --seeds) are drawn as one
  line per NAME, the mean over its seeds, with a band from the lowest to the highest seed."""
import argparse
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.jsonl")
    train, val = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "val_loss" in r:
                val.append((r["step"], r["val_loss"], r.get("elapsed_s", 0)))
            elif "loss" in r:
                train.append((r["step"], r["loss"], r.get("elapsed_s", 0)))
    return train, val


def finish(fig, axes, out):
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="plot_loss.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directory or metrics.jsonl")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    p.add_argument("--labels", help="comma list of legend names, one per RUN (default: the directory names)")
    p.add_argument("--group-seeds", action="store_true",
                   help="one line per NAME of runs NAME-s1, NAME-s2, ...: the mean over seeds and their range")
    a = p.parse_args(argv)
    out, runs = a.output, a.runs
    labels = a.labels.split(",") if a.labels else None
    for run in runs:
        path = os.path.join(run, "metrics.jsonl") if os.path.isdir(run) else run
        if not os.path.isfile(path):
            p.error(f"{run}: no metrics.jsonl there (give a run directory of spectral train or a metrics.jsonl)")
    if a.group_seeds:
        return plot_groups(runs, out)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    # one colour per run (train faint, validation with markers), so that runs stay apart
    colours = plt.get_cmap("tab10" if len(runs) <= 10 else "tab20").colors
    vals = []  # every run's validation points, for the right panel's limits
    for k, run in enumerate(runs):
        c = colours[k % len(colours)]
        train, val = read(run)
        vals.append(val)
        name = labels[k] if labels and k < len(labels) else os.path.basename(os.path.normpath(run))
        if train:
            ax1.plot([s for s, _, _ in train], [l for _, l, _ in train], color=c, alpha=0.35, lw=1, label=f"{name} train")
        if val:
            ax1.plot([s for s, _, _ in val], [l for _, l, _ in val], "o-", color=c, ms=3, label=f"{name} val")
            ax2.plot([t / 60 for _, _, t in val], [l for _, l, _ in val], "o-", color=c, ms=3, label=f"{name}")
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss (nats/char)")
    ax1.set_title("loss by step")
    ax2.set_xlabel("wall time (minutes)")
    ax2.set_ylabel("validation loss (nats/char)")
    ax2.set_title("validation loss by wall time")
    # the interesting part is the end: cut the first evaluations' high values off the right panel
    lows = [min(l for _, l, _ in v) for v in vals if v]
    if lows:
        firsts = sorted(v[min(1, len(v) - 1)][1] for v in vals if v)
        ax2.set_ylim(min(lows) - 0.03, max(firsts[len(firsts) // 2], max(lows)) + 0.05)
    return finish(fig, (ax1, ax2), out)


def plot_groups(runs, out):
    groups = {}  # NAME -> list of validation curves, in the order first seen
    for run in runs:
        name = re.sub(r"-s[0-9]+$", "", os.path.basename(os.path.normpath(run)))
        groups.setdefault(name, []).append(read(run)[1])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = plt.get_cmap("tab10").colors
    lows, firsts = [], []
    for k, (name, curves) in enumerate(groups.items()):
        c = colours[k % len(colours)]
        curves = [v for v in curves if v]
        if not curves:
            continue
        n = min(len(v) for v in curves)  # evaluations every seed has
        steps = [curves[0][i][0] for i in range(n)]
        mean = [sum(v[i][1] for v in curves) / len(curves) for i in range(n)]
        lo = [min(v[i][1] for v in curves) for i in range(n)]
        hi = [max(v[i][1] for v in curves) for i in range(n)]
        mins = [sum(v[i][2] for v in curves) / len(curves) / 60 for i in range(n)]
        label = f"{name} ({len(curves)} seeds)"
        ax1.fill_between(steps, lo, hi, color=c, alpha=0.25)
        ax1.plot(steps, mean, "o-", color=c, ms=3, label=label)
        ax2.fill_between(mins, lo, hi, color=c, alpha=0.25)
        ax2.plot(mins, mean, "o-", color=c, ms=3, label=label)
        lows.append(min(lo))
        firsts.append(mean[min(1, n - 1)])
    ax1.set_xlabel("step")
    ax1.set_ylabel("validation loss (nats/char)")
    ax1.set_title("validation loss by step: mean over seeds, band = lowest to highest")
    ax2.set_xlabel("wall time (minutes, mean over seeds)")
    ax2.set_ylabel("validation loss (nats/char)")
    ax2.set_title("validation loss by wall time")
    if lows:
        firsts.sort()
        for ax in (ax1, ax2):
            ax.set_ylim(min(lows) - 0.03, max(firsts[len(firsts) // 2], max(lows)) + 0.05)
    return finish(fig, (ax1, ax2), out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
