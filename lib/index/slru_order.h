// SlruOrder: segmented LRU, a frequency-aware eviction order. New blocks
// enter a probation segment; a block served again (Hit) moves to a protected
// segment. Victims come from probation's cold end first, so a stream of
// blocks used once (most of a chat trace) cannot flush the prefixes that
// are reused. Protected holds at most kProtectedShare of the tier; its
// coldest block falls back to probation's hot end when it overflows.
//
// FindVictim is const (BlockIndex plans evictions before making them), so
// the segments are kept in order by Insert, Touch and Hit alone.
//
// Thread safety: externally synchronized.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/index/eviction_order.h"
#include "lib/index/segment_lists.h"

namespace kvtier::internal {

class SlruOrder final : public EvictionOrder {
 public:
  // Share of the tier's blocks the protected segment may hold. Not the
  // classic 0.8: in chat traffic a new block's reuse is the conversation's
  // next turn, minutes later, so probation needs most of the room. On the
  // Mooncake conversation trace 0.1 beats LRU at every capacity from 1k to
  // 90k blocks, while 0.8 loses to it by up to 6 points (bench/RESULTS.md).
  static constexpr double kProtectedShare = 0.1;

  explicit SlruOrder(double protected_share = kProtectedShare)
      : protected_share_(protected_share) {}

  void Insert(EntryId id) override;
  void Touch(EntryId id) override;  // stays in its segment, most recent there
  void Hit(EntryId id) override;    // moves to protected, most recent
  void Remove(EntryId id) override;
  void Demote(EntryId id) override;  // probation's cold end
  EntryId FindVictim(const std::function<bool(EntryId)>& acceptable) const override;
  size_t size() const override {
    return lists_.size(kProbation) + lists_.size(kProtected);
  }
  void Reserve(size_t ids) override;
  size_t memory_bytes() const override;

  size_t protected_size() const { return lists_.size(kProtected); }

 private:
  static constexpr uint8_t kProbation = 0;
  static constexpr uint8_t kProtected = 1;
  void Rebalance();  // protected back under its share

  SegmentLists<2> lists_;
  double protected_share_;
};

}  // namespace kvtier::internal
