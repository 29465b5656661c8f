#!/usr/bin/env bash
# The long kill test: POINTS (default 24) random kill points, each a rank of `mpirun -np 2 vae train`
# sending itself SIGSTOP, SIGKILL or SIGTERM (in turn) up to 150 ms into a random step, then `--resume`.
#   launch/testing/kill-test.sh [POINTS] [SEED]        SEED defaults to the time, and is printed so a run can be repeated
# Every point must end the job within the watchdog's 10 s (plus 20 s to abort), leave no rank running and
# every checkpoint whole, and resume to the same bytes as a run never interrupted (StallAndKillTests; CI
# runs 3 points). Prints one line per point and a summary.
set -euo pipefail
cd "$(dirname "$0")/../.."
points=${1:-24}
seed=${2:-$(date +%s)}
echo "kill test: $points points, seed $seed"
started=$SECONDS
# launch/test.sh runs them on the release `vae` (and on the AVX2 path with VAE_AVX2_ONLY=1).
output=$(VAE_KILL_POINTS=$points VAE_KILL_SEED=$seed launch/test.sh --filter randomKillPoints 2>&1) && status=0 || status=$?
grep -E '^kill point' <<<"$output" || true
grep -E '✘' <<<"$output" || true
awk '/^kill point/ { split($3, p, ":"); n[p[3]]++; total[p[3]] += $5; if ($5 > worst[p[3]]) worst[p[3]] = $5 }
     END { for (s in n) printf "SIG%s: %d points, the job ended %.1f s after the signal on average, %.1f s at worst\n", s, n[s], total[s] / n[s], worst[s] }' <<<"$output"
echo "$( ((status == 0)) && echo passed || echo FAILED ) in $((SECONDS - started)) s"
exit "$status"
