#!/usr/bin/env bash
# Runs an Open MPI job across simulated hosts on this machine (two by default): each host is a
# Linux network namespace, and the ranks of different hosts talk to each other (and to mpirun)
# over TCP only.
#
#   launch/testing/namespace-hosts.sh COMMAND [ARGS...]
#   launch/testing/namespace-hosts.sh [MPIRUN-OPTIONS...] -- COMMAND [ARGS...]
#
# If the first argument starts with "-", everything up to the first "--" goes to mpirun as
# extra options (e.g. "-x FOO -x BAR=1 --mca btl_base_verbose 30"); otherwise all arguments
# are the command. HOSTS_SLOTS ranks run on each of HOSTS hosts, a host's ranks contiguous
# (--map-by slot): ranks 0 … S−1 on host 0, and so on.
#
# Needs root, iproute2 and Debian's openmpi-bin (Open MPI 4.1). Layout, in the root namespace:
#   bridge vae-br-PID  10.213.X.1/24  (mpirun/HNP lives here)
#   netns vae-h0-PID   eth0 10.213.X.2/24  (orted + ranks of host 0)
#   netns vae-h1-PID   eth0 10.213.X.3/24  (orted + ranks of host 1), and so on
# mpirun starts each orted through a generated plm_rsh_agent that does "ip netns exec NS sh -c".
# Everything (namespaces, links, temp dir) is removed on exit, also on failure, timeout or a
# signal. Exit status: the mpirun's; 124 on timeout; 128+N when this script gets signal N.
#
# Environment:
#   HOSTS          how many hosts (default 2)
#   HOSTS_SLOTS    ranks per host (default 1); ranks of one host talk through shared memory (vader)
#   HOSTS_TIMEOUT  seconds before mpirun is sent TERM (default 120; KILL 10 s later)
#   HOSTS_DEBUG=1  print the setup and the full mpirun command line on stderr
#   HOSTS_RATE     limit each host's link to this rate in each direction (tc rate, e.g.
#                  1gbit, 100mbit; default: unlimited). A tbf qdisc goes on the egress of
#                  each namespace's eth0 and of each bridge-side veth end; needs tc (iproute2)
#   HOSTS_BYTES=FILE  after the job, write one line per host to FILE: "HOST SENT RECEIVED", the
#                  bytes its eth0 carried (headers included; mpirun's own traffic too, a few KB)
#   HOSTS_SUPERVISE=1  run COMMAND itself instead of mpirun, as a supervisor that starts its own mpiruns
#                  (launch/elastic.sh), with HOSTS_FILE (the hostfile), HOSTS_AGENT (the agent: "AGENT IP
#                  COMMAND" runs COMMAND on that host, or fails as ssh would while the host's link is down)
#                  and HOSTS_MPIRUN_ARGS (the options every mpirun on these hosts needs) in its environment
#   HOSTS_STATE=FILE  write one line per host to FILE once the hosts are up: "INDEX NAMESPACE LINK IP",
#                  LINK the host's end of the bridge (ip link set LINK down takes the host off the network)
#   OPENBLAS_NUM_THREADS  math threads per rank (default: the cores over the ranks, at least 1,
#                  since every host shares this machine's cores)
# Standard input is not forwarded to the job (it reads /dev/null). The ranks inherit this
# script's environment (unlike real ssh hosts); -x VAR still works and documents intent.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -gt 0 ]] || usage
mpi_opts=()
if [[ $1 == -* ]]; then
  while [[ $# -gt 0 && $1 != -- ]]; do mpi_opts+=("$1"); shift; done
  [[ $# -gt 0 ]] || { echo "namespace-hosts.sh: missing '--' before the command" >&2; usage; }
  shift
fi
[[ $# -gt 0 ]] || usage
[[ $(id -u) -eq 0 ]] || { echo "namespace-hosts.sh: must run as root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "namespace-hosts.sh: 'ip' not found (apt-get install -y iproute2)" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "namespace-hosts.sh: 'mpirun' not found (apt-get install -y openmpi-bin)" >&2; exit 2; }

hosts=${HOSTS:-2}
slots=${HOSTS_SLOTS:-1}
[[ $hosts =~ ^[0-9]+$ && $hosts -ge 1 && $hosts -le 64 ]] || { echo "namespace-hosts.sh: HOSTS='$hosts' is not a count from 1 to 64" >&2; exit 2; }
[[ $slots =~ ^[0-9]+$ && $slots -ge 1 ]] || { echo "namespace-hosts.sh: HOSTS_SLOTS='$slots' is not a positive count" >&2; exit 2; }
bytes_file=${HOSTS_BYTES:-}
debug=${HOSTS_DEBUG:-0}
timeout_s=${HOSTS_TIMEOUT:-120}
rate=${HOSTS_RATE:-}
if [[ -n $rate ]]; then
  command -v tc >/dev/null || { echo "namespace-hosts.sh: 'tc' not found, needed by HOSTS_RATE (apt-get install -y iproute2)" >&2; exit 2; }
  [[ ${rate,,} =~ ^[0-9]+(\.[0-9]+)?([kmgt]i?)?(bit|bps)$ ]] ||
    { echo "namespace-hosts.sh: HOSTS_RATE='$rate' is not a tc rate such as 1gbit or 100mbit" >&2; exit 2; }
fi
log() { if [[ $debug == 1 ]]; then echo "namespace-hosts: $*" >&2; fi; }
# Each host's ranks would share every core among their math threads; all "hosts" share this
# machine's cores, so unless told otherwise each rank gets its share (more threads than cores
# oversubscribe, and OpenMP's spinning threads then run several times slower).
cores=$(nproc) ranks=$((hosts * slots))
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$(( cores > ranks ? cores / ranks : 1 ))}

id=$$
bridge=vae-br-$id
ns=() veth=()                 # veth: the root-namespace ends; the other ends become eth0 inside each namespace
for ((i = 0; i < hosts; i++)); do ns+=(vae-h$i-$id); veth+=(vae$i-$id); done
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
[[ -n $net ]] || { echo "namespace-hosts.sh: no free 10.213.x.0/24 subnet" >&2; exit 1; }
subnet=$net.0/24
ips=()
for ((i = 0; i < hosts; i++)); do ips+=($net.$((i + 2))); done
log "subnet $subnet, bridge $bridge, namespaces ${ns[*]}"

# --- network ----------------------------------------------------------------------------------
ip link add "$bridge" type bridge
ip addr add "$net.1/24" dev "$bridge"
ip link set "$bridge" up
for ((i = 0; i < hosts; i++)); do
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
  for ((i = 0; i < hosts; i++)); do
    { tc -n "${ns[$i]}" qdisc add dev eth0 root tbf rate "$rate" burst 256kb latency 50ms &&
      tc qdisc add dev "${veth[$i]}" root tbf rate "$rate" burst 256kb latency 50ms; } ||
      { echo "namespace-hosts.sh: tc could not apply HOSTS_RATE='$rate'" >&2; exit 1; }
  done
  log "links limited to $rate per direction (tbf on eth0 in each namespace and on ${veth[*]})"
fi
# wait until every host answers (bridge ports go to forwarding immediately: STP is off by default)
for ((i = 0; i < hosts; i++)); do
  ok=0
  for _ in $(seq 1 20); do
    if ip netns exec "${ns[$i]}" ping -c1 -W1 "$net.1" >/dev/null 2>&1 ||
       { ! command -v ping >/dev/null && ip -n "${ns[$i]}" -o link show eth0 | grep -q 'state UP'; }; then
      ok=1; break
    fi
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "namespace-hosts.sh: namespace ${ns[$i]} is not reachable" >&2; exit 1; }
done
# The counters are read after the setup's pings and again after the job, so the bytes are the job's.
counter() { ip netns exec "${ns[$1]}" cat "/sys/class/net/eth0/statistics/$2"; }
counters() { for ((i = 0; i < hosts; i++)); do echo "$i $(counter "$i" tx_bytes) $(counter "$i" rx_bytes)"; done; }
before=$(counters)
exec 9>&-   # releases the lock; mpirun must not inherit it

# --- launcher agent + hostfile ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/vae-namespace-hosts.XXXXXX)
cases=""
for ((i = 0; i < hosts; i++)); do
  mkdir -p "$tmp/h$i"
  cases+="  ${ips[$i]}|${ns[$i]}) ns=${ns[$i]}; t=$tmp/h$i; link=${veth[$i]} ;;"$'\n'
done
cat >"$tmp/agent" <<EOF
#!/usr/bin/env bash
# plm_rsh_agent: called like ssh, "agent [OPTIONS] HOST COMMAND...": runs COMMAND in HOST's netns.
while [[ \$# -gt 0 && \$1 == -* ]]; do shift; done
host=\$1; shift
case \$host in
$cases  *) echo "namespace-hosts agent: unknown host \$host" >&2; exit 255 ;;
esac
# A host whose link is down answers nothing, as over ssh.
ip link show "\$link" 2>/dev/null | grep -q 'state UP' || { echo "namespace-hosts agent: connect to host \$host: No route to host" >&2; exit 255; }
# Like ssh: the remote side does not inherit mpirun's Open MPI / PMIx state. Each host gets its
# own TMPDIR (so the two orteds' session directories do not share a tree) and, in a private UTS
# namespace, its own hostname (the namespace's name), which MPI_Get_processor_name reports.
for v in \$(compgen -e); do case \$v in OMPI_*|PMIX_*|OPAL_*|ORTE_*) unset "\$v" ;; esac; done
export TMPDIR=\$t
exec ip netns exec "\$ns" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$ns" "\$*"
EOF
chmod +x "$tmp/agent"
printf "%s slots=$slots\n" "${ips[@]}" >"$tmp/hostfile"

if [[ -n ${HOSTS_STATE:-} ]]; then
  for ((i = 0; i < hosts; i++)); do echo "$i ${ns[$i]} ${veth[$i]} ${ips[$i]}"; done >"$HOSTS_STATE"
fi

# --- run ----------------------------------------------------------------------------------------
placement=(--hostfile "$tmp/hostfile" -np "$ranks" --map-by slot)
mca=(
  --allow-run-as-root --oversubscribe
  --bind-to none                      # every "host" is this machine: default binding puts them all on core 0
  --mca plm rsh
  --mca plm_rsh_agent "$tmp/agent"
  --mca plm_rsh_no_tree_spawn 1
  --mca orte_keep_fqdn_hostnames 1
  --mca btl self,vader,tcp             # vader only joins ranks of one host: each orted is a node of its own
  --mca btl_tcp_if_include "$subnet"
  --mca oob_tcp_if_include "$subnet"
  --mca pml ob1 --mca osc ^ucx        # keep UCX (which could use shared memory) out of it
)
log "mpirun ${placement[*]} ${mca[*]} ${mpi_opts[*]} $*"
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
if [[ ${HOSTS_SUPERVISE:-0} == 1 ]]; then
  HOSTS_FILE=$tmp/hostfile HOSTS_AGENT=$tmp/agent HOSTS_MPIRUN_ARGS="${mca[*]} ${mpi_opts[*]}" \
    timeout -k 10 "$timeout_s" "$@" </dev/null 2>"$tmp/stderr" &
else
  timeout -k 10 "$timeout_s" mpirun "${placement[@]}" "${mca[@]}" "${mpi_opts[@]}" "$@" </dev/null 2>"$tmp/stderr" &
fi
job_pid=$!
set +e
wait "$job_pid"
rc=$?
if [[ -n $bytes_file ]]; then
  paste -d ' ' <(echo "$before") <(counters) | while read -r host sent received _ sent_after received_after; do
    echo "$host $((sent_after - sent)) $((received_after - received))"
  done >"$bytes_file"
fi
# the filter ends once every writer (mpirun, orteds, ranks) is gone; give stragglers 5 s
for _ in $(seq 1 50); do kill -0 "$filter_pid" 2>/dev/null || break; sleep 0.1; done
set -e
if [[ $rc -eq 124 || ( $rc -eq 137 && $SECONDS -ge $((start + timeout_s)) ) ]]; then
  echo "namespace-hosts.sh: timed out after ${timeout_s}s" >&2
  rc=124
fi
exit "$rc"
