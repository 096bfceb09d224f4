// SlruOrder: segmented LRU, a frequency-aware eviction order. New blocks
// enter a probation segment; a block served again (Hit) moves to a protected
// segment. Victims come from probation's cold end first, so a stream of
// blocks used once (most of a chat trace) cannot flush the prefixes that
// are reused. Protected holds at most kProtectedShare of the tier; its
// coldest block falls back to probation's hot end when it overflows.
//
// FindVictim is const (BlockIndex plans evictions before making them), so
// the segments are kept in order by Insert, Touch and Hit alone. The rules
// are SlruSegments, shared with SessionOrder (session_order.h).
//
// Thread safety: externally synchronized.
#pragma once

#include <cassert>
#include <cstdint>

#include "lib/index/eviction_order.h"
#include "lib/index/segment_lists.h"

namespace kvtier::internal {

// SLRU's rules on segments 0 (probation) and 1 (protected) of `Lists` (a
// SegmentLists): SlruOrder is them alone; SessionOrder keeps a segment of
// its own in the same lists, one node per id for both.
template <typename Lists>
class SlruSegments {
 public:
  static constexpr uint8_t kProbation = 0;
  static constexpr uint8_t kProtected = 1;

  explicit SlruSegments(double protected_share) : protected_share_(protected_share) {}

  Lists& lists() { return lists_; }
  const Lists& lists() const { return lists_; }
  size_t size() const { return lists_.size(kProbation) + lists_.size(kProtected); }
  size_t protected_size() const { return lists_.size(kProtected); }
  bool Holds(EntryId id) const {
    return lists_.Linked(id) && lists_.SegmentOf(id) <= kProtected;
  }

  void Insert(EntryId id) {
    assert(id < kNoEntry);
    lists_.Grow(id);
    assert(!lists_.Linked(id) && "Insert of an id already in the order");
    lists_.PushHot(kProbation, id);
  }
  // Stays in its segment, most recent there.
  void Touch(EntryId id) {
    assert(Holds(id));
    lists_.MoveHot(lists_.SegmentOf(id), id);
  }
  // Moves to protected, most recent.
  void Hit(EntryId id) {
    assert(Holds(id));
    if (lists_.hot(kProtected) == id) return;
    lists_.MoveHot(kProtected, id);
    Rebalance();
  }
  void Remove(EntryId id) {
    assert(Holds(id));
    lists_.Unlink(id);
  }
  // Probation's cold end.
  void Demote(EntryId id) {
    assert(Holds(id));
    lists_.MoveCold(kProbation, id);
  }
  // Probation before protected, each from its cold end.
  template <typename Acceptable>
  EntryId FindVictim(const Acceptable& acceptable) const {
    return lists_.ColdestAcceptable(acceptable, kProbation, kProtected);
  }

 private:
  // Protected back under its share. At least one block always stays
  // protected, so a tier of one block still remembers its last hit.
  void Rebalance() {
    const size_t limit =
        static_cast<size_t>(static_cast<double>(size()) * protected_share_);
    while (lists_.size(kProtected) > 1 && lists_.size(kProtected) > limit) {
      const EntryId id = lists_.cold(kProtected);
      lists_.Unlink(id);
      lists_.PushHot(kProbation, id);
    }
  }

  Lists lists_;
  double protected_share_;
};

class SlruOrder final : public EvictionOrder {
 public:
  // Share of the tier's blocks the protected segment may hold. Not the
  // classic 0.8: in chat traffic a new block's reuse is the conversation's
  // next turn, minutes later, so probation needs most of the room. On the
  // Mooncake conversation trace 0.1 beats LRU at every capacity from 1k to
  // 90k blocks, while 0.8 loses to it by up to 6 points (bench/RESULTS.md).
  static constexpr double kProtectedShare = 0.1;

  explicit SlruOrder(double protected_share = kProtectedShare) : slru_(protected_share) {}

  void Insert(EntryId id) override { slru_.Insert(id); }
  void Touch(EntryId id) override { slru_.Touch(id); }
  void Hit(EntryId id) override { slru_.Hit(id); }
  void Remove(EntryId id) override { slru_.Remove(id); }
  void Demote(EntryId id) override { slru_.Demote(id); }
  EntryId FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const override {
    return slru_.FindVictim(acceptable);
  }
  size_t size() const override { return slru_.size(); }
  void Reserve(size_t ids) override { slru_.lists().Reserve(ids); }
  size_t memory_bytes() const override { return slru_.lists().memory_bytes(); }

  size_t protected_size() const { return slru_.protected_size(); }

 private:
  SlruSegments<SegmentLists<2>> slru_;
};

}  // namespace kvtier::internal
