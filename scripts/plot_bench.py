#!/usr/bin/python3
"""plot_bench.py: log-log plot of the `spectral bench mixers --csv` rows — forward time,
forward+backward time and saved activation memory against T, one line per mixer (the fft
mixer's FFT floor dashed).

usage: plot_bench.py MIXERS.csv -o OUT.png [--title TEXT]"""
import argparse
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["attention", "local", "fft", "rot-lowrank", "rot-headphase", "rot-dynamic"]


def number(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v > 0 else None


def main(argv):
    p = argparse.ArgumentParser(prog="plot_bench.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", metavar="MIXERS.csv", help="rows written by spectral bench mixers --csv")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png", help="PNG to write")
    p.add_argument("--title", help="figure title (default: the bench's settings)")
    a = p.parse_args(argv)
    path, out, title = a.csv, a.output, a.title
    series = defaultdict(lambda: defaultdict(list))  # mixer -> column -> [(T, value)]
    meta = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            T = int(row["T"])
            m = row["mixer"]
            meta = {k: row[k] for k in ("mode", "d", "batch", "heads", "threads") if k in row}
            for col in ("fwd_ms", "fwdbwd_ms", "fft_floor_ms"):
                v = number(row.get(col))
                if v is not None:
                    series[m][col].append((T, v))
            v = number(row.get("saved_bytes"))
            if v is not None:
                series[m]["saved_mib"].append((T, v / 2**20))
    if not series:
        print(f"plot_bench.py: no rows in {path}", file=sys.stderr)
        return 1
    mixers = [m for m in ORDER if m in series] + sorted(m for m in series if m not in ORDER)
    colors = {m: f"C{i}" for i, m in enumerate(mixers)}
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    panels = [("fwd_ms", "forward (ms)"), ("fwdbwd_ms", "forward + backward (ms)"),
              ("saved_mib", "activations saved for backward (MiB)")]
    for ax, (col, label) in zip(axes, panels):
        for m in mixers:
            pts = sorted(series[m][col])
            if pts:
                ax.plot([t for t, _ in pts], [v for _, v in pts], "o-", ms=3, color=colors[m], label=m)
            if col == "fwd_ms" and series[m]["fft_floor_ms"]:
                pts = sorted(series[m]["fft_floor_ms"])
                ax.plot([t for t, _ in pts], [v for _, v in pts], "--", color=colors[m], alpha=0.7,
                        label=f"{m}: FFT floor")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    mode = "whole Mixer layer" if meta.get("mode") == "layer" else "core mixing op"
    fig.suptitle(title or f"spectral bench mixers: {mode}, d={meta.get('d')}, batch={meta.get('batch')}, "
                          f"heads={meta.get('heads')}, threads={meta.get('threads')}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
