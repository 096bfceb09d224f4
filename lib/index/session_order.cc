// SessionOrder: SLRU plus the owner of each block, from the engine's hints.
#include "lib/index/session_order.h"

namespace kvtier::internal {

void SessionOrder::Insert(EntryId id) {
  slru_.Insert(id);
  Mark& mark = lists().payload(id);
  mark.owner = kNobody;
  mark.opening = 0;
  Stamp(id);
}

void SessionOrder::Revive(EntryId id) {
  lists().Unlink(id);
  slru_.Insert(id);
}

void SessionOrder::Touch(EntryId id) {
  if (Closed(id)) {
    Revive(id);
  } else {
    slru_.Touch(id);
  }
  Stamp(id);
}

void SessionOrder::Hit(EntryId id) {
  if (Closed(id)) Revive(id);
  slru_.Hit(id);
  Stamp(id);
}

void SessionOrder::Demote(EntryId id) {
  if (Closed(id)) Revive(id);
  slru_.Demote(id);
  lists().payload(id).stamp = 0;
}

EntryId SessionOrder::FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const {
  const EntryId live = slru_.FindVictim(acceptable);
  if (lists().size(kClosed) == 0) return live;
  const EntryId opening = lists().ColdestAcceptable(acceptable, kClosed, kClosed);
  if (opening == kNoEntry) return live;
  if (live == kNoEntry) return opening;
  const uint64_t live_stamp = lists().payload(live).stamp;
  if (live_stamp == 0) return live;  // demoted: goes first
  const double opening_age = static_cast<double>(clock_ - lists().payload(opening).stamp);
  const double live_age = static_cast<double>(clock_ - live_stamp);
  return kOpeningAgeWeight * opening_age >= live_age ? opening : live;
}

bool SessionOrder::OpeningChain(uint64_t session) {
  if (cached_chain_ != chain_ || cached_session_ != session) {
    cached_chain_ = chain_;
    cached_session_ = session;
    cached_opening_ = first_chain_.try_emplace(session, chain_).first->second == chain_;
  }
  return cached_opening_;
}

void SessionOrder::Used(EntryId id, const RequestContext& context) {
  if (context.priority > 0) Hit(id);
  const uint64_t session = context.session_id;
  if (session == 0 || session == kShared) return;
  Mark& mark = lists().payload(id);
  if (mark.owner == kNobody) {
    mark.owner = session;
    mark.opening = OpeningChain(session);
  } else if (mark.owner != session) {
    mark.owner = kShared;
  }
  // Root first: each demoted block lands below its parent, tails coldest.
  if (context.session != SessionState::kClosed || mark.owner != session) return;
  if (!mark.opening) {
    Demote(id);
  } else if (!Closed(id)) {
    slru_.Remove(id);
    lists().PushHot(kClosed, id);
    Stamp(id);
  }
}

void SessionOrder::BeginUse(const RequestContext& context) {
  ++chain_;
  if (closed_session_ != 0 && closed_session_ != context.session_id) {
    first_chain_.erase(closed_session_);  // its load's and save's chains are done
  }
  closed_session_ = context.session == SessionState::kClosed ? context.session_id : 0;
  if (first_chain_.size() > lists().ids()) first_chain_.clear();
}

void SessionOrder::Remove(EntryId id) {
  Mark& mark = lists().payload(id);
  mark.owner = kNobody;
  mark.opening = 0;
  lists().Unlink(id);
}

void SessionOrder::Reserve(size_t ids) { lists().Reserve(ids); }

size_t SessionOrder::memory_bytes() const {
  return lists().memory_bytes() + first_chain_.bucket_count() * sizeof(void*) +
         first_chain_.size() *
             (sizeof(std::pair<const uint64_t, uint64_t>) + 2 * sizeof(void*));
}

}  // namespace kvtier::internal
