#!/usr/bin/env python3
"""A copy of a sweep directory whose `solved` column means "beat the memoryless baseline".

The papers reproduced in docs/reproductions.md judge the copy task and the adding problem by the
loss against the memoryless baseline, not by rnnlab's `solved` (copy: eval accuracy ≥ 0.99 on the
10 recalled symbols; adding: eval MSE ≤ 0.01). `rnnlab compare` counts and tests the `solved`
column of results.csv, so this script writes OUT with experiment.ron, the sweep marker and a
results.csv in which solved = (final eval loss ≤ FRACTION × baseline loss), FRACTION 0.9 unless
given: copy's baseline is 10·ln 8/(T + 20) (cross-entropy), adding's 1/6 (MSE). Then
`rnnlab compare OUT` gives k/n with Wilson intervals and Fisher/Holm verdicts for that event.

    python3 docs/below_baseline.py SWEEP_DIR OUT [FRACTION]
"""
import csv
import math
import os
import shutil
import sys


def baseline_loss(task, length):
    if task == "copy":
        return 10 * math.log(8) / (length + 20)
    if task == "adding":
        return 1 / 6
    raise SystemExit(f"no loss baseline for task {task}")


def main():
    sweep, out = sys.argv[1], sys.argv[2]
    fraction = float(sys.argv[3]) if len(sys.argv) > 3 else 0.9
    os.makedirs(out, exist_ok=True)
    for name in ("experiment.ron", ".rnnlab-output"):
        shutil.copy(os.path.join(sweep, name), os.path.join(out, name))
    with open(os.path.join(sweep, "results.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0].keys()) if rows else []
    for r in rows:
        limit = fraction * baseline_loss(r["task"], int(r["length"]))
        r["solved"] = "true" if float(r["loss"]) <= limit else "false"
        r["solved_at_step"] = ""
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
