// OpenNvmeTier: builds the NVMe tier from Options (namespace identity,
// geometry, the io_uring seam). A build without liburing/RocksDB links a
// version that says NotSupported (DESIGN invariant 8).
#pragma once

#include <functional>
#include <memory>

#include "backends/nvme/io_queue.h"
#include "backends/nvme/manifest.h"
#include "kvtier/options.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

// Test seams, passed through to every queue the tier makes.
struct NvmeHooks {
  IoQueueFactory make_queue;  // empty: io_uring
  std::function<std::unique_ptr<IoQueue>(std::unique_ptr<IoQueue>)> wrap_queue;
  FileOpener open_file;    // empty: open(2)
  ManifestHooks manifest;  // e.g. a delay before every manifest write
};

Result<std::unique_ptr<TierBackend>> OpenNvmeTier(const Options& options,
                                                  const NvmeHooks& hooks);

}  // namespace kvtier::internal
