#!/usr/bin/env bash
# kvtier added with add_subdirectory gives the engine kvtier::kvtier and
# nothing else: no tests, benchmarks, examples or install rules join its
# build. Configures only (building kvtier is the main build's job).
# Usage: subproject.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src="$1"; work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"
cmake -S "$here/subproject_consumer" -B "$work" -DKVTIER_SOURCE_DIR="$src" \
  -DKVTIER_WITH_CUDA=OFF >/dev/null
targets=$(cmake --build "$work" --target help | sed -n 's/^\.\.\. \([^ ]*\).*/\1/p')
grep -qx consumer <<<"$targets" || { echo "no consumer target"; exit 1; }
grep -qx kvtier_shared <<<"$targets" || { echo "no kvtier_shared target"; exit 1; }
for unwanted in kvtier-tests kvtier-micro kvtier-bench kvtier-replay kvtier-demo \
                kvtier_testing install; do
  if grep -qx "$unwanted" <<<"$targets"; then
    echo "kvtier as a subproject still adds '$unwanted' to the engine's build"; exit 1
  fi
done
echo "subproject: kvtier::kvtier only ($(wc -l <<<"$targets") targets)"
