#!/bin/sh
# What a machine with a GPU runs: the GPU tests, then the transfer ratios of
# the CUDA data path (kvtier-bench --tier gpu) as JSON lines, one per piece
# size. Without a usable GPU it says so and exits 77 (the "skipped" code of
# automake and ctest).
#
#   scripts/gpu-check.sh [path/to/kvtier-bench]     (default: build/bin/kvtier-bench)
#
# Targets (issue 14): gather_ratio or dma_ratio >= 0.9 for 1 MiB pieces and
# up, >= 0.7 for 64 KiB pieces through the gather kernel.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${1:-$here/build/bin/kvtier-bench}
if [ ! -x "$bench" ]; then
  echo "gpu-check: $bench not found; build it first (cmake --build build --target kvtier-bench)" >&2
  exit 2
fi
bin=$(dirname "$bench")
build=$(dirname "$bin")

# The probe is the bench itself: it opens the CUDA copy engine and exits 77
# with the runtime's reason when there is no device.
probe=$("$bench" --tier gpu --block-bytes 1MiB --capacity 1MiB 2>&1)
rc=$?
if [ $rc -eq 77 ]; then
  echo "gpu-check: no usable GPU here, nothing to measure: ${probe#kvtier-bench: --tier gpu: no usable GPU: }" >&2
  echo "gpu-check: no usable GPU (exit 77: skipped)"
  exit 77
fi
if [ $rc -ne 0 ]; then
  echo "gpu-check: the probe failed (exit $rc): $probe" >&2
  exit 1
fi

status=0
if [ -f "$build/CTestTestfile.cmake" ]; then
  ctest --test-dir "$build" -R "device|gpu" --output-on-failure || status=1
fi
for size in 16KiB 64KiB 256KiB 1MiB 2MiB; do
  "$bench" --tier gpu --block-bytes $size --capacity 256MiB || status=1
done
exit $status
