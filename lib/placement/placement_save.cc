// Placement for saves and write-downs: reserve slots in the engine's tier
// (admission, growth, eviction), publish what was written, and owe blocks to
// the tiers below.
#include <cassert>

#include "lib/placement/placement.h"

namespace kvtier::internal {
namespace {

// Write-back keeps this share of a tier's pages free or clean ahead of
// eviction (at least one frame): the coldest blocks are written down once
// the free room falls under it, so evictions find copies the tier below has.
constexpr uint64_t kWriteBackReserveShare = 8;
// Coldest blocks owed per commit at most (bounds the work under the lock).
constexpr size_t kWriteBackBatch = 16;

}  // namespace

Plan Placement::PlanSave(std::span<const BlockHash> chain,
                         std::span<const BlockForm> forms, size_t first_block,
                         MemoryKind kind, SaveResult* result) {
  Plan plan;
  plan.kind = PlanKind::kSave;
  plan.chain.assign(chain.begin(), chain.end());
  std::vector<size_t> blocks(chain.size() - first_block);
  for (size_t k = 0; k < blocks.size(); ++k) blocks[k] = first_block + k;
  MutexLock lock(&mu_);
  TellTime();
  ExpireLeasesLocked();
  Reserve(EngineTier(kind), chain, blocks, forms, /*refresh_below=*/true, plan, result);
  return plan;
}

void Placement::Reserve(size_t tier, std::span<const BlockHash> chain,
                        std::span<const size_t> blocks, std::span<const BlockForm> forms,
                        bool refresh_below, Plan& plan, SaveResult* result) {
  const Tier id = IdAt(tier);
  for (size_t k = 0; k < blocks.size(); ++k) {
    const size_t i = blocks[k];
    const BlockHash* parent = i > 0 ? &chain[i - 1] : nullptr;
    // A block a slower tier already covers is not written again by Save:
    // it is only made recent (and a Load will promote it).
    if (refresh_below && CoveredBelow(tier, chain[i], forms[k])) {
      ++result->refreshed;
      continue;
    }
    std::optional<uint32_t> slot;
    switch (CopyNeeded(index_, id, chain[i], forms[k])) {
      case CopyNeed::kHave:
        ++result->refreshed;
        continue;
      case CopyNeed::kNew:
        slot = AdmitLocked(tier, chain[i], parent, forms[k], plan.releases);
        break;
      case CopyNeed::kUpgrade:
        slot = UpgradeLocked(tier, chain[i], parent, plan.releases);
        if (slot) save_upgraded_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
    if (!slot) {
      // Later blocks would have no parent in the store: dead weight.
      result->skipped += blocks.size() - k;
      counters_[tier].rejected += blocks.size() - k;
      return;
    }
    plan.moves.push_back(Move{static_cast<uint32_t>(i), forms[k], forms[k],
                              Endpoint::Engine(), Endpoint::InTier(tier, *slot)});
  }
}

size_t Placement::Publish(const Plan& plan, std::span<const size_t> moves,
                          std::span<const Status> results,
                          std::vector<SlotRelease>& releases) {
  size_t stored = 0;
  for (const size_t k : moves) {
    const Move& m = plan.moves[k];
    const BlockHash& h = plan.chain[m.block];
    if (results[k].ok()) {
      index_.MarkReady(IdAt(m.to.tier), h);
      PlacementCounters& c = counters_[m.to.tier];
      ++c.inserts;
      ++(PromotedForm(m.form, m.need) == BlockForm::kWhole ? c.inserted_whole
                                                           : c.inserted_trimmed);
      ++stored;
    } else {
      // Best effort: a failed write is a block we do not have (invariant 3).
      DropLocked(m.to.tier, h, releases);
    }
  }
  return stored;
}

std::vector<WriteDownJob> Placement::CommitSave(const Plan& plan,
                                                std::span<const Status> results,
                                                SaveResult* result,
                                                std::vector<SlotRelease>* releases,
                                                const RequestContext& context) {
  std::vector<size_t> all(plan.moves.size()), stored;
  for (size_t k = 0; k < all.size(); ++k) all[k] = k;
  std::vector<WriteDownJob> jobs;
  MutexLock lock(&mu_);
  TellTime();
  const size_t ok = Publish(plan, all, results, *releases);
  result->stored += ok;
  result->skipped += plan.moves.size() - ok;
  index_.TouchChain(plan.chain, /*hit=*/false, context);
  for (size_t k = 0; k < all.size(); ++k) {
    if (results[k].ok()) stored.push_back(k);
  }
  if (!plan.moves.empty()) {
    OweWriteDowns(plan.moves[0].to.tier, plan, stored, jobs);
    OweShared(plan.moves[0].to.tier, plan, stored, jobs);
  }
  return jobs;
}

// Write-back keeps an owed block where it is until written down (pinned):
// it was chosen because it is about to be evicted. A write-through block is
// not held: if the tier evicts it before the writer gets to it, its
// write-down is dropped and counted (a disk that falls behind costs copies
// below, never a Save).
WriteDownJob Placement::Owe(size_t tier, const BlockHash& hash, const BlockHash* parent) {
  if (HeldWhileOwed(tier)) {
    index_.Pin(hash, IdAt(tier));
    ++owed_[tier];
  }
  return WriteDownJob{hash, parent != nullptr ? *parent : BlockHash{}, parent != nullptr,
                      static_cast<uint8_t>(tier), static_cast<uint8_t>(tier + 1)};
}

// A shared tier gets what the engine saved, straight from the engine's tier
// (reading it back from a slower tier would cost a read per block). Not
// pinned: a block evicted before the writer gets to it is a drop.
void Placement::OweShared(size_t tier, const Plan& plan, std::span<const size_t> stored,
                          std::vector<WriteDownJob>& jobs) const {
  for (size_t s = tier + 1; s < tiers_.size(); ++s) {
    if (!Shared(s)) continue;
    for (const size_t k : stored) {
      const Move& m = plan.moves[k];
      const BlockHash* parent = plan.ParentOf(m.block);
      jobs.push_back(WriteDownJob{
          plan.chain[m.block], parent != nullptr ? *parent : BlockHash{},
          parent != nullptr, static_cast<uint8_t>(tier), static_cast<uint8_t>(s)});
    }
  }
}

void Placement::OweWriteDowns(size_t tier, const Plan& plan,
                              std::span<const size_t> stored,
                              std::vector<WriteDownJob>& jobs) {
  if (!HasBelow(tier)) return;
  if (tiers_[tier + 1].traits.arrival == WritePolicy::kWriteBack) {
    OweColdest(tier, jobs);
    return;
  }
  for (const size_t k : stored) {
    const Move& m = plan.moves[k];
    jobs.push_back(Owe(tier, plan.chain[m.block], plan.ParentOf(m.block)));
  }
}

// Write-back: once the tier's free room, with the write-downs in flight, is
// under the reserve, the blocks it would evict next for the rest are owed
// below (those the tier below lacks), so evictions find them written down.
void Placement::OweColdest(size_t tier, std::vector<WriteDownJob>& jobs) {
  const Tier id = IdAt(tier);
  const uint64_t frame = tiers_[tier].geometry.pages_per_frame;
  const uint64_t capacity = index_.capacity_units(id);
  const uint64_t reserve = std::max(frame, capacity / kWriteBackReserveShare);
  const uint64_t room = capacity - index_.used_units(id) + owed_[tier] * frame;
  if (room >= reserve) return;
  size_t owed = 0;
  for (const Victim& v : index_.NextVictims(id, reserve - room)) {
    if (owed == kWriteBackBatch) break;
    if (v.orphan || CoveredBelow(tier, v.hash, index_.FormIn(v.hash, id))) continue;
    jobs.push_back(Owe(tier, v.hash, v.has_parent ? &v.parent : nullptr));
    ++owed;
  }
}

bool Placement::HeldWhileOwed(size_t tier) const {
  return HasBelow(tier) && tiers_[tier + 1].traits.arrival == WritePolicy::kWriteBack;
}

void Placement::Settle(const WriteDownJob& job) {
  if (Shared(job.to) || !HeldWhileOwed(job.from)) return;
  index_.Unpin(job.hash, IdAt(job.from));
  --owed_[job.from];
}

Plan Placement::PlanWriteDown(std::span<const WriteDownJob> jobs) {
  Plan plan;
  plan.kind = PlanKind::kCopyDown;
  for (const WriteDownJob& j : jobs) {
    plan.chain.push_back(j.hash);
    plan.has_parent.push_back(j.has_parent ? 1 : 0);
    plan.parents.push_back(j.parent);
  }
  MutexLock lock(&mu_);
  TellTime();
  for (size_t i = 0; i < jobs.size(); ++i) {
    const WriteDownJob& j = jobs[i];
    if (Shared(j.to)) {
      PlanSharedWrite(j, i, plan);
      continue;
    }
    const size_t from = j.from, to = j.to;
    const Tier from_id = IdAt(from), to_id = IdAt(to);
    if (!index_.IsReady(j.hash, from_id)) {  // evicted before its turn
      if (!index_.IsPresent(j.hash, to_id)) {
        write_downs_dropped_.fetch_add(1, std::memory_order_relaxed);
      }
      Settle(j);
      continue;
    }
    // What the source holds now (a trimmed copy may have grown since).
    const BlockForm form = index_.FormIn(j.hash, from_id);
    std::optional<uint32_t> slot;
    switch (CopyNeeded(index_, to_id, j.hash, form)) {
      case CopyNeed::kHave:  // already there (or being written or read: left)
        Settle(j);
        continue;
      case CopyNeed::kNew:
        slot = AdmitLocked(to, j.hash, plan.ParentOf(i), form, plan.releases);
        break;
      case CopyNeed::kUpgrade:
        slot = UpgradeLocked(to, j.hash, plan.ParentOf(i), plan.releases);
        break;
    }
    if (!slot) {
      Settle(j);
      write_downs_dropped_.fetch_add(1, std::memory_order_relaxed);
      ++counters_[to].rejected;
      continue;
    }
    index_.Pin(j.hash, from_id);  // read by the mover
    plan.moves.push_back(Move{static_cast<uint32_t>(i), form, form,
                              Endpoint::InTier(from, index_.SlotOf(j.hash, from_id)),
                              Endpoint::InTier(to, *slot)});
  }
  return plan;
}

std::vector<WriteDownJob> Placement::CommitWriteDown(const Plan& plan,
                                                     std::span<const Status> results,
                                                     std::vector<SlotRelease>* releases) {
  std::vector<WriteDownJob> jobs;
  MutexLock lock(&mu_);
  for (size_t k = 0; k < plan.moves.size(); ++k) {
    const Move& m = plan.moves[k];
    const BlockHash& h = plan.chain[m.block];
    index_.Unpin(h, IdAt(m.from.tier));
    if (Shared(m.to.tier)) {
      CommitSharedWrite(m, results[k], h);
      continue;
    }
    Settle(WriteDownJob{h, {}, false, m.from.tier, m.to.tier});
    if (!results[k].ok()) {
      DropLocked(m.to.tier, h, *releases);
      write_downs_dropped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    index_.MarkReady(IdAt(m.to.tier), h);
    PlacementCounters& c = counters_[m.to.tier];
    ++c.inserts;
    ++(m.form == BlockForm::kWhole ? c.inserted_whole : c.inserted_trimmed);
    write_downs_.fetch_add(1, std::memory_order_relaxed);
    const size_t to = m.to.tier;
    if (HasBelow(to) && tiers_[to + 1].traits.arrival == WritePolicy::kWriteThrough) {
      jobs.push_back(Owe(to, h, plan.ParentOf(m.block)));
    }
  }
  // Blocks that arrived in a tier above a write-back boundary may push it
  // under its reserve.
  std::vector<bool> arrived(tiers_.size());
  for (const Move& m : plan.moves) arrived[m.to.tier] = true;
  for (size_t p = 0; p < tiers_.size(); ++p) {
    if (arrived[p] && !Shared(p) && HasBelow(p) &&
        tiers_[p + 1].traits.arrival == WritePolicy::kWriteBack) {
      OweColdest(p, jobs);
    }
  }
  return jobs;
}

void Placement::AbandonWriteDowns(std::span<const WriteDownJob> jobs) {
  MutexLock lock(&mu_);
  for (const WriteDownJob& j : jobs) {
    Settle(j);
    if (Shared(j.to)) {
      ++counters_[j.to].write_dropped;
    } else {
      write_downs_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// The source's stored block is written as it is: no slot to admit, nothing
// to evict; the source is pinned while the mover reads it.
void Placement::PlanSharedWrite(const WriteDownJob& job, size_t i, Plan& plan) {
  const Tier from_id = IdAt(job.from);
  if (!index_.IsReady(job.hash, from_id)) {  // evicted before its turn
    ++counters_[job.to].write_dropped;
    return;
  }
  index_.Pin(job.hash, from_id);
  const BlockForm form = index_.FormIn(job.hash, from_id);
  plan.moves.push_back(Move{static_cast<uint32_t>(i), form, form,
                            Endpoint::InTier(job.from, index_.SlotOf(job.hash, from_id)),
                            Endpoint::InTier(job.to, 0)});
}

void Placement::CommitSharedWrite(const Move& move, const Status& result,
                                  const BlockHash& hash) {
  PlacementCounters& c = counters_[move.to.tier];
  if (!result.ok()) {
    ++c.write_dropped;
    return;
  }
  ++c.inserts;
  ++(move.form == BlockForm::kWhole ? c.inserted_whole : c.inserted_trimmed);
}

}  // namespace kvtier::internal
