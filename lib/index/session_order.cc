// SessionOrder: SLRU plus the owner of each block, from the engine's hints.
#include "lib/index/session_order.h"

namespace kvtier::internal {

void SessionOrder::Insert(EntryId id) {
  slru_.Insert(id);
  if (!times_.empty()) {
    if (times_.size() <= id) times_.resize(lists().ids());
    NoteUse(id);
  }
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
  NoteUse(id);
  if (Waiting(id)) StopWaiting(id);
  if (Closed(id)) {
    Revive(id);
  } else {
    slru_.Touch(id);
  }
  Stamp(id);
}

void SessionOrder::Hit(EntryId id) {
  NoteUse(id);
  if (Waiting(id)) StopWaiting(id);
  if (Closed(id)) Revive(id);
  slru_.Hit(id);
  Stamp(id);
}

void SessionOrder::Demote(EntryId id) {
  if (Waiting(id)) StopWaiting(id);
  if (Closed(id)) Revive(id);
  slru_.Demote(id);
  lists().payload(id).stamp = 0;
}

EntryId SessionOrder::FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const {
  const EntryId aged = VictimByAge(acceptable);
  if (returns_.empty()) return aged;
  if (aged != kNoEntry && !Closed(aged) && lists().payload(aged).stamp == 0) {
    return aged;  // demoted: goes first
  }
  const EntryId waiting = FurthestReturn(acceptable);
  if (waiting == kNoEntry) return aged;
  if (aged == kNoEntry) return waiting;
  // Each side's time to its next use, as best known: the hint's, or the
  // idle time so far (a closed session's opening block's weighted as
  // VictimByAge weighs it against live blocks).
  const double returns_in = times_[waiting].return_s - now_s_;
  const double idle = now_s_ - times_[aged].used_s;
  const double weight = Closed(aged) ? kOpeningAgeWeight : 1;
  return returns_in >= weight * idle ? waiting : aged;
}

EntryId SessionOrder::FurthestReturn(absl::FunctionRef<bool(EntryId)> acceptable) const {
  for (auto it = returns_.rbegin(); it != returns_.rend(); ++it) {
    if (acceptable(it->second)) return it->second;
  }
  return kNoEntry;
}

void SessionOrder::Wait(EntryId id, double return_s) {
  if (Waiting(id)) {
    returns_.erase({times_[id].return_s, id});
  } else {
    lists().Unlink(id);  // from SLRU's segments or the closed list
    lists().PushHot(kWaiting, id);
  }
  times_[id].return_s = return_s;
  returns_.insert({return_s, id});
}

void SessionOrder::StopWaiting(EntryId id) {
  returns_.erase({times_[id].return_s, id});
  lists().Unlink(id);
  slru_.Insert(id);
}

void SessionOrder::SetTime(double now_s) {
  if (now_s > now_s_) now_s_ = now_s;
  while (!returns_.empty() && returns_.begin()->first <= now_s_) {
    StopWaiting(returns_.begin()->second);
  }
}

EntryId SessionOrder::VictimByAge(absl::FunctionRef<bool(EntryId)> acceptable) const {
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
  if (mark.owner != session) return;  // shared: stays where it is
  if (context.session == SessionState::kOpen) {
    // The hint is when this session comes back, which says nothing of when
    // others read its opening blocks (a shared document): those stay live.
    if (context.ttl_s > 0 && !mark.opening) {
      if (times_.empty()) StartTimes();
      Wait(id, now_s_ + context.ttl_s);
    }
    return;
  }
  // Root first: each demoted block lands below its parent, tails coldest.
  if (context.session != SessionState::kClosed) return;
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
  if (Waiting(id)) returns_.erase({times_[id].return_s, id});
  Mark& mark = lists().payload(id);
  mark.owner = kNobody;
  mark.opening = 0;
  lists().Unlink(id);
}

void SessionOrder::StartTimes() {
  // Blocks used before the first hint count as used now.
  times_.assign(lists().ids(), Times{now_s_, 0});
}

void SessionOrder::Reserve(size_t ids) {
  lists().Reserve(ids);
  if (!times_.empty()) times_.reserve(ids);
}

size_t SessionOrder::memory_bytes() const {
  // A btree holds about 1.5x its entries' bytes (nodes part full).
  const size_t returns_bytes =
      returns_.size() * sizeof(std::pair<double, EntryId>) * 3 / 2;
  return lists().memory_bytes() + times_.capacity() * sizeof(Times) + returns_bytes +
         first_chain_.bucket_count() * sizeof(void*) +
         first_chain_.size() *
             (sizeof(std::pair<const uint64_t, uint64_t>) + 2 * sizeof(void*));
}

}  // namespace kvtier::internal
