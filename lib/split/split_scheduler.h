// SplitScheduler: the scheduler side of include/kvtier/split.h. Placement
// (index, eviction, pins) over the tier stack the workers announced; plans
// go out as envelopes, results of every rank come back and are merged per
// move (a move succeeded only if every rank's did) before placement
// commits them. Joining workers and reconciling the index after a restart
// are in split_join.cc.
//
// Thread safety: thread-safe (one lock over the scheduler's state;
// placement takes its own inside it; no I/O under either).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "kvtier/split.h"
#include "lib/mutex.h"
#include "lib/placement/placement.h"
#include "lib/sliding_window.h"
#include "lib/split/messages.h"

namespace kvtier::internal {

class SplitScheduler final : public Scheduler {
 public:
  SplitScheduler(const Options& options, uint32_t ranks);

  Result<std::vector<std::byte>> Join(std::span<const std::byte> hello) override;
  bool Ready() const override;
  LookupResult Lookup(std::span<const BlockHash> chain) override;
  Result<PlanTicket> PlanLoad(std::span<const BlockHash> chain) override;
  using Scheduler::PlanSave;
  Result<PlanTicket> PlanSave(std::span<const BlockHash> chain, size_t first_block,
                              std::span<const uint8_t> freed) override;
  std::vector<PlanTicket> TakeWriteDowns(size_t max_blocks) override;
  Result<CommitOutcome> Commit(uint64_t ticket,
                               std::span<const std::vector<std::byte>> results) override;
  size_t Outstanding() const override;

 private:
  struct Pending {
    PlanTicket::Kind kind = PlanTicket::Kind::kLoad;
    Plan plan;
    SaveResult save;  // saves: what PlanSave counted
  };

  bool ReadyLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Registers `plan` under a new ticket and wraps it with the slots every
  // rank must forget first; a plan without moves is committed at once
  // (ticket 0).
  PlanTicket Issue(PlanTicket::Kind kind, Plan plan, const SaveResult& save,
                   uint32_t first_block, size_t blocks)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Merges the ranks' results into one status per move; counts the ranks
  // that failed as a whole.
  std::vector<Status> Merge(uint64_t ticket, const Plan& plan,
                            std::span<const std::vector<std::byte>> results,
                            size_t* ranks_failed) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  size_t CommitLocked(Pending& pending, std::span<const Status> merged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueWriteDowns(std::vector<WriteDownJob> jobs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ForgetLater(std::span<const SlotRelease> releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // split_join.cc
  Status CheckHello(const Hello& hello) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Once every rank joined the first time: index the blocks every rank
  // recovered in the same slot.
  void IndexCommonRecovered() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A rank that joined again: drop what it lost; returns its recovered
  // slots the index does not name.
  std::vector<SlotRef> Reconcile(const Hello& hello) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the copies in `doubtful_` that are no longer in use.
  void DropDoubtful() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const uint32_t ranks_;
  const SlidingWindow window_;

  mutable Mutex mu_;
  // Made when the first worker joins, over the tier stack it announced.
  std::unique_ptr<Placement> placement_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> incarnation_ ABSL_GUARDED_BY(mu_);  // per rank; 0: not joined
  bool indexed_ ABSL_GUARDED_BY(mu_) = false;               // IndexCommonRecovered ran
  // Before every rank joined: what each recovered, per stack position.
  std::vector<std::vector<std::vector<RecoveredEntry>>> first_recovered_
      ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<SlotRef> forget_ ABSL_GUARDED_BY(mu_);  // go out with the next plan
  std::deque<WriteDownJob> owed_ ABSL_GUARDED_BY(mu_);
  // Per stack position: copies a rank's restart made doubtful that were in
  // use then (pinned by plans in flight); dropped once free.
  std::vector<std::vector<BlockHash>> doubtful_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvtier::internal
