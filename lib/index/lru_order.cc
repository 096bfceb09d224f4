// LruOrder: an intrusive LRU list over entry ids.
#include "lib/index/lru_order.h"

#include <cassert>

namespace kvtier::internal {

void LruOrder::Insert(EntryId id) {
  assert(id < kUnlinked);
  if (id >= next_.size()) {
    // resize() grows capacity geometrically, so this amortizes to O(1).
    prev_.resize(id + 1, kNoEntry);
    next_.resize(id + 1, kUnlinked);
  }
  assert(!Linked(id) && "Insert of an id already in the order");
  PushHot(id);
  ++size_;
}

void LruOrder::Touch(EntryId id) {
  assert(Linked(id));
  if (id == hot_) return;
  Unlink(id);
  PushHot(id);
}

void LruOrder::Remove(EntryId id) {
  assert(Linked(id));
  Unlink(id);
  next_[id] = kUnlinked;
  --size_;
}

void LruOrder::Demote(EntryId id) {
  assert(Linked(id));
  if (id == cold_) return;
  Unlink(id);
  PushCold(id);
}

EntryId LruOrder::FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const {
  for (EntryId id = cold_; id != kNoEntry; id = prev_[id]) {
    if (acceptable(id)) return id;
  }
  return kNoEntry;
}

void LruOrder::Reserve(size_t ids) {
  prev_.reserve(ids);
  next_.reserve(ids);
}

size_t LruOrder::memory_bytes() const {
  return (prev_.capacity() + next_.capacity()) * sizeof(EntryId);
}

void LruOrder::Unlink(EntryId id) {
  const EntryId prev = prev_[id];
  const EntryId next = next_[id];
  (prev == kNoEntry ? hot_ : next_[prev]) = next;
  (next == kNoEntry ? cold_ : prev_[next]) = prev;
}

void LruOrder::PushHot(EntryId id) {
  prev_[id] = kNoEntry;
  next_[id] = hot_;
  (hot_ == kNoEntry ? cold_ : prev_[hot_]) = id;
  hot_ = id;
}

void LruOrder::PushCold(EntryId id) {
  next_[id] = kNoEntry;
  prev_[id] = cold_;
  (cold_ == kNoEntry ? hot_ : next_[cold_]) = id;
  cold_ = id;
}

}  // namespace kvtier::internal
