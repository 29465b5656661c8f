#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine, to try launch/slurm.sbatch, requeueing and signals without a
# real cluster. Run as root; needs Debian's slurm-wlm, munge, slurmdbd and mariadb-server packages (Slurm
# 22.05, MariaDB 10.11): launch/install-packages.sh --test installs them.
#   launch/testing/slurm-local-cluster.sh start    writes the configuration, starts munged, mariadbd, slurmdbd,
#                                          slurmctld and slurmds, and waits until every node is idle
#   launch/testing/slurm-local-cluster.sh stop     cancels the jobs, stops the daemons, removes the state directory
#   launch/testing/slurm-local-cluster.sh status   prints sinfo and squeue
#   launch/testing/slurm-local-cluster.sh jobs     every job since start, from sacct: id, name, state, exit codes
#   eval "$(launch/testing/slurm-local-cluster.sh env)"   points sbatch, srun, squeue, sacct... at this cluster, and
#                                          Open MPI's TCP at loopback (every node is this host)
# start and stop may be repeated. Everything (configuration, munge key and socket, database, spool, logs)
# lives in one directory; the host's /etc/slurm, /etc/munge, /etc/mysql and /var/lib/mysql are neither
# read nor touched.
# sacct lags squeue. A job's end (State, ExitCode) reaches slurmdbd within a second of the job's leaving
# squeue, but its start record only from a slurmctld thread that runs every 5 s: until then sacct shows a
# running job as PENDING and names any job "allocation". So ask squeue whether a job still runs, and
# retry sacct for a few seconds (10 s is ample) until its State is one that ends a job (not empty,
# PENDING or RUNNING).
# Environment:
#   VAE_SLURM_DIR        state directory (default /tmp/vae-slurm)
#   VAE_SLURM_PORT       slurmctld's port (default 16817), the slurmds' the next ones, slurmdbd's the one
#                        before and MariaDB's (on 127.0.0.1) the one before that: not Slurm's 6817-6819
#                        nor MariaDB's 3306, so that a real Slurm or database on the host is left alone
#   VAE_SLURM_NODES      several (default on a host with 2 CPUs or more): one node per CPU, n1, n2...,
#                        each a slurmd of its own on this host; one: a single node with every CPU
#   VAE_SLURM_PROCTRACK  linuxproc (default) or cgroup (needs a cgroup hierarchy slurmd may write)
# Launch Open MPI ranks with srun --mpi=pmix (Debian's Open MPI has no PMI-2). A job put back in the queue
# by scontrol requeue waits 2 minutes unless released: scontrol update JobId=ID StartTime=now.
set -euo pipefail

state=${VAE_SLURM_DIR:-/tmp/vae-slurm}
port=${VAE_SLURM_PORT:-16817}
# Below slurmctld's port, since the slurmds take one port each above it, as many as the host has CPUs.
dbd_port=$((port - 1))
db_port=$((port - 2))
proctrack=${VAE_SLURM_PROCTRACK:-linuxproc}
cluster=vae-local
conf=$state/etc/slurm.conf
socket=$state/munge/munge.socket
db_socket=$state/db/mariadb.sock
if (($(nproc) > 1)); then layout=${VAE_SLURM_NODES:-several}; else layout=${VAE_SLURM_NODES:-one}; fi

# The comment at the top of this file, up to its first line of code.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

# Whether process $1 is alive. Not a zombie: kill -0 still finds a daemon that has exited until its
# parent, PID 1, reaps it, which some PID 1s do a second or more later (this VM's) or never (a container's
# without an init), and stop would wait for it, start take it for a daemon that runs.
alive_pid() { [[ $(ps -o stat= -p "$1" 2>/dev/null) == [^Z]* ]]; }
dead_pid() { ! alive_pid "$1"; }

# The daemons write pid files; a stale one (a daemon that died, a reboot) must not count as running.
running() { [[ -s $1 ]] && alive_pid "$(cat "$1")"; }

# Waits up to $1 seconds for the command that follows to succeed. By the clock, not by count of tries:
# a try may itself take seconds (a Slurm client retries a daemon that does not answer).
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Whether the daemon named by $1, a pid or a pid file, is alive. A pid file not yet there counts as
# alive: a daemon that forks writes it a moment after the command that started it has returned.
alive() {
  if [[ $1 == */* ]]; then [[ ! -e $1 ]] || running "$1"; else alive_pid "$1"; fi
}

# Like wait_for, for the daemon named by $2 (see alive), but gives up as soon as the daemon has died: one
# that exits at start (a port in use, a bad configuration) fails at once rather than after $1 seconds.
wait_up() {
  local deadline=$((SECONDS + $1)) daemon=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$daemon" && ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Exits with one line that says what failed, which log tells why, and the line of its end that most
# likely does: Slurm's fatal one, else MariaDB's first error (its last is a bare "Aborting"), else the
# last. The daemons started so far run on until stop, which start runs first anyway.
fail() {
  local end why
  end=$(tail -n 20 "$2" 2>/dev/null || true)
  why=$(grep -m 1 -i 'fatal' <<<"$end" || grep -m 1 -i 'error' <<<"$end" || tail -n 1 <<<"$end")
  echo "$1; see $2${why:+: $why}" >&2
  exit 1
}

node_names() { [[ -s $conf ]] && sed -n 's/^NodeName=\([^ ]*\).*/\1/p' "$conf"; }

# Whether munged, mariadbd, slurmdbd, slurmctld and every slurmd of the configuration are up.
all_running() {
  [[ -s $conf ]] && running "$state/munge/munged.pid" || return 1
  running "$state/run/mariadbd.pid" && running "$state/run/slurmdbd.pid" || return 1
  running "$state/run/slurmctld.pid" || return 1
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
  mkdir -p "$state"/{etc,munge,db,ctld,spool,tmp,log,run}
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
# Written by launch/testing/slurm-local-cluster.sh at each start.
ClusterName=$cluster
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
# Our own slurmdbd keeps every job in our own MariaDB, so that sacct tells how each job and step ended
# (state, exit code) long after squeue has forgotten it. No usage is gathered (no MaxRSS): nothing reads
# it. scontrol show job keeps a finished job for MinJobAge seconds.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$dbd_port
# The munge socket for talking to slurmdbd: Slurm's clients and slurmctld take it from here, not from
# AuthInfo, and would otherwise look for the host's munged (/run/munge/munge.socket.2).
AccountingStoragePass=$socket
JobAcctGatherType=jobacct_gather/none
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
# Written by launch/testing/slurm-local-cluster.sh at each start.
CgroupPlugin=autodetect
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
  # slurmdbd reads slurmdbd.conf from slurm.conf's directory, and only if its SlurmUser owns it and no
  # one else may read it, since it holds the database's password. slurmdbd reaches MariaDB by TCP (its
  # plugin takes no socket), hence a password: a fresh random one each start.
  db_password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  (
    umask 077
    cat >"$state/etc/slurmdbd.conf" <<EOF
# Written by launch/testing/slurm-local-cluster.sh at each start.
DbdHost=$host
DbdAddr=127.0.0.1
DbdPort=$dbd_port
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
PidFile=$state/run/slurmdbd.pid
LogFile=$state/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_password
StorageLoc=slurm_acct_db
EOF
  )
}

start_munge() {
  # A key of our own: nothing depends on, or leaks into, the host's /etc/munge. The directory stays
  # searchable, so that jobs of users other than root can reach the socket.
  chmod 755 "$state/munge"
  mungekey --create --keyfile="$state/munge/munge.key"
  chmod 600 "$state/munge/munge.key"
  munged --socket="$socket" --key-file="$state/munge/munge.key" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/log/munged.log" --seed-file="$state/munge/munged.seed" </dev/null >/dev/null
  wait_for 10 munge --socket="$socket" -n || fail "munged did not start" "$state/log/munged.log"
}

# The MariaDB client, as root through our server's socket (root logs in by its Unix user, no password).
# --no-defaults, first, here and for the server: the host's /etc/mysql/my.cnf names its own datadir,
# socket and port 3306, none of which is ours.
db() { mariadb --no-defaults --socket="$db_socket" --user=root "$@"; }

start_mariadb() {
  local log=$state/log/mariadb.log pid
  mariadb-install-db --no-defaults --user=root --datadir="$state/db/data" --skip-test-db --skip-name-resolve \
    --auth-root-authentication-method=socket --innodb-log-file-size=8M >"$log" 2>&1 ||
    fail "mariadb-install-db failed" "$log"
  # --user=root: mariadbd refuses to run as root without it, and a user of its own gains nothing here.
  # Loopback only. A small redo log and buffer pool, and no flush at each commit: the database lives
  # until stop, and holds a few dozen tables. mariadbd does not fork, so setsid detaches it from this
  # script's terminal, and its pid is known at once (its own pid file comes later, with the same pid).
  setsid mariadbd --no-defaults --user=root --datadir="$state/db/data" --socket="$db_socket" \
    --port="$db_port" --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$state/run/mariadbd.pid" \
    --log-error="$log" --tmpdir="$state/tmp" --innodb-log-file-size=8M --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit=0 </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$state/run/mariadbd.pid"
  wait_up 30 "$pid" db -e 'SELECT 1' || fail "mariadbd did not start" "$log"
  db --batch <<EOF || fail "could not make slurmdbd's database and user" "$log"
CREATE DATABASE slurm_acct_db;
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_password';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start_slurmdbd() {
  local log=$state/log/slurmdbd.log
  # What slurmdbd says before it has opened its log (a bad slurmdbd.conf) goes to stderr: into the log too.
  slurmdbd </dev/null >/dev/null 2>>"$log" || fail "slurmdbd did not start" "$log"
  # It listens once it has made its tables, under a second here. A try is cut short, since sacctmgr waits
  # long on a port that something else (not slurmdbd, which then exits) holds.
  wait_up 60 "$state/run/slurmdbd.pid" timeout 5 sacctmgr -n list cluster || fail "slurmdbd did not start" "$log"
  # Before slurmctld starts, which registers with slurmdbd under its ClusterName.
  sacctmgr -i add cluster "$cluster" >/dev/null || fail "sacctmgr could not add cluster $cluster" "$log"
}

start() {
  [[ $(id -u) -eq 0 ]] || { echo "run as root: slurmd must start jobs as their users" >&2; exit 1; }
  local program node
  for program in munged mungekey slurmctld slurmd sinfo slurmdbd sacctmgr mariadbd mariadb-install-db mariadb; do
    command -v "$program" >/dev/null ||
      { echo "$program not found: launch/install-packages.sh --test installs what this needs" >&2; exit 1; }
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
  start_mariadb
  start_slurmdbd
  # -i: no jobs to recover from an earlier run's saved state. Each daemon's complaints before it has
  # opened its log go to stderr: into the log too. No daemon keeps this script's stdout: a caller reading
  # it through a pipe would wait for ever.
  slurmctld -i -f "$conf" </dev/null >/dev/null 2>>"$state/log/slurmctld.log" || fail "slurmctld did not start" "$state/log/slurmctld.log"
  for node in $(node_names); do
    mkdir -p "$state/spool/$node" "$state/tmp/$node"
    slurmd -f "$conf" -N "$node" </dev/null >/dev/null 2>>"$state/log/slurmd-$node.log" ||
      fail "slurmd $node did not start" "$state/log/slurmd-$node.log"
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
  print_mpi_interfaces
}

# Every node is this host, so Open MPI's TCP (between "nodes", and from orted to mpirun) goes over loopback.
# Left to choose, it also offers the host's other addresses, and one that goes away mid-job (namespace-hosts.sh's
# bridge, say) strands the job's connections: the job hangs.
print_mpi_interfaces() {
  echo "export OMPI_MCA_btl_tcp_if_include=lo"
  echo "export OMPI_MCA_oob_tcp_if_include=lo"
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
  # The slurmds, then slurmctld, which sends slurmdbd what it still holds, then slurmdbd, then mariadbd,
  # then munged, which the Slurm daemons need to shut down quietly.
  for pidfile in "$state"/run/slurmd-*.pid "$state"/run/{slurmctld,slurmdbd,mariadbd}.pid "$state/munge/munged.pid"; do
    running "$pidfile" || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    wait_for 20 dead_pid "$pid" || kill -KILL "$pid" 2>/dev/null || true
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
  rm -rf "${state:?}"/{etc,munge,db,ctld,spool,tmp,log,run}
  rmdir "$state" 2>/dev/null || true
}

# Every job of every user since start (the database is new at each start, hence the early -S), one line
# each (-X: not its steps), and a requeued job once per run (-D: REQUEUED for the runs that were put back).
# ExitCode is the batch script's, DerivedExitCode the highest of its steps'.
list_jobs() {
  SLURM_CONF=$conf sacct -a -D -X -S 2000-01-01 -o JobID,JobName%24,State,ExitCode,DerivedExitCode
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) all_running || { echo "not running" >&2; exit 1; }; SLURM_CONF=$conf sinfo -N && SLURM_CONF=$conf squeue ;;
  jobs) list_jobs ;;
  env) echo "export SLURM_CONF=$conf"; print_mpi_interfaces ;;
  *) usage ;;
esac
