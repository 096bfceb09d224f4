#!/usr/bin/env bash
# Sanitizer runs (CI runs this after scripts/test.sh):
#   build-asan  ASAN + UBSAN: every unit test, except the CLI and bench tests
#               (they run the real tools over whole traces: minutes under
#               ASAN, and the same code is covered by the unit tests);
#   build-tsan  TSAN: the tests that run threads against each other.
# Any sanitizer report fails the run (halt_on_error, UBSAN included).
# Measured times: README's Development section. Extra arguments go to both
# ctest runs (e.g. -R nvme).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kvtier_install_deps

jobs="$(nproc)"
targets=(kvtier-tests kvtier-nvme-crash kvtier-c-example kvtier-c-abi-v1)

build() {  # build-dir sanitizer
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVTIER_SANITIZE="$2" \
    -DKVTIER_BUILD_BENCH=OFF -DKVTIER_WITH_CUDA=OFF >/dev/null
  cmake --build "$1" -j"$jobs" --target "${targets[@]}"
}

# The tests named here drive kvtier-replay / kvtier-bench over full traces
# (gpu-check.sh: kvtier-bench through the script); the sanitizer builds do
# not build the tools (tests/CMakeLists.txt), the normal suite runs them.
# Those labelled "python" load the sanitized libkvtier.so into an
# unsanitized python3, which ASAN refuses (its runtime must come first).
asan_excluded='^(cli:|bench cli:|gpu-check\.sh )'

echo "== ASAN+UBSAN =="
build build-asan address
ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0" \
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -E "$asan_excluded" -LE python \
    "$@"

echo "== TSAN =="
# The TSAN build holds only the tests whose threads meet (tests/CMakeLists.txt,
# KVTIER_THREADED_TESTS) and the crash tests (a store's background threads
# under kills): the label "tsan".
build build-tsan thread
TSAN_OPTIONS="halt_on_error=1:suppressions=$PWD/tests/tsan_suppressions.txt" \
  ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L tsan "$@"
