// SlruOrder: two intrusive LRU lists (probation, protected) over entry ids
// (lib/index/segment_lists.h).
#include "lib/index/slru_order.h"

#include <cassert>

namespace kvtier::internal {

void SlruOrder::Insert(EntryId id) {
  assert(id < kNoEntry);
  lists_.Grow(id);
  assert(!lists_.Linked(id) && "Insert of an id already in the order");
  lists_.PushHot(kProbation, id);
}

void SlruOrder::Touch(EntryId id) {
  assert(lists_.Linked(id));
  lists_.MoveHot(lists_.SegmentOf(id), id);
}

void SlruOrder::Hit(EntryId id) {
  assert(lists_.Linked(id));
  if (lists_.hot(kProtected) == id) return;
  lists_.MoveHot(kProtected, id);
  Rebalance();
}

void SlruOrder::Remove(EntryId id) {
  assert(lists_.Linked(id));
  lists_.Unlink(id);
}

void SlruOrder::Demote(EntryId id) {
  assert(lists_.Linked(id));
  lists_.MoveCold(kProbation, id);
}

// Probation (segment 0) before protected, each from its cold end.
EntryId SlruOrder::FindVictim(const std::function<bool(EntryId)>& acceptable) const {
  return lists_.ColdestAcceptable(acceptable);
}

void SlruOrder::Reserve(size_t ids) { lists_.Reserve(ids); }

size_t SlruOrder::memory_bytes() const { return lists_.memory_bytes(); }

void SlruOrder::Rebalance() {
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
