#!/usr/bin/env bash
# The memory estimate (resources.rs: what --max-memory is checked against) beside the measured
# peak resident memory (getrusage) of real training runs, one process per run: the LSTM at
# B = 32, H = 64, full and checkpointed (sqrt) BPTT, and a few other shapes. Prints CSV:
# cell,length,bptt_memory,probe_size,estimated_mib,peak_rss_mib,ratio.
# Usage: scripts/memory-estimate.sh [LENGTHS]   (default 1000,10000)
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=${1:-1000,10000}
bin=target/release/rnnlab
[ -x "$bin" ] || cargo build --release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "cell,length,bptt_memory,probe_size,estimated_mib,peak_rss_mib,ratio"
run() { # cell length memory probe-size [extra options]
  local cell=$1 t=$2 mem=$3 probe=$4; shift 4
  rm -rf "$out/run"
  line=$("$bin" train --cell "$cell" --hidden 64 --batch 32 --length "$t" --steps 2 --eval-every 2 \
    --eval-size 32 --probe-every 0 --history-every 0 --probe-size "$probe" --bptt-memory "$mem" \
    --threads 1 --out "$out/run" "$@" 2>/dev/null | grep '^memory:')
  est=$(sed -E 's/^memory: estimated ([0-9.]+) MiB.*/\1/' <<<"$line")
  peak=$(sed -E 's/.*peak resident ([0-9.]+) MiB.*/\1/' <<<"$line")
  echo "$cell,$t,$mem,$probe,$est,$peak,$(awk -v e="$est" -v p="$peak" 'BEGIN{printf "%.3f", e/p}')"
}
for t in ${lengths//,/ }; do
  for mem in full sqrt; do run lstm "$t" "$mem" 1; done
done
run gru 1000 full 32
run rnn 1000 full 32
run lstm 1000 sqrt 32
