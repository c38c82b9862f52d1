#!/usr/bin/env bash
# Stops the daemons ci/slurm-up.sh started, each by its own pid file (slurmd, slurmctld, munged).
set -uo pipefail
RUN=/run/rnnlab-slurm
for pidfile in "$RUN/slurmd.pid" "$RUN/slurmctld.pid" /run/munge/munged.pid; do
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      echo "slurm-down: stopped $(basename "$pidfile" .pid) ($pid)"
    fi
  fi
done
