#!/usr/bin/env bash
# Runs an Open MPI job across two simulated hosts on this machine: each rank lives in its own
# Linux network namespace, and the ranks talk to each other (and to mpirun) over TCP only.
#
#   launch/two-hosts.sh COMMAND [ARGS...]
#   launch/two-hosts.sh [MPIRUN-OPTIONS...] -- COMMAND [ARGS...]
#
# If the first argument starts with "-", everything up to the first "--" goes to mpirun as
# extra options (e.g. "-x FOO -x BAR=1 --mca btl_base_verbose 30"); otherwise all arguments
# are the command. One rank runs per "host" (mpirun -np 2).
#
# Needs root, iproute2 and Debian's openmpi-bin (Open MPI 4.1). Layout, in the root namespace:
#   bridge vae-br-PID  10.213.X.1/24  (mpirun/HNP lives here)
#   netns vae-h0-PID   eth0 10.213.X.2/24  (orted + rank 0)
#   netns vae-h1-PID   eth0 10.213.X.3/24  (orted + rank 1)
# mpirun starts each orted through a generated plm_rsh_agent that does "ip netns exec NS sh -c".
# Everything (namespaces, links, temp dir) is removed on exit, also on failure, timeout or a
# signal. Exit status: the mpirun's; 124 on timeout; 128+N when this script gets signal N.
#
# Environment:
#   TWO_HOSTS_TIMEOUT  seconds before mpirun is sent TERM (default 120; KILL 10 s later)
#   TWO_HOSTS_DEBUG=1  print the setup and the full mpirun command line on stderr
#   TWO_HOSTS_RATE     limit each host's link to this rate in each direction (tc rate, e.g.
#                      1gbit, 100mbit; default: unlimited). A tbf qdisc goes on the egress of
#                      each namespace's eth0 and of each bridge-side veth end; needs tc (iproute2)
#   OPENBLAS_NUM_THREADS  math threads per rank (default: half the cores, since both hosts share them)
# Standard input is not forwarded to the job (it reads /dev/null). The ranks inherit this
# script's environment (unlike real ssh hosts); -x VAR still works and documents intent.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -gt 0 ]] || usage
mpi_opts=()
if [[ $1 == -* ]]; then
  while [[ $# -gt 0 && $1 != -- ]]; do mpi_opts+=("$1"); shift; done
  [[ $# -gt 0 ]] || { echo "two-hosts.sh: missing '--' before the command" >&2; usage; }
  shift
fi
[[ $# -gt 0 ]] || usage
[[ $(id -u) -eq 0 ]] || { echo "two-hosts.sh: must run as root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "two-hosts.sh: 'ip' not found (apt-get install -y iproute2)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "two-hosts.sh: 'mpirun' not found (apt-get install -y openmpi-bin)" >&2; exit 2; }

debug=${TWO_HOSTS_DEBUG:-0}
timeout_s=${TWO_HOSTS_TIMEOUT:-120}
rate=${TWO_HOSTS_RATE:-}
if [[ -n $rate ]]; then
  command -v tc >/dev/null || { echo "two-hosts.sh: 'tc' not found, needed by TWO_HOSTS_RATE (apt-get install -y iproute2)" >&2; exit 2; }
  [[ ${rate,,} =~ ^[0-9]+(\.[0-9]+)?([kmgt]i?)?(bit|bps)$ ]] ||
    { echo "two-hosts.sh: TWO_HOSTS_RATE='$rate' is not a tc rate such as 1gbit or 100mbit" >&2; exit 2; }
fi
log() { if [[ $debug == 1 ]]; then echo "two-hosts: $*" >&2; fi; }
# Each rank sees a node of its own and would take every core for its math threads; both "hosts" share
# this machine's cores, so unless told otherwise each rank gets half (2 ranks × all cores would
# oversubscribe, and OpenMP's spinning threads then run several times slower).
cores=$(nproc)
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$(( cores > 1 ? cores / 2 : 1 ))}

id=$$
bridge=vae-br-$id
ns=(vae-h0-$id vae-h1-$id)
veth=(vae0-$id vae1-$id)      # root-namespace ends; the other ends become eth0 inside each namespace
tmp=""
job_pid=""
filter_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  # timeout(1) makes itself a process-group leader, so -PID reaches it, mpirun and the agents.
  # mpirun can hang on TERM when an orted is unreachable, hence the KILL after a few seconds.
  if [[ -n $job_pid ]] && kill -0 -- "-$job_pid" 2>/dev/null; then
    kill -TERM -- "-$job_pid" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$job_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$job_pid" 2>/dev/null
  fi
  local n pids
  for n in "${ns[@]}"; do
    if [[ -e /run/netns/$n ]]; then
      pids=$(ip netns pids "$n" 2>/dev/null)        # stray orted/ranks still inside
      [[ -z $pids ]] || kill -KILL $pids 2>/dev/null
      ip netns del "$n" 2>/dev/null                 # also destroys the eth0 ends of the veths
    fi
  done
  local l
  for l in "${veth[@]}" "$bridge"; do
    ip link show "$l" >/dev/null 2>&1 && ip link del "$l" 2>/dev/null
  done
  [[ -n $filter_pid ]] && kill "$filter_pid" 2>/dev/null
  [[ -n $tmp ]] && rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- pick a free /24 (under a lock, so concurrent runs cannot pick the same one) ----------------
exec 9<"${BASH_SOURCE[0]}"   # the lock is this script file itself, so nothing is left behind
flock -w 30 9 || true
used=$(ip -o -4 addr show 2>/dev/null; ip -4 route show 2>/dev/null)
net=""
for _ in $(seq 1 50); do
  cand=10.213.$((RANDOM % 200 + 20))
  grep -q "$cand\." <<<"$used" || { net=$cand; break; }
done
[[ -n $net ]] || { echo "two-hosts.sh: no free 10.213.x.0/24 subnet" >&2; exit 1; }
subnet=$net.0/24
ips=($net.2 $net.3)
log "subnet $subnet, bridge $bridge, namespaces ${ns[*]}"

# --- network ----------------------------------------------------------------------------------
ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
for i in 0 1; do
  ip netns add "${ns[$i]}"
  ip link add "${veth[$i]}" type veth peer name "vp$i-$id" netns "${ns[$i]}"
  ip link set "${veth[$i]}" master "$bridge" up
  ip -n "${ns[$i]}" link set "vp$i-$id" name eth0
  ip -n "${ns[$i]}" addr add "${ips[$i]}/24" dev eth0
  ip -n "${ns[$i]}" link set lo up
  ip -n "${ns[$i]}" link set eth0 up
done
# optional rate limit: shape the egress of both ends of each veth, so each direction is limited
# (host->bridge on eth0, bridge->host on the root-side end). The qdiscs go away with the links.
# burst 256kb: well above the largest packet (a 64 KiB GSO segment), which tbf must pass whole.
if [[ -n $rate ]]; then
  for i in 0 1; do
    { tc -n "${ns[$i]}" qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms &&
      tc qdisc add dev "${veth[$i]}" root tbf rate "$rate" burst 256kb latency 50ms; } ||
      { echo "two-hosts.sh: tc could not apply TWO_HOSTS_RATE='$rate'" >&2; exit 1; }
  done
  log "links limited to $rate per direction (tbf on eth0 in each namespace and on ${veth[*]})"
fi
# wait until both hosts answer (bridge ports go to forwarding immediately: STP is off by default)
for i in 0 1; do
  ok=0
  for _ in $(seq 1 20); do
    if ip netns exec "${ns[$i]}" ping -c1 -W1 "$net.1" >/dev/null 2>&1 ||
       { ! command -v ping >/dev/null && ip -n "${ns[$i]}" -o link show eth0 | grep -q 'state UP'; }; then
      ok=1; break
    fi
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "two-hosts.sh: namespace ${ns[$i]} is not reachable" >&2; exit 1; }
done
exec 9>&-   # releases the lock; mpirun must not inherit it

# --- launcher agent + hostfile ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/vae-two-hosts.XXXXXX)
mkdir -p "$tmp/h0" "$tmp/h1"
cat >"$tmp/agent" <<EOF
#!/usr/bin/env bash
# plm_rsh_agent: called like ssh, "agent [OPTIONS] HOST COMMAND...": runs COMMAND in HOST's netns.
while [[ \$# -gt 0 && \$1 == -* ]]; do shift; done
host=\$1; shift
case \$host in
  ${ips[0]}|${ns[0]}) ns=${ns[0]}; t=$tmp/h0 ;;
  ${ips[1]}|${ns[1]}) ns=${ns[1]}; t=$tmp/h1 ;;
  *) echo "two-hosts agent: unknown host \$host" >&2; exit 255 ;;
esac
# Like ssh: the remote side does not inherit mpirun's Open MPI / PMIx state. Each host gets its
# own TMPDIR (so the two orteds' session directories do not share a tree) and, in a private UTS
# namespace, its own hostname (the namespace's name), which MPI_Get_processor_name reports.
for v in \$(compgen -e); do case \$v in OMPI_*|PMIX_*|OPAL_*|ORTE_*) unset "\$v" ;; esac; done
export TMPDIR=\$t
exec ip netns exec "\$ns" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$ns" "\$*"
EOF
chmod +x "$tmp/agent"
printf '%s slots=1\n' "${ips[@]}" >"$tmp/hostfile"

# --- run ----------------------------------------------------------------------------------------
mca=(
  --allow-run-as-root
  --hostfile "$tmp/hostfile" -np 2 --map-by node --oversubscribe
  --bind-to none                      # both "hosts" are this machine: default binding puts both ranks on core 0
  --mca plm rsh
  --mca plm_rsh_agent "$tmp/agent"
  --mca plm_rsh_no_tree_spawn 1
  --mca orte_keep_fqdn_hostnames 1
  --mca btl tcp,self
  --mca btl_tcp_if_include "$subnet"
  --mca oob_tcp_if_include "$subnet"
  --mca pml ob1 --mca osc ^ucx        # keep UCX (which could use shared memory) out of it
)
log "mpirun ${mca[*]} ${mpi_opts[*]} $*"
# In the background + wait, so a TERM/INT to this script runs the cleanup at once.
# timeout -k: mpirun does not always exit on the TERM (seen with a host's link down), so KILL it
# 10 s later; whatever it leaves inside the namespaces is killed by the cleanup.
# mpirun's stderr goes through a filter that drops one benign Open MPI race warning,
# "plm:rsh: Warning: setpgid(PID,PID) failed in parent with errno=Permission denied(13)",
# printed when an agent has already exec'd by the time mpirun calls setpgid on it.
mkfifo "$tmp/stderr"
grep --line-buffered -v -E '^\[[^]]*\] plm:rsh: Warning: setpgid\([0-9]+,[0-9]+\) failed in parent' <"$tmp/stderr" >&2 &
filter_pid=$!
start=$SECONDS
timeout -k 10 "$timeout_s" mpirun "${mca[@]}" "${mpi_opts[@]}" "$@" </dev/null 2>"$tmp/stderr" &
job_pid=$!
set +e
wait "$job_pid"
rc=$?
# the filter ends once every writer (mpirun, orteds, ranks) is gone; give stragglers 5 s
for _ in $(seq 1 50); do kill -0 "$filter_pid" 2>/dev/null || break; sleep 0.1; done
set -e
if [[ $rc -eq 124 || ( $rc -eq 137 && $SECONDS -ge $((start + timeout_s)) ) ]]; then
  echo "two-hosts.sh: timed out after ${timeout_s}s" >&2
  rc=124
fi
exit "$rc"
