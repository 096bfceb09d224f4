// SessionOrder: SLRU plus the owner of each block, from the engine's hints.
#include "lib/index/session_order.h"

namespace kvtier::internal {

void SessionOrder::Insert(EntryId id) {
  if (id >= owner_.size()) {
    owner_.resize(id + 1, kNobody);
    opening_.resize(id + 1, 0);
  }
  if (id >= stamp_.size()) stamp_.resize(id + 1, 0);
  closed_.Grow(id);
  owner_[id] = kNobody;
  opening_[id] = 0;
  Stamp(id);
  slru_.Insert(id);
}

void SessionOrder::Revive(EntryId id) {
  closed_.Unlink(id);
  slru_.Insert(id);
}

void SessionOrder::Touch(EntryId id) {
  if (closed_.Linked(id)) {
    Revive(id);
  } else {
    slru_.Touch(id);
  }
  Stamp(id);
}

void SessionOrder::Hit(EntryId id) {
  if (closed_.Linked(id)) Revive(id);
  slru_.Hit(id);
  Stamp(id);
}

void SessionOrder::Demote(EntryId id) {
  if (closed_.Linked(id)) Revive(id);
  slru_.Demote(id);
  stamp_[id] = 0;
}

EntryId SessionOrder::FindVictim(const std::function<bool(EntryId)>& acceptable) const {
  const EntryId live = slru_.FindVictim(acceptable);
  if (closed_.size(0) == 0) return live;
  const EntryId opening = closed_.ColdestAcceptable(acceptable);
  if (opening == kNoEntry) return live;
  if (live == kNoEntry) return opening;
  if (stamp_[live] == 0) return live;  // demoted: goes first
  const double opening_age = static_cast<double>(clock_ - stamp_[opening]);
  const double live_age = static_cast<double>(clock_ - stamp_[live]);
  return kOpeningAgeWeight * opening_age >= live_age ? opening : live;
}

void SessionOrder::Used(EntryId id, const RequestContext& context) {
  if (context.priority > 0) Hit(id);
  const uint64_t session = context.session_id;
  if (session == 0 || session == kShared) return;
  uint64_t& owner = owner_[id];
  if (owner == kNobody) {
    owner = session;
    opening_[id] = first_chain_.try_emplace(session, chain_).first->second == chain_;
  } else if (owner != session) {
    owner = kShared;
  }
  // Root first: each demoted block lands below its parent, tails coldest.
  if (context.session != SessionState::kClosed || owner != session) return;
  if (!opening_[id]) {
    Demote(id);
  } else if (!closed_.Linked(id)) {
    slru_.Remove(id);
    closed_.PushHot(0, id);
    Stamp(id);
  }
}

void SessionOrder::BeginUse(const RequestContext& context) {
  ++chain_;
  if (closed_session_ != 0 && closed_session_ != context.session_id) {
    first_chain_.erase(closed_session_);  // its load's and save's chains are done
  }
  closed_session_ = context.session == SessionState::kClosed ? context.session_id : 0;
  if (first_chain_.size() > owner_.size()) first_chain_.clear();
}

void SessionOrder::Remove(EntryId id) {
  owner_[id] = kNobody;
  opening_[id] = 0;
  if (closed_.Linked(id)) {
    closed_.Unlink(id);
  } else {
    slru_.Remove(id);
  }
}

void SessionOrder::Reserve(size_t ids) {
  slru_.Reserve(ids);
  owner_.reserve(ids);
  opening_.reserve(ids);
  closed_.Reserve(ids);
  stamp_.reserve(ids);
}

size_t SessionOrder::memory_bytes() const {
  return slru_.memory_bytes() + owner_.capacity() * sizeof(uint64_t) +
         opening_.capacity() + closed_.memory_bytes() +
         stamp_.capacity() * sizeof(uint64_t) +
         first_chain_.bucket_count() * sizeof(void*) +
         first_chain_.size() *
             (sizeof(std::pair<const uint64_t, uint64_t>) + 2 * sizeof(void*));
}

}  // namespace kvtier::internal
