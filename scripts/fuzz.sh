#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang 14, ASAN + UBSAN) in build-fuzz
# and runs each for FUZZ_SECONDS (default 30: CI's smoke run) from the
# seeds in fuzz/corpus/<target>; new inputs go to build-fuzz/corpus/<target>,
# crashes to build-fuzz/artifacts/. Exit 1 on any finding.
# FUZZ_JOBS targets run at once (default: one per core).
#   scripts/fuzz.sh [target...]        e.g. FUZZ_SECONDS=600 scripts/fuzz.sh stored_block
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kvtier_install_deps
# clang 14 and its sanitizer runtime build the fuzzers (not the library's
# deps: only this script needs them).
KVTIER_PACKAGES=(clang-14 libclang-rt-14-dev)
kvtier_install_deps

seconds="${FUZZ_SECONDS:-30}"
targets=("$@")
[ ${#targets[@]} -eq 0 ] &&
  targets=(trace_mooncake trace_tokens trace_sessions manifest_entry stored_block c_api
           tool_args)

CC=clang-14 CXX=clang++-14 cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

mkdir -p build-fuzz/artifacts
fuzz_one() {  # target: one libFuzzer run, its output to build-fuzz/fuzz_<target>.log
  local t="$1"
  mkdir -p "build-fuzz/corpus/$t"
  # The tools' parsers print every refusal (and --help): silence the target's
  # own output; libFuzzer and the sanitizers still report.
  local quiet=()
  [ "$t" = tool_args ] && quiet=(-close_fd_mask=3)
  "build-fuzz/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
    "${quiet[@]}" "build-fuzz/corpus/$t" "fuzz/corpus/$t" >"build-fuzz/fuzz_$t.log" 2>&1
}
# As many targets at once as there are cores (one core each: libFuzzer runs
# one thread): every target still fuzzes $seconds, in a fraction of the wall
# time (CI: 4 rounds of 30 s on 2 cores instead of 7).
jobs="${FUZZ_JOBS:-$(nproc)}"
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
  batch=("${targets[@]:i:jobs}")
  pids=()
  for t in "${batch[@]}"; do
    echo "== fuzz_$t: ${seconds} s =="
    fuzz_one "$t" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    t="${batch[$k]}"
    log="build-fuzz/fuzz_$t.log"
    if ! wait "${pids[$k]}"; then
      wait  # the rest of the round
      tail -n 40 "$log"
      echo "fuzz_$t: finding, see $log and build-fuzz/artifacts"
      exit 1
    fi
    echo "fuzz_$t:"
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
  done
done
