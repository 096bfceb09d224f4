// FrequencyOrder: segmented LRU whose protected segment is entered by how
// often a block was referenced lately, hits and misses alike, not only by
// hits while resident (SLRU). A frequency sketch (frequency_sketch.h) keyed
// by the block's hash remembers blocks after they leave the tier, so a
// block evicted and saved again ("a ghost hit") enters protected at once.
// On chat traces a block's chance of reuse rises with its use count (about
// 24% at first sight, 42% after one reuse): first-sight blocks wait in
// probation, blocks seen before are kept.
//
// Victims come from probation's cold end first, then protected's. Protected
// holds at most `protected_share` of the tier; its coldest falls back to
// probation's hot end when it overflows.
//
// Thread safety: externally synchronized.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/index/eviction_order.h"
#include "lib/index/frequency_sketch.h"
#include "lib/index/segment_lists.h"

namespace kvtier::internal {

class FrequencyOrder final : public EvictionOrder {
 public:
  static constexpr double kProtectedShare = 0.5;
  // References (in the sketch's recent window) that make a block protected.
  static constexpr uint32_t kProtectCount = 2;

  explicit FrequencyOrder(double protected_share = kProtectedShare,
                          uint32_t protect_count = kProtectCount)
      : protected_share_(protected_share), protect_count_(protect_count) {}

  void Insert(EntryId id) override;  // no key: a first sight
  void Admit(EntryId id, uint64_t key) override;
  void Touch(EntryId id) override;  // stays in its segment, most recent there
  void Hit(EntryId id) override;    // counted; to protected, most recent
  void Remove(EntryId id) override;
  void Demote(EntryId id) override;  // probation's cold end
  EntryId FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const override;
  size_t size() const override {
    return lists_.size(kProbation) + lists_.size(kProtected);
  }
  void Reserve(size_t ids) override;
  size_t memory_bytes() const override;

  size_t protected_size() const { return lists_.size(kProtected); }

 private:
  static constexpr uint8_t kProbation = 0;
  static constexpr uint8_t kProtected = 1;

  void Place(EntryId id, uint32_t count);
  void Rebalance();  // protected back under its share

  SegmentLists<2> lists_;
  std::vector<uint64_t> keys_;  // by id: the key the sketch knows it by
  FrequencySketch sketch_;
  double protected_share_;
  uint32_t protect_count_;
};

}  // namespace kvtier::internal
