#!/usr/bin/env bash
# Peak resident memory and time per step of full and checkpointed (sqrt) BPTT as T grows: the
# LSTM at B = 32, H = 64, one `rnnlab bench` process per configuration (getrusage's peak RSS is
# per process). Prints the bench CSV with bptt_memory,peak_rss_mib; full BPTT stops where its
# estimate is refused (above --max-memory). Usage: scripts/bench-memory.sh [LENGTHS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=${1:-100,1000,10000,100000}
threads=${2:-1}
bin=target/release/rnnlab
[ -x "$bin" ] || cargo build --release
header=1
for t in ${lengths//,/ }; do
  for mode in full sqrt; do
    # fewer steps for long sequences: the figure is ms per step either way
    steps=$(( t >= 10000 ? 2 : 10 ))
    out=$("$bin" bench --cell lstm --hidden 64 --batch 32 --length "$t" --threads "$threads" \
      --bptt-memory "$mode" --memory --steps "$steps" --warmup 1 2>/dev/null) || { echo "# $mode T=$t: refused or failed" >&2; continue; }
    if [ $header = 1 ]; then echo "$out" | head -1; header=0; fi
    echo "$out" | tail -1
  done
done
