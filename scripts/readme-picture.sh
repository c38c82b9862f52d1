#!/usr/bin/env bash
# The README's opening picture (issue 21): the tanh RNN and the chrono LSTM on one Japanese tanaka
# sentence read character by character (55 characters between the name and the query, a
# 62-character sentence), lit by the gradient at initialisation and after training, one row per
# cell. Runs datasets/experiments/readme-picture.ron (2 runs, about 25 s on 2 cores) in a fresh
# sweep directory and copies its figure to docs/lit/readme.svg; the runs are bit-for-bit
# deterministic, so the same commit gives the same file.
# Usage: scripts/readme-picture.sh [SWEEP_DIR]   (default: a new temporary directory, kept)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/rnnlab
[ -x "$bin" ] || cargo build --release
out=${1:-$(mktemp -d)/readme-picture}
"$bin" sweep --config datasets/experiments/readme-picture.ron --jobs 2 --quiet --out "$out" >/dev/null
mkdir -p docs/lit
cp "$out/plots/lit_sentence.svg" docs/lit/readme.svg
# what the runs reached, for the README's sentence (columns found by name in results.csv)
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { printf "%s: solved %s (at step %s), eval accuracy %.3f, signal at the source %.2e at init, %.2e trained\n",
      $col["variant"], $col["solved"], ($col["solved_at_step"] == "" ? "-" : $col["solved_at_step"]),
      $col["accuracy"], $col["source_signal_init"], $col["source_signal_final"] }' "$out/results.csv"
echo "docs/lit/readme.svg (sweep: $out)"
