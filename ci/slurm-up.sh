#!/usr/bin/env bash
# A one-node Slurm on this machine, for the integration tests (tests/slurm.rs) and for trying
# `rnnlab sweep --slurm` locally. Idempotent: installs Debian's slurm-wlm and munge when missing,
# writes /etc/slurm/slurm.conf (only when absent or written by this script), starts munged,
# slurmctld and slurmd when they are not running (each by its own pid file), and waits, bounded,
# until sinfo shows the node idle. ci/slurm-down.sh stops them by the same pid files.
# Needs root (apt-get, /etc/slurm, the daemons).
set -euo pipefail

STATE=/var/spool/rnnlab-slurm
RUN=/run/rnnlab-slurm
CONF=/etc/slurm/slurm.conf
MARK="# written by rnnlab ci/slurm-up.sh"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
  || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

mkdir -p "$STATE/ctld" "$STATE/d" "$STATE/log" "$RUN" /etc/slurm

host=$(hostname -s)
cpus=$(nproc)
# what slurmd will find, less a margin (a node whose RealMemory is above what slurmd measures is
# drained)
mem_mib=$(free -m | awk '/^Mem:/ { print int($2 * 0.9) }')

if [ ! -e "$CONF" ] || head -n 1 "$CONF" | grep -qxF "$MARK"; then
  cat > "$CONF.tmp" <<CONF
$MARK
# One local node: this machine's cores and memory. No cgroups (proctrack/linuxproc, task/none),
# no accounting daemon (sacct does not answer; rnnlab status reads squeue and the shard dirs).
ClusterName=rnnlab-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem_mib State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  if [ -e "$CONF" ] && cmp -s "$CONF" "$CONF.tmp"; then
    rm "$CONF.tmp"
  else
    mv "$CONF.tmp" "$CONF"
  fi
else
  echo "slurm-up: $CONF was not written by this script; using it as it is" >&2
fi

running() { # pid file
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# munged: Debian's key (made at install); its own user, its own pid file
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! running /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
fi

if ! running "$RUN/slurmctld.pid"; then
  /usr/sbin/slurmctld
fi
if ! running "$RUN/slurmd.pid"; then
  /usr/sbin/slurmd
fi

# bounded wait for the node to be idle (a node left down by an earlier run is resumed once)
for i in $(seq 1 60); do
  state=$(sinfo --noheader --nodes="$host" --format=%t 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc) echo "slurm-up: node $host $state ($cpus CPUs, ${mem_mib} MiB)"; exit 0 ;;
    down*|drain*|drng*)
      if [ "$i" = 10 ]; then scontrol update nodename="$host" state=resume 2>/dev/null || true; fi ;;
  esac
  sleep 1
done
echo "slurm-up: node $host is not idle after 60 s (state: ${state:-no answer}); see $STATE/log" >&2
exit 1
