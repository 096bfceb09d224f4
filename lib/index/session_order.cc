// SessionOrder: SLRU plus the owner of each block, from the engine's hints.
#include "lib/index/session_order.h"

namespace kvtier::internal {

void SessionOrder::Insert(EntryId id) {
  if (id >= owner_.size()) owner_.resize(id + 1, kNobody);
  owner_[id] = kNobody;
  slru_.Insert(id);
}

void SessionOrder::Used(EntryId id, const RequestContext& context) {
  if (context.priority > 0) slru_.Hit(id);
  const uint64_t session = context.session_id;
  if (session == 0 || session == kShared) return;
  uint64_t& owner = owner_[id];
  if (owner == kNobody) {
    owner = session;
  } else if (owner != session) {
    owner = kShared;
  }
  // Root first: each demoted block lands below its parent, tails coldest.
  if (context.session == SessionState::kClosed && owner == session) slru_.Demote(id);
}

void SessionOrder::Remove(EntryId id) {
  owner_[id] = kNobody;
  slru_.Remove(id);
}

void SessionOrder::Reserve(size_t ids) {
  slru_.Reserve(ids);
  owner_.reserve(ids);
}

size_t SessionOrder::memory_bytes() const {
  return slru_.memory_bytes() + owner_.capacity() * sizeof(uint64_t);
}

}  // namespace kvtier::internal
