// SessionOrder: SLRU (slru_order.h) that also listens to the engine
// (RequestContext). Each block remembers the one session that used it, or
// that several did. When a session's last request (SessionState::kClosed)
// is done, the blocks only it used move to the cold end, tails coldest:
// nothing will ask for them again, so they go before any block that may be
// reused. Shared blocks (system prompts, documents, an agent's tools) stay.
// A session's opening blocks (those it took first in the chain in which it
// took its first block: its first request; all of a session of one
// request) may be a context other sessions read next (a document first
// read by this session). When the session closes they move to a list of
// their own, by time of closing, and compete with the live blocks by age:
// the coldest live block goes first unless the oldest opening block was
// closed more than 1/kOpeningAgeWeight of the live block's age ago. A block
// of that list used again (another reader) is live again. Demoting them
// outright, as the later blocks are, put `session` below LRU on the docs
// trace at 30,000 and 45,000 blocks (bench/RESULTS.md).
// A request with priority > 0 counts as a hit for its blocks (protected).
// A request of an open session with a TTL (RequestContext::ttl_s: when the
// engine expects the session's next request) puts the blocks only that
// session used in a list ordered by that expected return (now + ttl_s):
// they leave the recency lists and wait. The block whose return is furthest
// goes before the block SLRU and the rules above would evict when its
// return is further away than that block has been idle (each side's time
// to its next use, as best known: the hint, or the idle time so far), and
// never before a demoted block. A waiting block used again is live again
// (and waits anew if that request has a TTL); one whose return time passes
// without that is live again, at probation's hot end. On the evaluation
// traces this closes most of LRU's gap to Belady even with hints off by a
// factor of e (bench/RESULTS.md).
// Without a context (BlockIndex::TouchChain without one) it is SLRU.
//
// Memory: 25 bytes per id: 9 for the links and segment of one SegmentLists
// (SLRU's two segments and the list of closed opening blocks share it, so a
// block is in one list), 16 for its payload: the owner, the opening mark and
// the time of last use side by side (a Used reads one record, not three
// arrays); and a map entry per session that holds blocks (looked up once per
// chain, not per block). Once a TTL was seen: 16 more bytes per id (time of
// last use, expected return) and a set entry per waiting block.
// Thread safety: externally synchronized.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"

#include "lib/index/eviction_order.h"
#include "lib/index/segment_lists.h"
#include "lib/index/slru_order.h"

namespace kvtier::internal {

class SessionOrder final : public EvictionOrder {
 public:
  // How much older than its age a closed session's opening block counts
  // when it competes with the coldest live block. Measured on the docs and
  // mix traces (bench/RESULTS.md; a fit to them, with 2, 4, 8, 16, 64): the
  // larger the better at every capacity up to 64, where 5% of the distinct
  // blocks closes 62% (docs) and 53% (mix) of the gap and no capacity is
  // below LRU. What matters most is the list's order, oldest closing first:
  // putting them at the cold end (newest closing first) lost to LRU on docs.
  static constexpr double kOpeningAgeWeight = 64;

  void Insert(EntryId id) override;
  void Touch(EntryId id) override;
  void Hit(EntryId id) override;
  void BeginUse(const RequestContext& context) override;
  void SetTime(double now_s) override;
  void Used(EntryId id, const RequestContext& context) override;
  void Remove(EntryId id) override;
  void Demote(EntryId id) override;
  EntryId FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const override;
  size_t size() const override {
    return slru_.size() + lists().size(kClosed) + lists().size(kWaiting);
  }
  void Reserve(size_t ids) override;
  size_t memory_bytes() const override;

 private:
  static constexpr uint64_t kNobody = 0;
  static constexpr uint64_t kShared = ~uint64_t{0};
  // Segments 0 and 1 are SLRU's (probation, protected); 2 holds the closed
  // sessions' opening blocks, by time of closing, root first; 3 the blocks
  // waiting for their session's expected return (order: `returns_`).
  static constexpr uint8_t kClosed = 2;
  static constexpr uint8_t kWaiting = 3;
  // Per id, beside its links.
  struct Mark {
    uint64_t owner = kNobody;  // the session that used it, or kShared
    uint64_t stamp : 63 = 0;   // clock at its last use or closing; 0 = demoted
    uint64_t opening : 1 = 0;  // an opening block of its owner
  };
  using Lists = SegmentLists<4, Mark>;
  // Per id, once a TTL was seen: seconds at its last use and, while it
  // waits, its expected return.
  struct Times {
    double used_s = 0;
    double return_s = 0;
  };

  Lists& lists() { return slru_.lists(); }
  const Lists& lists() const { return slru_.lists(); }
  bool Closed(EntryId id) const { return lists().SegmentOf(id) == kClosed; }
  bool Waiting(EntryId id) const { return lists().SegmentOf(id) == kWaiting; }
  // The victim of the rules without TTLs (SLRU, demoted, closed opening).
  EntryId VictimByAge(absl::FunctionRef<bool(EntryId)> acceptable) const;
  // The waiting block whose return is furthest, if acceptable (kNoEntry: none).
  EntryId FurthestReturn(absl::FunctionRef<bool(EntryId)> acceptable) const;
  void Wait(EntryId id, double return_s);  // (again) until return_s
  void StopWaiting(EntryId id);            // live again, probation's hot end
  void StartTimes();  // the first TTL: from now on, times of use are kept
  void NoteUse(EntryId id) {
    if (!times_.empty()) times_[id].used_s = now_s_;
  }
  void Stamp(EntryId id) { lists().payload(id).stamp = ++clock_; }
  void Revive(EntryId id);  // a closed session's opening block used again
  // Whether `session`'s blocks taken in this chain are opening ones (it
  // took its first block in this chain); records the chain if none yet.
  bool OpeningChain(uint64_t session);

  SlruSegments<Lists> slru_{SlruOrder::kProtectedShare};
  uint64_t clock_ = 0;
  // Sessions that took a block: the number of the chain (BeginUse) in which
  // they took their first. Erased once a closed session's chains are done;
  // cleared when it outgrows the ids (sessions never closed), after which a
  // session's next blocks count as opening again (kept, not demoted).
  std::unordered_map<uint64_t, uint64_t> first_chain_;
  uint64_t chain_ = 0;           // BeginUse calls so far
  uint64_t closed_session_ = 0;  // the last closed chain's session, or 0
  // OpeningChain's last answer, valid within chain `cached_chain_` (the
  // map's entry for that session cannot change before the next BeginUse).
  uint64_t cached_chain_ = 0;  // 0: none (chains count from 1)
  uint64_t cached_session_ = 0;
  bool cached_opening_ = false;
  // Time hints: empty until the first ttl_s (then sized with the ids).
  std::vector<Times> times_;
  absl::btree_set<std::pair<double, EntryId>> returns_;  // waiting blocks
  double now_s_ = 0;
};

}  // namespace kvtier::internal
