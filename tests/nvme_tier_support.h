// Helpers for tests that drive an NvmeTier directly (no Store): a tier over a
// real directory (real files, io_uring, RocksDB) with the fault-injecting
// queue installed, and one-block writes and reads.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/nvme/nvme_tier.h"
#include "backends/testing/faulty_io_queue.h"
#include "lib/sliding_window.h"
#include "tests/test_support.h"

namespace kvtier::testing {

// A tier of `slots` one-block slots of `layout` in `dir`.
struct NvmeTierSetup {
  std::string dir;
  KvLayout layout = SmallLayout();
  uint32_t slots = 16;
  uint32_t queue_depth = 16;
  uint32_t max_queues = 4;
  std::shared_ptr<IoFaults> faults = std::make_shared<IoFaults>();
  internal::ManifestHooks manifest_hooks = {};

  internal::NvmeTierConfig Config() const {
    const internal::FormBytes bytes = internal::StoredBytesByForm(layout, Codec::kRaw);
    internal::NvmeTierConfig c;
    c.directories = {dir};
    c.whole_bytes = bytes.whole;
    c.trimmed_bytes = bytes.trimmed;
    c.capacity_bytes = uint64_t{slots} * internal::NvmeGeometry(c).frame_bytes();
    c.queue_depth = queue_depth;
    c.max_queues = max_queues;
    c.codec = internal::BlockCodec::For(Codec::kRaw, layout);
    c.identity = "test=nvme-tier\n";
    c.namespace_id = 11;
    c.wrap_queue = FaultyIoQueue::Wrapper(faults);
    c.manifest_hooks = manifest_hooks;
    return c;
  }
  std::unique_ptr<internal::NvmeTier> Open() const {
    auto tier = internal::NvmeTier::Create(Config());
    INFO(tier.status().ToString());
    REQUIRE(tier.ok());
    return std::move(tier).value();
  }
};

inline BlockHash TierHash(uint64_t i) { return BlockHash{0x5000 + i, 0xdef0 + i}; }

// Writes block `hash` (FillFromHash content) into `slot`.
inline Status WriteBlock(internal::TierBackend& tier, const KvLayout& layout,
                         uint32_t slot, const BlockHash& hash) {
  EngineBuffers src(layout, 1);
  src.FillFrom({&hash, 1});
  internal::BlockIo r{slot, hash, nullptr, src.all(), Status::Ok(), {}};
  tier.WriteBatch({&r, 1});
  return r.status;
}

// Reads `slot` as `hash`; OK only when every byte is FillFromHash's.
inline Status ReadBlock(internal::TierBackend& tier, const KvLayout& layout,
                        uint32_t slot, const BlockHash& hash) {
  EngineBuffers dst(layout, 1);
  internal::BlockIo r{slot, hash, nullptr, dst.all(), Status::Ok(), {}};
  tier.ReadBatch({&r, 1});
  if (r.status.ok() && !dst.Matches(0, hash)) return Internal("wrong bytes");
  return r.status;
}

// Recovered blocks by slot.
inline std::vector<internal::RecoveredBlock> RecoveredBySlot(internal::NvmeTier& tier) {
  std::vector<internal::RecoveredBlock> r = tier.TakeRecovered();
  std::sort(r.begin(), r.end(),
            [](const auto& a, const auto& b) { return a.slot < b.slot; });
  return r;
}

}  // namespace kvtier::testing
