// SegmentLists: N intrusive LRU lists ("segments") over entry ids, for the
// eviction orders that keep blocks in more than one list (SLRU-style), and
// the order's own `Payload` per id (SessionOrder's owner and time of use).
// Links, segments and payloads live in vectors indexed by id (9 bytes per id
// plus the payload, up to the largest id seen), so every operation is O(1)
// and allocation-free once they have grown. One node struct per id (links,
// segment and payload in one cache line) was measured slower on
// BM_PolicyHit at 1M ids (bench/RESULTS.md, issue 17): the segment bytes
// (1 MB) stay in L2 and the two link loads go out in parallel.
//
// Thread safety: externally synchronized.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lib/index/eviction_order.h"

namespace kvtier::internal {

struct NoPayload {};

template <uint8_t kSegments, typename Payload = NoPayload>
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
  // The order's data for `id` (value-initialized when the id first grows in).
  Payload& payload(EntryId id) { return payload_[id]; }
  const Payload& payload(EntryId id) const { return payload_[id]; }

  void Grow(EntryId id) {
    if (id < segment_.size()) return;
    // resize() grows capacity geometrically, so this amortizes to O(1).
    prev_.resize(id + 1, kNoEntry);
    next_.resize(id + 1, kNoEntry);
    segment_.resize(id + 1, kNone);
    if constexpr (kHasPayload) payload_.resize(id + 1);
  }
  void Reserve(size_t ids) {
    prev_.reserve(ids);
    next_.reserve(ids);
    segment_.reserve(ids);
    if constexpr (kHasPayload) payload_.reserve(ids);
  }
  // Ids grown in so far: the largest id seen + 1.
  size_t ids() const { return segment_.size(); }
  size_t memory_bytes() const {
    return (prev_.capacity() + next_.capacity()) * sizeof(EntryId) + segment_.capacity() +
           payload_.capacity() * sizeof(Payload);
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
  // The coldest id `acceptable` takes in segments `first` to `last`, lower
  // segments first, each from its cold end; kNoEntry when none.
  template <typename Acceptable>
  EntryId ColdestAcceptable(const Acceptable& acceptable, uint8_t first = 0,
                            uint8_t last = kSegments - 1) const {
    for (uint8_t segment = first; segment <= last; ++segment) {
      for (EntryId id = cold(segment); id != kNoEntry; id = Hotter(id)) {
        if (acceptable(id)) return id;
      }
    }
    return kNoEntry;
  }

 private:
  static constexpr bool kHasPayload = !std::is_empty_v<Payload>;
  struct List {
    EntryId hot = kNoEntry;
    EntryId cold = kNoEntry;
    size_t size = 0;
  };
  // prev_ points towards the hot end, next_ towards the cold end.
  std::vector<EntryId> prev_;
  std::vector<EntryId> next_;
  std::vector<uint8_t> segment_;
  std::vector<Payload> payload_;  // empty without a payload
  List lists_[kSegments];
};

}  // namespace kvtier::internal
