// FrequencyOrder: probation and protected lists, a sketch deciding between
// them.
#include "lib/index/frequency_order.h"

#include <cassert>

namespace kvtier::internal {

void FrequencyOrder::Insert(EntryId id) { Place(id, 1); }

void FrequencyOrder::Admit(EntryId id, uint64_t key) {
  assert(id < kNoEntry);
  if (id >= keys_.size()) keys_.resize(id + 1, 0);
  keys_[id] = key;
  Place(id, sketch_.Add(key));
}

void FrequencyOrder::Place(EntryId id, uint32_t count) {
  lists_.Grow(id);
  assert(!lists_.Linked(id) && "Insert of an id already in the order");
  lists_.PushHot(count >= protect_count_ ? kProtected : kProbation, id);
  Rebalance();
}

void FrequencyOrder::Touch(EntryId id) {
  assert(lists_.Linked(id));
  lists_.MoveHot(lists_.SegmentOf(id), id);
}

void FrequencyOrder::Hit(EntryId id) {
  assert(lists_.Linked(id));
  if (id < keys_.size()) sketch_.Add(keys_[id]);
  lists_.MoveHot(kProtected, id);
  Rebalance();
}

void FrequencyOrder::Remove(EntryId id) {
  assert(lists_.Linked(id));
  lists_.Unlink(id);
}

void FrequencyOrder::Demote(EntryId id) {
  assert(lists_.Linked(id));
  lists_.MoveCold(kProbation, id);
}

// Probation (segment 0) before protected, each from its cold end.
EntryId FrequencyOrder::FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const {
  return lists_.ColdestAcceptable(acceptable);
}

void FrequencyOrder::Reserve(size_t ids) {
  lists_.Reserve(ids);
  keys_.reserve(ids);
  sketch_ = FrequencySketch(ids);
}

size_t FrequencyOrder::memory_bytes() const {
  return lists_.memory_bytes() + keys_.capacity() * sizeof(uint64_t) +
         sketch_.memory_bytes();
}

void FrequencyOrder::Rebalance() {
  // At least one block always stays protected, so a tier of one block still
  // remembers its last hit.
  const size_t limit =
      static_cast<size_t>(static_cast<double>(size()) * protected_share_);
  while (lists_.size(kProtected) > 1 && lists_.size(kProtected) > limit) {
    const EntryId id = lists_.cold(kProtected);
    lists_.Unlink(id);
    lists_.PushHot(kProbation, id);
  }
}

}  // namespace kvtier::internal
