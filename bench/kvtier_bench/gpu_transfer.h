// kvtier-bench --tier gpu: the CUDA data path against the plain runtime.
// Copies N gathered pieces (non-contiguous on the host side, as blocks in a
// tier's slots are) host->device, device->host and device->device through
// the store's copy engine, by DMA and by the gather kernel, and the same
// total as one contiguous cudaMemcpy-like copy; prints GB/s and the ratios
// (pieces / contiguous) as JSON. Exit 77 when there is no usable GPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kvtier::bench {

struct GpuTransferConfig {
  uint64_t piece_bytes = 256 << 10;  // --block-bytes
  uint64_t total_bytes = 256 << 20;  // --capacity (0: 256 MiB)
  int device = 0;
  int repeats = 5;  // timed copies per method; the median is reported
};

// Returns the process exit code (0, 1 on a failed copy, 77 without a GPU).
int RunGpuTransfers(const GpuTransferConfig& config);

}  // namespace kvtier::bench
