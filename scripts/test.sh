#!/usr/bin/env bash
# The README's second command (and CI's): build if needed, then run the
# whole test suite through ctest. Extra arguments go to ctest (e.g. -R hash).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kvtier_install_deps
kvtier_build
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
