// StoreImpl: the Store over a BlockIndex and one TierBackend per enabled tier.
//
// Data flow of one call, and the DESIGN invariant each step keeps:
//   Lookup: shared lock -> BlockIndex::LongestPrefix              (2: a prefix)
//   Load:   lock -> pin each block at its fastest ready tier -> unlock
//           -> TierBackend::Read verifies hash+checksum, copies    (1: exact bytes)
//           -> lock -> unpin, drop failed blocks, TouchChain       (5: tail first)
//   Save:   lock -> per new block MakeRoom (evicts, never past capacity) and
//           AddPending(slot) -> unlock                             (4: bound)
//           -> TierBackend::Write (header + checksum) outside the lock
//           -> lock -> MarkReady, or Remove on failure -> TouchChain (3: degrade)
// Pinned and pending blocks are never evicted, so no slot is rewritten while
// another thread copies it. All index state is guarded by mu_ (7).
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "kvtier/store.h"
#include "lib/index/block_index.h"
#include "lib/mutex.h"
#include "lib/slot_allocator.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

using TierBackends = std::array<std::unique_ptr<TierBackend>, kNumTiers>;

// Checks everything Open can check before allocating anything.
Status ValidateOptions(const Options& options);

// Opens a store over the given backends (nullptr = tier disabled). Store::Open
// builds the real ones; tests pass fakes and fault-injecting tiers here.
Result<std::unique_ptr<Store>> OpenStoreWithTiers(const Options& options,
                                                  TierBackends backends,
                                                  bool host_memory_locked = true);

class StoreImpl final : public Store {
 public:
  StoreImpl(const Options& options, TierBackends backends, bool host_memory_locked);

  LookupResult Lookup(std::span<const BlockHash> chain) override;
  Result<LoadResult> Load(std::span<const BlockHash> chain,
                          std::span<const Segment> dst) override;
  Result<SaveResult> Save(std::span<const BlockHash> chain, std::span<const Segment> src,
                          size_t first_block) override;
  StoreStats Stats() const override;

 private:
  // A block a call works on outside the lock.
  struct SlotWork {
    size_t block;  // index in the chain
    Tier tier;
    uint32_t slot;
  };
  struct TierCounters {
    uint64_t hits = 0, inserts = 0, evictions = 0, orphans = 0, rejected = 0;
  };

  Status CheckSegments(std::span<const Segment> segments, size_t blocks,
                       const char* what) const;
  Status Reject(Status status);  // counts invalid calls

  std::vector<SlotWork> PinPrefix(std::span<const BlockHash> chain)
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t ReadPinned(std::span<const BlockHash> chain, std::span<const Segment> dst,
                    const std::vector<SlotWork>& pinned, Status* failure);
  void FinishLoad(std::span<const BlockHash> chain, const std::vector<SlotWork>& pinned,
                  size_t loaded, const Status& failure) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<SlotWork> ReserveSlots(std::span<const BlockHash> chain, size_t first_block,
                                     SaveResult* result) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<uint32_t> AdmitLocked(Tier tier, std::span<const BlockHash> chain,
                                      size_t block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FreeSlotLocked(Tier tier, uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishSave(std::span<const BlockHash> chain, const std::vector<SlotWork>& work,
                  const std::vector<Status>& written, SaveResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);

  TierBackend* backend(Tier t) const { return backends_[static_cast<int>(t)].get(); }

  const TierBackends backends_;
  const bool host_memory_locked_;
  const size_t segments_per_block_;
  const size_t segment_bytes_;

  mutable Mutex mu_;
  BlockIndex index_ ABSL_GUARDED_BY(mu_);
  std::array<std::optional<SlotAllocator>, kNumTiers> slots_ ABSL_GUARDED_BY(mu_);
  std::array<TierCounters, kNumTiers> tier_counters_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> lookups_{0}, lookup_blocks_{0}, lookup_hit_blocks_{0};
  std::atomic<uint64_t> loads_{0}, load_blocks_{0}, load_hit_blocks_{0};
  std::atomic<uint64_t> saves_{0}, save_blocks_{0}, save_new_{0}, save_refreshed_{0};
  std::atomic<uint64_t> invalid_calls_{0};
};

}  // namespace kvtier::internal
