// SegmentLists: N intrusive LRU lists ("segments") over entry ids, for the
// eviction orders that keep blocks in more than one list (SLRU-style). Links
// live in vectors indexed by id (9 bytes per id up to the largest id seen),
// so every operation is O(1) and allocation-free once they have grown.
//
// Thread safety: externally synchronized.
#pragma once

#include <cassert>
#include <cstdint>
#include <vector>

#include "lib/index/eviction_order.h"

namespace kvtier::internal {

template <uint8_t kSegments>
class SegmentLists {
 public:
  static constexpr uint8_t kNone = kSegments;  // segment of an id in no list

  bool Linked(EntryId id) const { return id < segment_.size() && segment_[id] != kNone; }
  uint8_t SegmentOf(EntryId id) const { return segment_[id]; }
  size_t size(uint8_t segment) const { return lists_[segment].size; }
  EntryId hot(uint8_t segment) const { return lists_[segment].hot; }
  EntryId cold(uint8_t segment) const { return lists_[segment].cold; }
  // Towards the hot end within the id's segment (kNoEntry past the hot end).
  EntryId Hotter(EntryId id) const { return prev_[id]; }

  void Grow(EntryId id) {
    if (id < segment_.size()) return;
    // resize() grows capacity geometrically, so this amortizes to O(1).
    prev_.resize(id + 1, kNoEntry);
    next_.resize(id + 1, kNoEntry);
    segment_.resize(id + 1, kNone);
  }
  void Reserve(size_t ids) {
    prev_.reserve(ids);
    next_.reserve(ids);
    segment_.reserve(ids);
  }
  size_t memory_bytes() const {
    return (prev_.capacity() + next_.capacity()) * sizeof(EntryId) + segment_.capacity();
  }

  void Unlink(EntryId id) {
    List& list = lists_[segment_[id]];
    const EntryId prev = prev_[id];
    const EntryId next = next_[id];
    (prev == kNoEntry ? list.hot : next_[prev]) = next;
    (next == kNoEntry ? list.cold : prev_[next]) = prev;
    --list.size;
    segment_[id] = kNone;
  }
  void PushHot(uint8_t segment, EntryId id) {
    assert(segment < kSegments && segment_[id] == kNone);
    List& list = lists_[segment];
    prev_[id] = kNoEntry;
    next_[id] = list.hot;
    (list.hot == kNoEntry ? list.cold : prev_[list.hot]) = id;
    list.hot = id;
    ++list.size;
    segment_[id] = segment;
  }
  void PushCold(uint8_t segment, EntryId id) {
    assert(segment < kSegments && segment_[id] == kNone);
    List& list = lists_[segment];
    next_[id] = kNoEntry;
    prev_[id] = list.cold;
    (list.cold == kNoEntry ? list.hot : next_[list.cold]) = id;
    list.cold = id;
    ++list.size;
    segment_[id] = segment;
  }
  // Moves `id` to the hot end of `segment` (its own or another).
  void MoveHot(uint8_t segment, EntryId id) {
    if (segment_[id] == segment && lists_[segment].hot == id) return;
    Unlink(id);
    PushHot(segment, id);
  }
  // Moves `id` to the cold end of `segment` (a Demote).
  void MoveCold(uint8_t segment, EntryId id) {
    if (segment_[id] == segment && lists_[segment].cold == id) return;
    Unlink(id);
    PushCold(segment, id);
  }
  // The coldest id `acceptable` takes, segment 0 first, each from its cold
  // end; kNoEntry when none.
  template <typename Acceptable>
  EntryId ColdestAcceptable(const Acceptable& acceptable) const {
    for (uint8_t segment = 0; segment < kSegments; ++segment) {
      for (EntryId id = cold(segment); id != kNoEntry; id = Hotter(id)) {
        if (acceptable(id)) return id;
      }
    }
    return kNoEntry;
  }

 private:
  struct List {
    EntryId hot = kNoEntry;
    EntryId cold = kNoEntry;
    size_t size = 0;
  };
  // prev_ points towards the hot end, next_ towards the cold end.
  std::vector<EntryId> prev_;
  std::vector<EntryId> next_;
  std::vector<uint8_t> segment_;
  List lists_[kSegments];
};

}  // namespace kvtier::internal
