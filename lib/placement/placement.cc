// Placement: construction, Lookup and leases, admission and eviction over
// stack positions, recovery and figures. Loads are in placement_load.cc,
// saves and write-downs in placement_save.cc.
#include "lib/placement/placement.h"

#include <cassert>
#include <chrono>
#include <utility>

namespace kvtier::internal {
namespace {

std::array<TierBudget, kNumTiers> BudgetsOf(const TierStack& tiers) {
  std::array<TierBudget, kNumTiers> budgets{};
  for (const StackTier& t : tiers) {
    if (t.traits.authority == Authority::kShared) continue;  // not indexed
    budgets[static_cast<int>(t.id)] = TierBudget{true, t.geometry.pages()};
  }
  return budgets;
}

std::vector<PageSpace> SpacesOf(const TierStack& tiers) {
  std::vector<PageSpace> spaces;
  spaces.reserve(tiers.size());
  for (const StackTier& t : tiers) spaces.emplace_back(t.geometry);
  return spaces;
}

}  // namespace

SecondsClock SteadySeconds() {
  const auto start = std::chrono::steady_clock::now();
  return [start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count();
  };
}

Placement::Placement(TierStack tiers, EvictionPolicy policy, const SlidingWindow& window,
                     TierGate* gate, SecondsClock clock)
    : tiers_(std::move(tiers)),
      window_(window),
      gate_(gate),
      clock_(std::move(clock)),
      index_(BudgetsOf(tiers_), policy, window.window_blocks()),
      space_(SpacesOf(tiers_)),
      counters_(tiers_.size()),
      owed_(tiers_.size()) {
  for (size_t p = 1; p < tiers_.size(); ++p) {
    assert(tiers_[p - 1].id < tiers_[p].id && "tier ids ascend down the stack");
  }
}

size_t Placement::EngineTier(MemoryKind kind) const {
  for (size_t p = 0; p < tiers_.size(); ++p) {
    if (tiers_[p].traits.memory == kind) return p;
  }
  return 0;
}

std::optional<size_t> Placement::FastestReady(const BlockHash& hash,
                                              BlockForm need) const {
  const std::optional<Tier> id = index_.FastestReadyTier(hash, need);
  if (!id) return std::nullopt;
  for (size_t p = 0; p < tiers_.size(); ++p) {
    if (tiers_[p].id == *id) return p;
  }
  return std::nullopt;
}

bool Placement::CoveredBelow(size_t tier, const BlockHash& hash, BlockForm form) const {
  for (size_t p = tier + 1; p < tiers_.size() && !Shared(p); ++p) {
    if (index_.IsPresent(hash, IdAt(p)) && Covers(index_.FormIn(hash, IdAt(p)), form)) {
      return true;
    }
  }
  return false;
}

// ---- Lookup and leases -------------------------------------------------------

PrefixInfo Placement::Lookup(std::span<const BlockHash> chain) const {
  ReaderMutexLock lock(&mu_);
  return index_.LongestPrefix(chain);
}

PrefixInfo Placement::LookupTiers(std::span<const BlockHash> chain,
                                  std::vector<Tier>* tiers) const {
  ReaderMutexLock lock(&mu_);
  const PrefixInfo info = index_.LongestPrefix(chain);
  tiers->clear();
  for (size_t i = 0; i < info.blocks; ++i) {
    tiers->push_back(index_.FastestReadyTier(chain[i]).value_or(Tier::kHost));
  }
  return info;
}

PrefixInfo Placement::LookupWithLease(std::span<const BlockHash> chain,
                                      LeaseClock::time_point expiry, uint64_t* lease) {
  MutexLock lock(&mu_);
  ExpireLeasesLocked();
  const PrefixInfo info = index_.LongestPrefix(chain);
  *lease = 0;
  if (info.blocks == 0) return info;
  const std::vector<Move> pinned = PinPrefix(chain.first(info.blocks));
  assert(pinned.size() == info.blocks);
  Lease l;
  l.expiry = expiry;
  l.blocks.reserve(pinned.size());
  for (const Move& m : pinned) {
    l.blocks.push_back(
        LeasedBlock{chain[m.block], m.from.tier, m.from.slot, m.form, m.need});
  }
  *lease = leases_.Add(std::move(l));
  leases_granted_.fetch_add(1, std::memory_order_relaxed);
  return info;
}

bool Placement::ReleaseLease(uint64_t lease) {
  MutexLock lock(&mu_);
  std::optional<Lease> l = leases_.Take(lease);
  if (!l) return false;
  ReleaseLeasePins(*l);
  leases_released_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

size_t Placement::ExpireLeases(LeaseClock::time_point now) {
  MutexLock lock(&mu_);
  const std::vector<Lease> expired = leases_.TakeExpired(now);
  for (const Lease& l : expired) ReleaseLeasePins(l);
  leases_expired_.fetch_add(expired.size(), std::memory_order_relaxed);
  return expired.size();
}

void Placement::ExpireLeasesLocked() {
  const std::vector<Lease> expired = leases_.TakeExpired(LeaseClock::now());
  for (const Lease& l : expired) ReleaseLeasePins(l);
  leases_expired_.fetch_add(expired.size(), std::memory_order_relaxed);
}

void Placement::ReleaseLeasePins(const Lease& lease) {
  for (const LeasedBlock& b : lease.blocks) index_.Unpin(b.hash, IdAt(b.tier));
}

// ---- Admission and eviction ----------------------------------------------------

std::optional<uint32_t> Placement::AdmitLocked(size_t tier, const BlockHash& hash,
                                               const BlockHash* parent, BlockForm form,
                                               std::vector<SlotRelease>& releases) {
  if (gate_ != nullptr && !gate_->Accepting(tier)) return std::nullopt;
  const Admission a = Admit(index_, space_[tier], IdAt(tier), hash, parent, form);
  AfterEvictions(tier, a, releases);
  return a.slot;
}

std::optional<uint32_t> Placement::UpgradeLocked(size_t tier, const BlockHash& hash,
                                                 const BlockHash* parent,
                                                 std::vector<SlotRelease>& releases) {
  if (gate_ != nullptr && !gate_->Accepting(tier)) return std::nullopt;
  const Admission a = Upgrade(index_, space_[tier], IdAt(tier), hash, parent);
  if (a.slot) ++counters_[tier].upgrades;
  // The trimmed copy's record goes before the whole one is written.
  if (a.replaced && gate_ != nullptr) {
    releases.push_back(SlotRelease{static_cast<uint8_t>(tier), *a.replaced,
                                   gate_->PrepareForget(tier, *a.replaced)});
  }
  AfterEvictions(tier, a, releases);
  return a.slot;
}

// Counts what an admission evicted and releases the victims' records (their
// pages were freed by Admit). A write-back victim the tier below lacks
// (its write-down had not been owed yet: the writer is behind) is lost to
// that tier: counted as a dropped write-down. Owed blocks are pinned, so a
// write-through victim was either written down or counted when dropped.
void Placement::AfterEvictions(size_t tier, const Admission& a,
                               std::vector<SlotRelease>& releases) {
  PlacementCounters& c = counters_[tier];
  c.placement_evictions += a.placement_evictions;
  for (const Eviction& e : a.evicted) {
    if (gate_ != nullptr) {
      releases.push_back(SlotRelease{static_cast<uint8_t>(tier), e.slot,
                                     gate_->PrepareForget(tier, e.slot)});
    }
    ++c.evictions;
    if (e.orphan) ++c.orphans;
    if (HasBelow(tier) && tiers_[tier + 1].traits.arrival == WritePolicy::kWriteBack &&
        !e.orphan && !CoveredBelow(tier, e.hash, e.form)) {
      write_downs_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Placement::Release(size_t tier, uint32_t slot, BlockForm form,
                        std::vector<SlotRelease>& releases) {
  if (gate_ != nullptr) {
    releases.push_back(
        SlotRelease{static_cast<uint8_t>(tier), slot, gate_->PrepareForget(tier, slot)});
  }
  space_[tier].Free(slot, form);
}

void Placement::DropLocked(size_t tier, const BlockHash& hash,
                           std::vector<SlotRelease>& releases) {
  const BlockForm form = index_.FormIn(hash, IdAt(tier));
  Release(tier, index_.Remove(IdAt(tier), hash), form, releases);
}

// ---- Recovery and figures --------------------------------------------------------

void Placement::IndexRecovered(size_t tier, std::span<const RecoveredEntry> blocks) {
  MutexLock lock(&mu_);
  PageSpace& space = space_[tier];
  const Tier id = IdAt(tier);
  for (const RecoveredEntry& b : blocks) {
    // The tier checked its records; a claim that still fails (overlap) or a
    // block seen twice is left out rather than trusted.
    if (index_.IsPresent(b.hash, id) || !space.Claim(b.slot, b.form)) continue;
    const bool linked = b.has_parent && b.parent != b.hash;
    index_.AddPending(id, b.hash, linked ? &b.parent : nullptr, b.slot,
                      space.geometry().UnitsOf(b.form), b.form);
    index_.MarkReady(id, b.hash);
  }
}

PlacementCounters Placement::counters(size_t tier) const {
  ReaderMutexLock lock(&mu_);
  return counters_[tier];
}

void Placement::ReportStats(StoreStats* s) const {
  {
    ReaderMutexLock lock(&mu_);
    for (size_t p = 0; p < tiers_.size(); ++p) {
      TierStats& ts = s->tiers[static_cast<int>(IdAt(p))];
      const PlacementCounters& c = counters_[p];
      const TierGeometry& g = tiers_[p].geometry;
      ts.enabled = true;
      ts.position = static_cast<uint32_t>(p);
      ts.slot_bytes = g.page_bytes;
      ts.hits = c.hits;
      ts.inserts = c.inserts;
      if (Shared(p)) continue;  // not indexed: no capacity, blocks or evictions known
      ts.capacity_bytes = g.capacity_bytes();
      ts.used_bytes = index_.used_units(IdAt(p)) * g.page_bytes;
      ts.blocks = index_.blocks_in(IdAt(p));
      ts.evictions = c.evictions;
      ts.placement_evictions = c.placement_evictions;
      ts.orphans_dropped = c.orphans;
      ts.rejected = c.rejected;
    }
    s->leases_active = leases_.size();
  }
  s->save_upgraded_blocks = save_upgraded_.load(std::memory_order_relaxed);
  s->leases_granted = leases_granted_.load(std::memory_order_relaxed);
  s->leases_used = leases_used_.load(std::memory_order_relaxed);
  s->leases_released = leases_released_.load(std::memory_order_relaxed);
  s->leases_expired = leases_expired_.load(std::memory_order_relaxed);
  s->erased_blocks = erased_.load(std::memory_order_relaxed);
}

}  // namespace kvtier::internal
