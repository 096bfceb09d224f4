// OpenNvmeTier for a build without liburing or RocksDB (KVTIER_WITH_NVME=OFF):
// the NVMe tier says NotSupported, never a silent fallback.
#include "backends/nvme/open_nvme.h"

namespace kvtier::internal {

Result<std::unique_ptr<TierBackend>> OpenNvmeTier(const Options&, const NvmeHooks&) {
  return NotSupported(
      "options.nvme.capacity_bytes: this build has no NVMe tier (liburing or RocksDB "
      "was not found, or KVTIER_WITH_NVME=OFF); set it to 0");
}

}  // namespace kvtier::internal
