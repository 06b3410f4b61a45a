#!/usr/bin/python3
"""plot_loss.py: draws train and validation loss against step (and wall time) from one or more
metrics.jsonl files into a PNG.  usage: plot_loss.py OUT.png RUN_DIR_OR_METRICS [...] [--labels a,b]"""
import json
import os
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


def main(argv):
    labels = None
    if "--labels" in argv:
        i = argv.index("--labels")
        labels = argv[i + 1].split(",")
        argv = argv[:i] + argv[i + 2:]
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, runs = argv[0], argv[1:]
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
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
