#!/usr/bin/env python3
"""Eval-loss curves of a sweep against the task's memoryless baseline (standard library only).

rnnlab's `compare` plots what was reached at the end of each run; the papers reproduced in
docs/reproductions.md plot the loss during training. This script reads every run's metrics.csv
and summary.json in a sweep directory and writes, into OUT:

- curves.csv: variant (or cell), length, seed, step, examples (step × batch), eval_loss, eval_accuracy;
- loss_curves_L<length>.svg: eval loss against training examples, one line per run, one colour
  per group, the baseline dashed.

    python3 docs/loss_curves.py SWEEP_DIR OUT [--log]
"""
import csv
import json
import math
import os
import re
import sys

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


def runs(sweep):
    root = os.path.join(sweep, "runs")
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.exists(os.path.join(d, "summary.json")):
            continue
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
        with open(os.path.join(d, "config.json")) as f:
            config = json.load(f)
        m = re.search(r"variant-([^_]+)", name)
        group = m.group(1) if m else config["model"]["cell"]
        points = []
        with open(os.path.join(d, "metrics.csv")) as f:
            for row in csv.DictReader(f):
                if row["eval_loss"]:
                    points.append((int(row["step"]), float(row["eval_loss"]), float(row["eval_accuracy"])))
        yield group, config["task"]["length"], config["seed"], config["batch"], summary["baseline_loss"], points


def svg(path, title, series, baseline, log):
    w, h, l, r, t, b = 720, 420, 70, 170, 40, 50
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts if y > 0] + [baseline]
    xmax = max(xs) or 1
    if log:
        ylo, yhi = math.log10(max(min(ys), 1e-4)), math.log10(max(ys))
    else:
        ylo, yhi = 0.0, min(max(ys), 3 * baseline)
    if yhi <= ylo:
        yhi = ylo + 1

    def px(x):
        return l + (w - l - r) * x / xmax

    def py(y):
        v = math.log10(max(y, 1e-4)) if log else min(y, yhi)
        return t + (h - t - b) * (1 - (v - ylo) / (yhi - ylo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{l}" y="20" font-size="14">{title}</text>',
           f'<line x1="{l}" y1="{h-b}" x2="{w-r}" y2="{h-b}" stroke="black"/>',
           f'<line x1="{l}" y1="{t}" x2="{l}" y2="{h-b}" stroke="black"/>']
    for i in range(5):
        x = xmax * i / 4
        out.append(f'<text x="{px(x):.1f}" y="{h-b+16}" text-anchor="middle">{x:,.0f}</text>')
        v = ylo + (yhi - ylo) * i / 4
        y = 10 ** v if log else v
        out.append(f'<text x="{l-6}" y="{py(y)+4:.1f}" text-anchor="end">{y:.3g}</text>')
    out.append(f'<text x="{(l+w-r)/2}" y="{h-12}" text-anchor="middle">training examples (steps × batch)</text>')
    out.append(f'<text x="16" y="{(t+h-b)/2}" transform="rotate(-90 16 {(t+h-b)/2})" text-anchor="middle">eval loss{" (log)" if log else ""}</text>')
    out.append(f'<line x1="{l}" y1="{py(baseline):.1f}" x2="{w-r}" y2="{py(baseline):.1f}" stroke="black" stroke-dasharray="6 4"/>')
    out.append(f'<text x="{w-r+6}" y="{py(baseline)+4:.1f}">baseline {baseline:.4f}</text>')
    groups = []
    for g, _ in series:
        if g not in groups:
            groups.append(g)
    for g, pts in series:
        c = COLOURS[groups.index(g) % len(COLOURS)]
        d = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="1.5" opacity="0.8"/>')
    for i, g in enumerate(groups):
        c = COLOURS[i % len(COLOURS)]
        y = t + 40 + 18 * i
        out.append(f'<line x1="{w-r+6}" y1="{y}" x2="{w-r+26}" y2="{y}" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{w-r+30}" y="{y+4}">{g}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    log = "--log" in sys.argv
    sweep, out = args
    os.makedirs(out, exist_ok=True)
    by_length = {}
    with open(os.path.join(out, "curves.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["group", "length", "seed", "step", "examples", "eval_loss", "eval_accuracy"])
        for group, length, seed, batch, baseline, pts in runs(sweep):
            for step, loss, acc in pts:
                wr.writerow([group, length, seed, step, step * batch, loss, acc])
            by_length.setdefault(length, (baseline, []))[1].append((group, [(s * batch, lo) for s, lo, _ in pts]))
    for length, (baseline, series) in sorted(by_length.items()):
        svg(os.path.join(out, f"loss_curves_L{length}.svg"), f"{os.path.basename(os.path.normpath(out))}: eval loss, length {length}",
            series, baseline, log)


if __name__ == "__main__":
    main()
