// Placement: where every block lives and what moves next. It owns the index
// (BlockIndex), each tier's page space, eviction order, pins and leases, and
// holds no bytes: every engine call and background job is turned into a Plan
// (lib/placement/plan.h) under its lock, a mover executes the plan without
// it, and placement commits the per-move results under the lock again.
//
//   Lookup      shared lock: BlockIndex::LongestPrefix                 (inv. 2)
//   PlanLoad    pin the servable prefix at the fastest tier holding each
//               block in the form the prefix needs (or take a lease's
//               pins); reserve promotion slots in the engine's tier
//   CommitLoad  unpin; drop the first block that failed; touch the served
//               prefix (a hit, tail first); publish promotions        (1, 5)
//   PlanSave    per block: refresh if any tier holds it in the form needed,
//               else admit to the engine's tier (evicting in policy order,
//               never past capacity; a trimmed copy grows in place)    (4)
//   CommitSave  mark written blocks ready, drop failed ones; touch the
//               chain; owe write-downs to the next tier (below)        (3)
//   write-down  write-through: every block a tier received is owed to the
//               next one (if the tier evicts it first, the write-down is
//               dropped and counted); write-back: only the coldest blocks,
//               once the tier's free room falls under a reserve, pinned
//               where they are until written down.
//               PlanWriteDown admits it below; CommitWriteDown publishes it
//               and may owe it further down.
// The flow names no tier: it runs over positions of the TierStack, fastest
// first. Slots given up are returned as SlotRelease for the caller to
// forget (persistent records) after the lock is released: no I/O under it.
// kvtier-replay's simulator drives this same class without a mover.
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "kvtier/stats.h"
#include "kvtier/store.h"
#include "lib/index/admission.h"
#include "lib/index/block_index.h"
#include "lib/index/page_space.h"
#include "lib/mutex.h"
#include "lib/placement/lease_table.h"
#include "lib/placement/plan.h"
#include "lib/placement/tier_stack.h"
#include "lib/placement/write_down_job.h"
#include "lib/sliding_window.h"

namespace kvtier::internal {

// What placement asks of the tiers, under its lock: cheap, no I/O.
class TierGate {
 public:
  virtual ~TierGate() = default;
  // False while the tier refuses new blocks (a full device).
  virtual bool Accepting(size_t tier) const = 0;
  // The tier's ticket for forgetting `slot`'s persistent record later.
  virtual uint64_t PrepareForget(size_t tier, uint32_t slot) = 0;
};

// Chain blocks [first, first + blocks) that the shared tier at stack
// position `tier` said it holds (shared tiers are not in the index: the
// Store asks them, outside the lock, and passes the answer to PlanLoad).
struct SharedRun {
  size_t tier = 0;
  size_t first = 0;
  size_t blocks = 0;
};

// A block recovered from a persistent tier's records at open.
struct RecoveredEntry {
  BlockHash hash;
  BlockHash parent;
  bool has_parent = false;
  uint32_t slot = 0;
  BlockForm form = BlockForm::kWhole;
};

// Counters placement keeps per tier position.
struct PlacementCounters {
  uint64_t hits = 0, inserts = 0, evictions = 0, orphans = 0, rejected = 0;
  uint64_t placement_evictions = 0;
  // Shared tiers: write-throughs not done (queue full, source gone, failed).
  uint64_t write_dropped = 0;
  // Of the inserts, by the form written; upgrades: trimmed copies grown
  // whole in place (counted with the whole ones).
  uint64_t inserted_whole = 0, inserted_trimmed = 0, upgrades = 0;
};

struct LoadCommit {
  size_t loaded = 0;     // leading blocks delivered
  bool partial = false;  // a block failed before the planned prefix's end
  size_t promoted = 0;
};

struct EraseCount {
  size_t erased = 0;  // blocks removed from every tier that held them
  size_t busy = 0;    // blocks with a copy in use, left in place
};

// Seconds on a monotonic clock: the time the eviction orders compare the
// engine's TTL hints (RequestContext::ttl_s) against. The Store's is the
// steady clock; kvtier-replay's simulator gives the trace's time.
using SecondsClock = std::function<double()>;
SecondsClock SteadySeconds();

class Placement {
 public:
  // `gate` may be null (always accepting, nothing to forget: the simulator).
  Placement(TierStack tiers, EvictionPolicy policy, const SlidingWindow& window,
            TierGate* gate, SecondsClock clock = SteadySeconds());

  const TierStack& tiers() const { return tiers_; }
  // Shared tiers (Authority::kShared) sit below the others and are not
  // indexed: no slots, no eviction order; blocks reach them write-through
  // from the engine's tier.
  bool Shared(size_t tier) const {
    return tiers_[tier].traits.authority == Authority::kShared;
  }
  const SlidingWindow& window() const { return window_; }
  // The position that takes blocks from and promotes blocks into engine
  // memory of `kind`: the fastest tier of that memory kind, else the first.
  size_t EngineTier(MemoryKind kind) const;

  // ---- Lookup and leases ---------------------------------------------------
  PrefixInfo Lookup(std::span<const BlockHash> chain) const ABSL_LOCKS_EXCLUDED(mu_);
  // Lookup, and in *tiers the fastest tier holding each block of the prefix
  // it reports (in any form), for estimating what loading it costs.
  PrefixInfo LookupTiers(std::span<const BlockHash> chain, std::vector<Tier>* tiers) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Lookup that pins the prefix it reports until `expiry`, the load that
  // uses the lease, or ReleaseLease. Returns the lease id (0: nothing to pin).
  PrefixInfo LookupWithLease(std::span<const BlockHash> chain,
                             LeaseClock::time_point expiry, uint64_t* lease)
      ABSL_LOCKS_EXCLUDED(mu_);
  // False when the lease is unknown (used, released or expired already).
  bool ReleaseLease(uint64_t lease) ABSL_LOCKS_EXCLUDED(mu_);
  // Gives back the pins of leases that expired by `now`; returns how many.
  size_t ExpireLeases(LeaseClock::time_point now) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Load (lib/placement/placement_load.cc) --------------------------------
  // Plans loading the longest servable prefix of `chain` into engine memory
  // of `kind`. Moves: one read per prefix block (tier -> engine), in chain
  // order, then one promotion per block read from a slower tier than the
  // engine's (engine -> tier: what the read delivered). `lease` (0: none):
  // a lookup's lease whose pinned prefix the load serves. `shared`: blocks a
  // shared tier holds; those that extend the pinned prefix without a gap
  // are read from it (and promoted like any slower tier's).
  Plan PlanLoad(std::span<const BlockHash> chain, uint64_t lease, MemoryKind kind,
                SharedRun shared = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // `results[i]` is moves[i]'s. Hits are not counted for a sliding-window
  // attempt that stopped short: it is planned again (its window moved).
  // `context`: the engine's, told to the eviction orders with the touch.
  LoadCommit CommitLoad(const Plan& plan, std::span<const Status> results,
                        std::vector<SlotRelease>* releases,
                        const RequestContext& context = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // The blocks of the servable prefix only slower tiers hold, to be copied
  // into the engine's tier (tier -> tier moves).
  Plan PlanPrefetch(std::span<const BlockHash> chain, MemoryKind kind)
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t CommitPrefetch(const Plan& plan, std::span<const Status> results,
                        std::vector<SlotRelease>* releases) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Save and write-down (lib/placement/placement_save.cc) ----------------
  // Plans storing chain blocks first_block.. (forms[k] for block
  // first_block + k) into engine memory `kind`'s tier. Refreshed and
  // skipped blocks are counted in `result`.
  Plan PlanSave(std::span<const BlockHash> chain, std::span<const BlockForm> forms,
                size_t first_block, MemoryKind kind, SaveResult* result)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Returns the write-downs now owed (their sources pinned): the caller
  // queues them, and gives back those it cannot queue (AbandonWriteDowns).
  // `context`: as CommitLoad's.
  std::vector<WriteDownJob> CommitSave(const Plan& plan, std::span<const Status> results,
                                       SaveResult* result,
                                       std::vector<SlotRelease>* releases,
                                       const RequestContext& context = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // Admits each job's block to the tier below its source (tier -> tier
  // moves); a job whose block that tier already covers, or cannot take, is
  // settled at once (unpinned; counted as dropped when not taken).
  Plan PlanWriteDown(std::span<const WriteDownJob> jobs) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<WriteDownJob> CommitWriteDown(const Plan& plan,
                                            std::span<const Status> results,
                                            std::vector<SlotRelease>* releases)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Unpins jobs that could not be queued; counts them dropped.
  void AbandonWriteDowns(std::span<const WriteDownJob> jobs) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Erase (lib/placement/placement_erase.cc) -------------------------------
  // Removes the blocks of `roots` and every block linked below them from
  // every tier (EraseAll: every block), giving their slots back in
  // `releases`; leases that pin any of them end (counted released). A copy
  // in use (pinned by a transfer, or pending: being written) stays; it is
  // counted in `busy` for the caller to try again once it is free.
  EraseCount Erase(std::span<const BlockHash> roots, std::vector<SlotRelease>* releases)
      ABSL_LOCKS_EXCLUDED(mu_);
  EraseCount EraseAll(std::vector<SlotRelease>* releases) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes from the tier at `tier` every ready, unpinned copy that
  // `keep(hash, slot)` refuses (the split's reconciliation when a worker
  // restarts: copies a rank lost). The block stays where other tiers hold
  // it. Copies in use are left, counted busy and listed in `busy`.
  EraseCount DropCopies(size_t tier,
                        const std::function<bool(const BlockHash&, uint32_t)>& keep,
                        std::vector<SlotRelease>* releases, std::vector<BlockHash>* busy)
      ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Recovery and figures -------------------------------------------------
  // Indexes blocks a persistent tier found at open, oldest first; a block
  // whose slot overlaps another's, or seen twice, is left out.
  void IndexRecovered(size_t tier, std::span<const RecoveredEntry> blocks)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Fills the placement part of `stats` (per tier: blocks, used bytes,
  // counters; promotions, copy-downs, leases).
  void ReportStats(StoreStats* stats) const ABSL_LOCKS_EXCLUDED(mu_);
  PlacementCounters counters(size_t tier) const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t promotions() const { return promotions_.load(std::memory_order_relaxed); }
  uint64_t write_downs() const { return write_downs_.load(std::memory_order_relaxed); }
  uint64_t write_downs_dropped() const {
    return write_downs_dropped_.load(std::memory_order_relaxed);
  }

 private:
  Tier IdAt(size_t tier) const { return tiers_[tier].id; }
  // Tells the eviction orders the time; first thing of every step that may
  // evict or touch.
  void TellTime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { index_.SetTime(clock_()); }
  // An indexed tier below `tier` (the next one down is where its blocks go).
  bool HasBelow(size_t tier) const {
    return tier + 1 < tiers_.size() && !Shared(tier + 1);
  }
  // The fastest tier holding `hash` ready in a form covering `need`.
  std::optional<size_t> FastestReady(const BlockHash& hash, BlockForm need) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool CoveredBelow(size_t tier, const BlockHash& hash, BlockForm form) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Pins the servable prefix (PlanLoad, leases): one move per block.
  std::vector<Move> PinPrefix(std::span<const BlockHash> chain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnpinSources(const Plan& plan, size_t reads) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Move> TakeLease(uint64_t lease, std::span<const BlockHash> chain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReleaseLeasePins(const Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reserves a slot in `tier` for each of `blocks` (in forms[k]) that the
  // tier does not hold yet: new, or grown from trimmed. The first block
  // that cannot be admitted ends the reservation (later ones would have no
  // parent there). `refresh_below`: a block a slower tier covers needs no
  // copy (Save). Appends engine -> tier moves to `plan`.
  void Reserve(size_t tier, std::span<const BlockHash> chain,
               std::span<const size_t> blocks, std::span<const BlockForm> forms,
               bool refresh_below, Plan& plan, SaveResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<uint32_t> AdmitLocked(size_t tier, const BlockHash& hash,
                                      const BlockHash* parent, BlockForm form,
                                      std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<uint32_t> UpgradeLocked(size_t tier, const BlockHash& hash,
                                        const BlockHash* parent,
                                        std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterEvictions(size_t tier, const Admission& a, std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(size_t tier, uint32_t slot, BlockForm form,
               std::vector<SlotRelease>& releases) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the block's copy in `tier`. REQUIRES: present, not pinned.
  EraseCount EraseLocked(std::span<const BlockHash> blocks,
                         std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLocked(size_t tier, const BlockHash& hash, std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks the engine -> tier / tier -> tier moves `moves[k]` written
  // (results[k] OK) or drops them; counts inserts. Returns how many stored.
  size_t Publish(const Plan& plan, std::span<const size_t> moves,
                 std::span<const Status> results, std::vector<SlotRelease>& releases)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Write-downs owed by blocks now ready in `tier` (write-through), and,
  // for a write-back boundary under pressure, its coldest blocks.
  void OweWriteDowns(size_t tier, const Plan& plan, std::span<const size_t> stored,
                     std::vector<WriteDownJob>& jobs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OweColdest(size_t tier, std::vector<WriteDownJob>& jobs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Write-throughs to every shared tier of the blocks now ready in `tier`.
  void OweShared(size_t tier, const Plan& plan, std::span<const size_t> stored,
                 std::vector<WriteDownJob>& jobs) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PlanWriteDown / CommitWriteDown for a job bound to a shared tier.
  void PlanSharedWrite(const WriteDownJob& job, size_t i, Plan& plan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CommitSharedWrite(const Move& move, const Status& result, const BlockHash& hash)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WriteDownJob Owe(size_t tier, const BlockHash& hash, const BlockHash* parent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job ran, was refused or given back: a held source is let go.
  void Settle(const WriteDownJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether blocks owed by `tier` are pinned until written down (write-back).
  bool HeldWhileOwed(size_t tier) const;

  const TierStack tiers_;
  const SlidingWindow window_;
  TierGate* const gate_;
  const SecondsClock clock_;

  mutable Mutex mu_;
  BlockIndex index_ ABSL_GUARDED_BY(mu_);
  std::vector<PageSpace> space_ ABSL_GUARDED_BY(mu_);  // per position
  std::vector<PlacementCounters> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> owed_ ABSL_GUARDED_BY(mu_);  // write-downs in flight, per source
  LeaseTable leases_ ABSL_GUARDED_BY(mu_);

  std::atomic<uint64_t> promotions_{0}, write_downs_{0}, write_downs_dropped_{0};
  std::atomic<uint64_t> save_upgraded_{0};
  std::atomic<uint64_t> leases_granted_{0}, leases_used_{0}, leases_released_{0},
      leases_expired_{0};
  std::atomic<uint64_t> erased_{0};
};

}  // namespace kvtier::internal
