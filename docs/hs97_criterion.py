#!/usr/bin/env python3
"""Hochreiter & Schmidhuber's success criterion for experiment 2a, read off a sweep's metrics.

H&S 1997 count a trial as successful when, over 10,000 successive training sequences, the largest
absolute output error stays below 0.25. The training set of experiment 2a is two sequences, and
rnnlab's eval set (datasets/hs97/p100.ron) is those same two, evaluated every `eval_every`
sequences. With a softmax over the two names, an absolute error below 0.25 on the final step of
one sequence is p(correct) > 0.75, i.e. cross-entropy < ln(4/3); a mean eval cross-entropy below
ln(4/3)/2 guarantees it for both sequences (sufficient, so this criterion is if anything
stricter than theirs). A run succeeds at the first evaluation E where the mean is below ln(4/3)/2
and stays below at every evaluation up to E + 10,000 sequences (a run that ends before E + 10,000
is not counted). rnnlab trains only the last step's prediction, so the other steps' next-symbol
outputs that H&S also check do not exist here.

Writes OUT (experiment.ron, marker, results.csv with solved = that criterion and solved_at_step =
E, the number of training sequences (batch 1) before success), for `rnnlab compare OUT`, and
prints per group: successes / runs, mean and median sequences to success.

    python3 docs/hs97_criterion.py SWEEP_DIR OUT
"""
import csv
import math
import os
import re
import shutil
import statistics
import sys

LIMIT = math.log(4 / 3) / 2
WINDOW = 10_000


def success_step(metrics_path):
    pts = []
    with open(metrics_path) as f:
        for row in csv.DictReader(f):
            if row["eval_loss"]:
                pts.append((int(row["step"]), float(row["eval_loss"])))
    last = pts[-1][0]
    for step, loss in pts:
        if loss < LIMIT and step + WINDOW <= last and all(
            l2 < LIMIT for s2, l2 in pts if step <= s2 <= step + WINDOW
        ):
            return step
    return None


def main():
    sweep, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name in ("experiment.ron", ".rnnlab-output"):
        shutil.copy(os.path.join(sweep, name), os.path.join(out, name))
    with open(os.path.join(sweep, "results.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0].keys())
    runs = {}
    for name in os.listdir(os.path.join(sweep, "runs")):
        m = re.search(r"variant-([^_]+)_seed-(\d+)", name)
        runs[(m.group(1), m.group(2))] = success_step(os.path.join(sweep, "runs", name, "metrics.csv"))
    groups = {}
    for r in rows:
        at = runs[(r["variant"], r["seed"])]
        r["solved"] = "true" if at is not None else "false"
        r["solved_at_step"] = "" if at is None else str(at)
        groups.setdefault(r["variant"], []).append(at)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for g, ats in groups.items():
        ok = [a for a in ats if a is not None]
        line = f"{g}: {len(ok)}/{len(ats)}"
        if ok:
            line += f", sequences to success mean {statistics.mean(ok):.0f}, median {statistics.median(ok):.0f}, range {min(ok)}–{max(ok)}"
        print(line)


if __name__ == "__main__":
    main()
