#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine, to try launch/slurm.sbatch, requeueing and signals without a
# real cluster. Run as root; needs Debian's slurm-wlm and munge packages (Slurm 22.05).
#   launch/slurm-local-cluster.sh start    writes the configuration, starts munged, slurmctld and slurmds,
#                                          and waits until every node is idle
#   launch/slurm-local-cluster.sh stop     cancels the jobs, stops the daemons, removes the state directory
#   launch/slurm-local-cluster.sh status   prints sinfo and squeue
#   launch/slurm-local-cluster.sh jobs     finished jobs: id, state, exit code (sacct needs slurmdbd)
#   eval "$(launch/slurm-local-cluster.sh env)"   points sbatch, srun, squeue... at this cluster
# start and stop may be repeated. Everything (configuration, munge key and socket, spool, logs) lives in
# one directory; the host's /etc/slurm and /etc/munge are neither read nor touched.
# Environment:
#   VAE_SLURM_DIR        state directory (default /tmp/vae-slurm)
#   VAE_SLURM_PORT       slurmctld's port (default 16817), the slurmds' the next ones: not Slurm's 6817,
#                        so that a real Slurm on the host is left alone
#   VAE_SLURM_NODES      several (default on a host with 2 CPUs or more): one node per CPU, n1, n2...,
#                        each a slurmd of its own on this host; one: a single node with every CPU
#   VAE_SLURM_PROCTRACK  linuxproc (default) or cgroup (needs a cgroup hierarchy slurmd may write)
# Launch Open MPI ranks with srun --mpi=pmix (Debian's Open MPI has no PMI-2). A job put back in the queue
# by scontrol requeue waits 2 minutes unless released: scontrol update JobId=ID StartTime=now.
set -euo pipefail

state=${VAE_SLURM_DIR:-/tmp/vae-slurm}
port=${VAE_SLURM_PORT:-16817}
proctrack=${VAE_SLURM_PROCTRACK:-linuxproc}
conf=$state/etc/slurm.conf
socket=$state/munge/munge.socket
if (($(nproc) > 1)); then layout=${VAE_SLURM_NODES:-several}; else layout=${VAE_SLURM_NODES:-one}; fi

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2; }

# The daemons write pid files; a stale one (a daemon that died, a reboot) must not count as running.
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
  local seconds=$1 i
  shift
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

node_names() { [[ -s $conf ]] && sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$conf"; }

# Whether munged, slurmctld and every slurmd of the configuration are up.
all_running() {
  [[ -s $conf ]] && running "$state/munge/munged.pid" && running "$state/run/slurmctld.pid" || return 1
  local node
  for node in $(node_names); do running "$state/run/slurmd-$node.pid" || return 1; done
}

any_running() {
  local pidfile
  for pidfile in "$state/munge/munged.pid" "$state"/run/*.pid; do running "$pidfile" && return 0; done
  return 1
}

write_config() {
  local host cpus nodes n
  host=$(hostname -s)
  cpus=$(nproc)
  mkdir -p "$state"/{etc,munge,ctld,spool,tmp,log,run}
  case $layout in
    several)
      # One node per CPU, so that --nodes=2 jobs (like launch/slurm.sbatch) have two nodes to land on.
      # Several slurmds on one host need Slurm built with --enable-multiple-slurmd (Debian's is: scontrol
      # show config says MULTIPLE_SLURMD = Yes); each listens on its own port, all on loopback. Every
      # node has all of the host's cores but the one it owns reserved (CpuSpecList): n1's tasks are bound
      # to core 0, n2's to core 1. Configured with CPUs=1 instead, every node's tasks would share core 0.
      nodes=$(for ((n = 1; n <= cpus; n++)); do
        echo "NodeName=n$n NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + n))" \
          "Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1" \
          "CpuSpecList=$(seq 0 $((cpus - 1)) | grep -vx $((n - 1)) | paste -sd,) State=UNKNOWN"
      done) ;;
    one) nodes="NodeName=$host NodeAddr=127.0.0.1 Port=$((port + 1)) CPUs=$cpus State=UNKNOWN" ;;
    *) echo "VAE_SLURM_NODES must be several or one, not $layout" >&2; exit 2 ;;
  esac
  cat >"$conf" <<EOF
# Written by launch/slurm-local-cluster.sh at each start.
ClusterName=vae-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# Our own munged rather than the host's; clients find its socket through this line.
AuthInfo=socket=$socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool/%n
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd-%n.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd-%n.log
# Per node, because the slurmds share a host: srun --mpi=pmix makes each step's PMIx directory
# (spmix_appdir_UID_JOB.STEP) under TmpFS, and two nodes' would collide in one /tmp.
TmpFS=$state/tmp/%n
# linuxproc tracks a job's processes by parentage, with no cgroups, which containers often cannot give
# slurmd. task/affinity binds tasks to cores (srun --cpu-bind) with sched_setaffinity, no cgroups either.
ProctrackType=proctrack/$proctrack
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start a batch job as soon as it is submitted, not up to 3 s later (the default batch_sched_delay).
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
# No slurmdbd, so sacct has nothing to read ("Slurm accounting storage is disabled"). Instead every
# finished job gets a line in jobcomp.txt (see the jobs command), and scontrol show job keeps a
# finished job for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
MinJobAge=3600
# Short waits, so that tests of time limits, signals and requeueing end quickly: a job is killed at its
# limit (slurmctld checks limits every 30 s, so up to 30 s late), KillWait seconds after its SIGTERM.
OverTimeLimit=0
KillWait=5
InactiveLimit=0
SlurmdTimeout=30
ReturnToService=2
$nodes
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # Read by the cgroup plugins only (VAE_SLURM_PROCTRACK=cgroup); autodetect picks v1 or v2.
  cat >"$state/etc/cgroup.conf" <<EOF
# Written by launch/slurm-local-cluster.sh at each start.
CgroupPlugin=autodetect
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
}

start_munge() {
  # A key of our own: nothing depends on, or leaks into, the host's /etc/munge. The directory stays
  # searchable, so that jobs of users other than root can reach the socket.
  chmod 755 "$state/munge"
  mungekey --create --keyfile="$state/munge/munge.key"
  chmod 600 "$state/munge/munge.key"
  munged --socket="$socket" --key-file="$state/munge/munge.key" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munge/munged.seed"
  wait_for 10 munge --socket="$socket" -n || { echo "munged did not start; see $state/log/munged.log" >&2; exit 1; }
}

start() {
  [[ $(id -u) -eq 0 ]] || { echo "run as root: slurmd must start jobs as their users" >&2; exit 1; }
  local program node
  for program in munged mungekey slurmctld slurmd sinfo; do
    command -v "$program" >/dev/null || { echo "$program not found: apt-get install slurm-wlm munge" >&2; exit 1; }
  done
  export SLURM_CONF=$conf
  if all_running; then
    echo "already running: $(sinfo -h -o '%D node(s) %t' | paste -sd ' ')"
    return 0
  fi
  # Half up (a daemon died) or left over from a crash: start again from nothing rather than mend it.
  if any_running || [[ -e $state ]]; then stop; fi
  write_config
  start_munge
  # -i: no jobs to recover from an earlier run's saved state.
  slurmctld -i -f "$conf"
  for node in $(node_names); do
    mkdir -p "$state/spool/$node" "$state/tmp/$node"
    slurmd -f "$conf" -N "$node"
  done
  # A node is idle once its slurmd has registered with slurmctld.
  local count
  count=$(node_names | wc -l)
  if ! wait_for 60 bash -c "[[ \$(sinfo -h -t idle -o %D) == $count ]]"; then
    echo "the nodes did not become idle; see $state/log/" >&2
    [[ $layout == several ]] && echo "a Slurm built without --enable-multiple-slurmd needs VAE_SLURM_NODES=one" >&2
    sinfo -N >&2 || true
    exit 1
  fi
  sinfo -N
  echo "export SLURM_CONF=$conf   # or: eval \"\$($0 env)\""
}

# Processes of this cluster's jobs still alive once the daemons are gone: those whose environment names
# our configuration and a job, and our slurmstepds. The caller and its ancestors are left out, should
# stop be run from inside a job.
job_processes() {
  local keep=" $$ " pid=$$ environ variables
  while ((pid > 1)); do
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 1)
    keep+="$pid "
  done
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [[ $keep == *" $pid "* ]] && continue
    variables=$( { tr '\0' '\n' <"$environ"; } 2>/dev/null) || continue
    grep -qx "SLURM_CONF=$conf" <<<"$variables" || continue
    if grep -q '^SLURM_JOB_ID=' <<<"$variables" || [[ $(readlink "/proc/$pid/exe") == */slurmstepd ]]; then
      echo "$pid"
    fi
  done
}

stop() {
  local nodes pid pidfile
  local -a jobs leftover
  nodes=$(node_names || true)
  # Cancel the jobs first, so that their processes end the usual way (SIGTERM, KillWait, SIGKILL): a
  # slurmd that is stopped leaves its jobs running.
  if running "$state/run/slurmctld.pid"; then
    mapfile -t jobs < <(SLURM_CONF=$conf squeue -h -o %i 2>/dev/null || true)
    if ((${#jobs[@]} > 0)); then
      SLURM_CONF=$conf scancel "${jobs[@]}" 2>/dev/null || true
      wait_for 30 bash -c "[[ -z \$(SLURM_CONF='$conf' squeue -h -o %i) ]]" || true
    fi
  fi
  # The slurmds, then slurmctld, then munged, which the others need to shut down quietly.
  for pidfile in "$state"/run/slurmd-*.pid "$state/run/slurmctld.pid" "$state/munge/munged.pid"; do
    running "$pidfile" || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    wait_for 20 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
  done
  mapfile -t leftover < <(job_processes)
  if ((${#leftover[@]} > 0)); then
    echo "killing leftover job processes:" >&2
    ps -o pid=,args= -p "${leftover[@]}" >&2 || true
    kill -KILL "${leftover[@]}" 2>/dev/null || true
  fi
  # proctrack/cgroup leaves an empty slurm_NODE directory in each cgroup v1 controller it used.
  for node in $nodes; do
    find /sys/fs/cgroup -maxdepth 2 -type d -name "slurm_$node" -exec rmdir {} + 2>/dev/null || true
  done
  # Only what start made, in case VAE_SLURM_DIR names a directory that holds something else too.
  rm -rf "${state:?}"/{etc,munge,ctld,spool,tmp,log,run}
  rmdir "$state" 2>/dev/null || true
}

# One line per finished job from jobcomp.txt, in sacct's terms: a requeued job shows once per run
# (PENDING for the runs that were requeued). ExitCode is the batch script's, DerivedExitCode the
# highest of its steps'.
finished_jobs() {
  [[ -s $state/log/jobcomp.txt ]] || return 0
  awk 'BEGIN { printf "%-8s %-10s %-8s %s\n", "JobID", "State", "ExitCode", "DerivedExitCode" }
    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
      printf "%-8s %-10s %-8s %s\n", f["JobId"], f["JobState"], f["ExitCode"], f["DerivedExitCode"] }' \
    "$state/log/jobcomp.txt"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) all_running || { echo "not running" >&2; exit 1; }; SLURM_CONF=$conf sinfo -N && SLURM_CONF=$conf squeue ;;
  jobs) finished_jobs ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) usage ;;
esac
