// SlruOrder: two intrusive LRU lists (probation, protected) over entry ids.
#include "lib/index/slru_order.h"

#include <cassert>

namespace kvtier::internal {

void SlruOrder::Insert(EntryId id) {
  assert(id < kNoEntry);
  Grow(id);
  assert(!Linked(id) && "Insert of an id already in the order");
  PushHot(kProbation, id);
}

void SlruOrder::Touch(EntryId id) {
  assert(Linked(id));
  const uint8_t segment = segment_[id];
  if (lists_[segment].hot == id) return;
  Unlink(id);
  PushHot(segment, id);
}

void SlruOrder::Hit(EntryId id) {
  assert(Linked(id));
  if (lists_[kProtected].hot == id) return;
  Unlink(id);
  PushHot(kProtected, id);
  Rebalance();
}

void SlruOrder::Remove(EntryId id) {
  assert(Linked(id));
  Unlink(id);
}

void SlruOrder::Demote(EntryId id) {
  assert(Linked(id));
  if (lists_[kProbation].cold == id) return;
  Unlink(id);
  PushCold(kProbation, id);
}

EntryId SlruOrder::FindVictim(const std::function<bool(EntryId)>& acceptable) const {
  for (const uint8_t segment : {kProbation, kProtected}) {
    for (EntryId id = lists_[segment].cold; id != kNoEntry; id = prev_[id]) {
      if (acceptable(id)) return id;
    }
  }
  return kNoEntry;
}

void SlruOrder::Reserve(size_t ids) {
  prev_.reserve(ids);
  next_.reserve(ids);
  segment_.reserve(ids);
}

size_t SlruOrder::memory_bytes() const {
  return (prev_.capacity() + next_.capacity()) * sizeof(EntryId) + segment_.capacity();
}

void SlruOrder::Grow(EntryId id) {
  if (id < segment_.size()) return;
  // resize() grows capacity geometrically, so this amortizes to O(1).
  prev_.resize(id + 1, kNoEntry);
  next_.resize(id + 1, kNoEntry);
  segment_.resize(id + 1, kNone);
}

void SlruOrder::Unlink(EntryId id) {
  List& list = lists_[segment_[id]];
  const EntryId prev = prev_[id];
  const EntryId next = next_[id];
  (prev == kNoEntry ? list.hot : next_[prev]) = next;
  (next == kNoEntry ? list.cold : prev_[next]) = prev;
  --list.size;
  segment_[id] = kNone;
}

void SlruOrder::PushHot(uint8_t segment, EntryId id) {
  List& list = lists_[segment];
  prev_[id] = kNoEntry;
  next_[id] = list.hot;
  (list.hot == kNoEntry ? list.cold : prev_[list.hot]) = id;
  list.hot = id;
  ++list.size;
  segment_[id] = segment;
}

void SlruOrder::PushCold(uint8_t segment, EntryId id) {
  List& list = lists_[segment];
  next_[id] = kNoEntry;
  prev_[id] = list.cold;
  (list.cold == kNoEntry ? list.hot : next_[list.cold]) = id;
  list.cold = id;
  ++list.size;
  segment_[id] = segment;
}

void SlruOrder::Rebalance() {
  // At least one block always stays protected, so a tier of one block still
  // remembers its last hit.
  const size_t limit =
      static_cast<size_t>(static_cast<double>(size()) * protected_share_);
  while (lists_[kProtected].size > 1 && lists_[kProtected].size > limit) {
    const EntryId id = lists_[kProtected].cold;
    Unlink(id);
    PushHot(kProbation, id);
  }
}

}  // namespace kvtier::internal
