#!/usr/bin/env bash
# Elastic training: runs `mpirun … vae train …`, and when the job fails, checks every host, drops those that do
# not answer, and starts the job again with --resume on the hosts left, at a world size that keeps the run
# exact. torchrun (--max-restarts) and Horovod elastic (--min-np, --host-discovery-script) do the same; here the
# run that finishes on fewer ranks ends with the bytes of a run never interrupted.
#
#   launch/elastic.sh (--hostfile FILE | --discover SCRIPT) [--min-ranks N] [--max-restarts K]
#                     [--agent COMMAND] [--mpirun-args "ARGS"] -- VAE train --config FILE [--set K=V]... --out DIR
#
# Hosts: FILE holds Open MPI hostfile lines ("node1 slots=16"); SCRIPT prints "host:slots" lines (Horovod's
# format) and is asked again before every start, so a host it lists again is taken back. A host is healthy
# when `COMMAND HOST true` answers within 10 s (COMMAND: ssh by default; give mpirun's plm_rsh_agent if it has
# one); one that does not is dropped (with --hostfile, for the rest of the run).
# World size: the largest that the healthy hosts' slots hold and that keeps the run exact: every rank gets a
# power-of-two number of whole micro-batches of the global batch, so the bytes are those of any other such
# size; when none fits, the largest that splits the batch into whole micro-batches, and it says so. The global
# batch and the learning rate never change.
# Each start after the first prints one line (the hosts dropped, the world size, the step it resumes from)
# and appends a record {"kind": "restart", …} to OUT/metrics.jsonl. Exit status: the job's last; 1 when it
# gives up (below --min-ranks, or past --max-restarts). docs/distributed.md says what a failure costs.
set -uo pipefail

usage() { sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
hostfile="" discover="" min_ranks=1 max_restarts=3 agent=ssh mpirun_args=""
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --hostfile) hostfile=${2:?}; shift 2 ;;
    --discover) discover=${2:?}; shift 2 ;;
    --min-ranks) min_ranks=${2:?}; shift 2 ;;
    --max-restarts) max_restarts=${2:?}; shift 2 ;;
    --agent) agent=${2:?}; shift 2 ;;
    --mpirun-args) mpirun_args=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ ${1:-} == -- ]] || usage
shift
[[ $# -ge 2 && $2 == train ]] || { echo "elastic.sh: the command after -- must be 'VAE train …'" >&2; exit 2; }
[[ -n $hostfile || -n $discover ]] && [[ -z $hostfile || -z $discover ]] || { echo "elastic.sh: give --hostfile or --discover" >&2; exit 2; }
[[ $min_ranks =~ ^[1-9][0-9]*$ && $max_restarts =~ ^[0-9]+$ ]] || { echo "elastic.sh: --min-ranks and --max-restarts take counts" >&2; exit 2; }
train=("$@")
vae=$1

# The settings the world size depends on, as `vae config` resolves them from the command's --config and --set.
config_args=() out=""
for ((i = 2; i < ${#train[@]}; i++)); do
  case ${train[$i]} in
    --config|--set) config_args+=("${train[$i]}" "${train[$((i + 1))]}"); i=$((i + 1)) ;;
    --out) out=${train[$((i + 1))]}; i=$((i + 1)) ;;
  esac
done
resolved=$("$vae" config "${config_args[@]}") || exit 2
setting() { awk -v section="$1:" -v key="  $2:" '$0 == section { inside = 1; next } /^[a-z]/ { inside = 0 } inside && index($0, key) == 1 { print $2; exit }' <<<"$resolved"; }
batch=$(setting training batch_size) micro=$(setting training micro_batch)
[[ -n $out ]] || out=$(setting output dir)
out=${out//\"/}
replica_dir=$(setting checkpoint replica_dir)
replica_dir=${replica_dir//\"/}

# The newest checkpoint step any of HOSTS holds, in the output directory or its replica directory (the ranks
# verify it and take the newest valid one themselves).
newest_step() {
  local host
  for host in "$@"; do
    timeout 10 $agent "$host" "ls $out/checkpoints ${replica_dir:+$replica_dir/checkpoints}" </dev/null 2>/dev/null
  done | sed -n 's/^step-0*\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1
}

# world_size SLOTS: the largest exact size, else the largest that runs (then "inexact"), else 0.
world_size() {
  local w exact=0 runs=0
  for ((w = $1; w >= 1; w--)); do
    (( batch % w == 0 && (batch / w) % micro == 0 )) || continue
    (( runs == 0 )) && runs=$w
    local leaves=$(( batch / w / micro ))
    (( (leaves & (leaves - 1)) == 0 )) && { exact=$w; break; }
  done
  if (( exact > 0 )); then echo "$exact"; elif (( runs > 0 )); then echo "$runs inexact"; else echo 0; fi
}

# The candidate hosts, "host slots" per line.
candidates() {
  if [[ -n $discover ]]; then "$discover" | awk -F: 'NF == 2 && $2 > 0 { print $1, $2 }'
  else awk '!/^[[:space:]]*(#|$)/ { slots = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) slots = substr($i, 7); print $1, slots }' "$hostfile"
  fi
}

declare -A dropped=()
healthy() { timeout 10 $agent "$1" true </dev/null >/dev/null 2>&1; }
tmp=$(mktemp -d /tmp/vae-elastic.XXXXXX)
job=""
trap 'rm -rf "$tmp"' EXIT
trap '[[ -n $job ]] && kill -TERM "$job" 2>/dev/null; wait; exit 143' TERM INT

restarts=0 previous="" rc=0 started=$SECONDS
while true; do
  : >"$tmp/hosts"
  slots=0 used=()
  while read -r host count; do
    [[ -n ${dropped[$host]:-} && -z $discover ]] && continue
    if healthy "$host"; then
      unset "dropped[$host]"
      echo "$host slots=$count" >>"$tmp/hosts"; slots=$((slots + count)); used+=("$host")
    else
      dropped[$host]=1
    fi
  done < <(candidates)
  read -r ranks inexact <<<"$(world_size "$slots")"
  if (( ranks < min_ranks )); then
    echo "elastic.sh: giving up: the healthy hosts (${used[*]:-none}) hold $slots slots, room for $ranks ranks, fewer than --min-ranks $min_ranks" >&2
    exit 1
  fi
  [[ -n ${inexact:-} ]] && echo "elastic.sh: no world size up to $slots gives every rank a power-of-two number of micro-batches of the batch $batch; $ranks ranks train with the same bits on every rank, not those of one rank" >&2
  if (( restarts > 0 )); then
    lost=$(comm -23 <(tr ' ' '\n' <<<"$previous" | sort) <(printf '%s\n' "${used[@]}" | sort) | paste -sd ' ')
    step=$(newest_step "${used[@]}")
    echo "elastic.sh: restart $restarts: dropped ${lost:-no host}; $ranks ranks on ${#used[@]} hosts (${used[*]}); resuming from step ${step:-0}"
    mkdir -p "$out" && printf '{"kind":"restart","restart":%d,"dropped":"%s","world_size":%d,"hosts":"%s","resumed_from":%d,"wall_s":%d}\n' \
      "$restarts" "$lost" "$ranks" "${used[*]}" "${step:-0}" "$((SECONDS - started))" >>"$out/metrics.jsonl"
  fi
  previous="${used[*]}"
  # The watch below: every 5 s each host of the job must answer, and once a host does not, or a rank has ended
  # the job (its watchdog, MPI_Abort), or Open MPI has lost a node (mpirun's stderr, through a file), mpirun
  # gets 5 s to exit. A host that vanished without closing its connections would keep it waiting far longer,
  # so it is killed then; its daemons on the hosts left follow it.
  : >"$tmp/stderr"
  # shellcheck disable=SC2086  # the mpirun arguments are words on purpose
  mpirun --hostfile "$tmp/hosts" -np "$ranks" --map-by slot $mpirun_args "${train[@]}" 2> >(tee -a "$tmp/stderr" >&2) &
  job=$!
  (
    failed() {
      grep -qE 'ending the job|MPI_ABORT was invoked|lost communication with a remote daemon' "$tmp/stderr" && return 0
      local host
      for host in "${used[@]}"; do healthy "$host" || { echo "elastic.sh: $host does not answer" >&2; return 0; }; done
      return 1
    }
    while kill -0 "$job" 2>/dev/null; do
      if failed; then
        for _ in $(seq 1 50); do kill -0 "$job" 2>/dev/null || exit 0; sleep 0.1; done
        echo "elastic.sh: the job failed and mpirun did not end; killing it" >&2
        kill -KILL "$job" 2>/dev/null
        exit 0
      fi
      for _ in $(seq 1 10); do kill -0 "$job" 2>/dev/null || exit 0; sleep 0.5; done
    done
  ) &
  watch=$!
  wait "$job"
  rc=$?
  kill "$watch" 2>/dev/null
  wait "$watch" 2>/dev/null
  job=""
  (( rc == 0 )) && exit 0
  if (( restarts >= max_restarts )); then
    echo "elastic.sh: giving up: the job failed (status $rc) after $restarts restarts, the most --max-restarts allows" >&2
    exit 1
  fi
  restarts=$((restarts + 1))
  # Every restart resumes from the newest checkpoint, not from a PATH the first start was given.
  again=()
  for ((i = 0; i < ${#train[@]}; i++)); do
    [[ ${train[$i]} == --resume=* ]] && continue
    [[ ${train[$i]} == --resume ]] || { again+=("${train[$i]}"); continue; }
    [[ ${train[$((i + 1))]:---} == --* ]] || i=$((i + 1))
  done
  train=("${again[@]}" --resume)
done
