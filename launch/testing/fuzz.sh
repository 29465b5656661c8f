#!/usr/bin/env bash
# Fuzzes the parsers of files a user hands us (Fuzz/Targets) with libFuzzer, SECONDS each, one at a time.
#   launch/testing/fuzz.sh SECONDS [TARGET...]        targets: idx safetensors state config image attributes (default: all)
# Builds vae-fuzz with libFuzzer and AddressSanitizer into .build/fuzz, apart from the normal build. Each
# target starts from Fuzz/corpus/TARGET; the inputs it finds go to $FUZZ_WORK/TARGET/corpus (default
# /tmp/vae-fuzz), never into the repository. A crash, a run over 10 s or over 2 GB stops that target and
# lands in $FUZZ_WORK/TARGET/artifacts: replay it with `swift run vae-fuzz TARGET FILE`, fix the parser,
# and add the file to Fuzz/regressions/TARGET, which the test suite replays (FuzzRegressionTests).
# Prints one line per target: executions, executions a second, coverage, new inputs, findings.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?usage: launch/testing/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
(( ${#targets[@]} )) || targets=(idx safetensors state config image attributes)
work=${FUZZ_WORK:-/tmp/vae-fuzz}

flags=(--scratch-path .build/fuzz --product vae-fuzz --sanitize=address
       -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link -Xswiftc -use-ld=lld)
swift build "${flags[@]}"
fuzzer="$(swift build "${flags[@]}" --show-bin-path)/vae-fuzz"

summaries=()
for target in "${targets[@]}"; do
    [[ -d Fuzz/corpus/$target ]] || { echo "no seed corpus Fuzz/corpus/$target" >&2; exit 2; }
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    log="$work/$target/fuzz.log"
    echo "fuzzing $target for $seconds s (log: $log)"
    start=$SECONDS
    # New inputs go to the first directory, the scratch one; the seeds are only read.
    VAE_FUZZ_TARGET=$target "$fuzzer" "$work/$target/corpus" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/$target/artifacts/" >"$log" 2>&1 || true
    stat() { awk -v key="stat::$1:" '$1 == key { print $2 }' "$log" | tail -1; }
    coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 | awk '{ print $2 " (features " $4 ")" }')
    findings=$(find "$work/$target/artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    summaries+=("$target: $((SECONDS - start)) s, $(stat number_of_executed_units) executions, $(stat average_exec_per_sec)/s, coverage ${coverage:-?}, $(stat new_units_added) new inputs, $findings crashes/timeouts/OOMs in $work/$target/artifacts")
done
printf '%s\n' "${summaries[@]}"
