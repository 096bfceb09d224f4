// BlockIndex: queries, admission, eviction and use. The parent/child tree
// that orders evictions and finds orphans is in block_index_tree.cc.
#include "lib/index/block_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <limits>

#include "absl/container/flat_hash_set.h"

namespace kvtier::internal {
namespace {

int Index(Tier tier) {
  assert(static_cast<int>(tier) < kIndexedTiers && "a shared tier is not indexed");
  return static_cast<int>(tier);
}

// Beyond this many blocks (2-3 GB of index) the index grows on demand.
constexpr uint64_t kReserveBlocksLimit = uint64_t{1} << 24;

// How far ahead LongestPrefix prefetches hash-map buckets and entries; about
// the number of cache misses a core keeps in flight, times two stages.
constexpr size_t kMapAhead = 16;
constexpr size_t kEntryAhead = 8;

}  // namespace

BlockIndex::BlockIndex(std::array<TierBudget, kNumTiers> budgets, EvictionPolicy policy,
                       uint32_t window_blocks)
    : window_blocks_(window_blocks) {
  static_assert(sizeof(Entry) == 72, "update the memory figures in block_index.h");
  for (int t = 0; t < kNumTiers; ++t) {
    assert((t < kIndexedTiers || !budgets[t].enabled) && "a shared tier is not indexed");
    if (t < kIndexedTiers) budgets_[t] = budgets[t];
  }
  // Sized once for full tiers: growing a slab or the hash map later copies
  // all of it under the Store's lock (0.7 s at 4M blocks), and a cache fills.
  uint64_t blocks = 0;
  for (int t = 0; t < kIndexedTiers; ++t) {
    if (budgets_[t].enabled) {
      blocks =
          std::min(blocks + std::min(budgets_[t].capacity_units, kReserveBlocksLimit),
                   kReserveBlocksLimit);
    }
  }
  entries_.reserve(blocks);
  by_hash_.reserve(blocks);
  for (int t = 0; t < kIndexedTiers; ++t) {
    orders_[t] = MakeEvictionOrder(policy);
    if (budgets_[t].enabled) {
      enabled_ |= Bit(t);
      orders_[t]->Reserve(blocks);
    }
  }
}

BlockIndex::~BlockIndex() = default;

// ---- Queries ------------------------------------------------------------------

template <typename Step>
void BlockIndex::Walk(std::span<const BlockHash> chain, Step step) const {
  // A long hit is memory-latency bound: each block costs a hash-map probe and
  // an entry read, both cache misses in a large index. The probes are
  // independent, so they are pipelined: the map bucket of block i +
  // kMapAhead and the entry of block i + kEntryAhead are prefetched while
  // block i is checked. Block 0 is probed alone first, so a miss (a new
  // prompt) costs one probe, not a pipeline's worth.
  const size_t n = chain.size();
  if (n == 0 || !step(Find(chain[0]))) return;
  std::array<EntryId, kEntryAhead> ahead;  // ring: the ids of blocks i..i+kEntryAhead-1
  const auto probe = [&](size_t k) {
    const EntryId id = Find(chain[k]);
    if (id != kNoEntry) __builtin_prefetch(&entries_[id].ready);
    ahead[k % kEntryAhead] = id;
  };
  for (size_t k = 1; k < std::min(n, 1 + kMapAhead); ++k) by_hash_.prefetch(chain[k]);
  for (size_t k = 1; k < std::min(n, 1 + kEntryAhead); ++k) probe(k);
  for (size_t i = 1; i < n; ++i) {
    if (!step(ahead[i % kEntryAhead])) break;
    if (i + kMapAhead < n) by_hash_.prefetch(chain[i + kMapAhead]);
    if (i + kEntryAhead < n) probe(i + kEntryAhead);
  }
}

PrefixInfo BlockIndex::LongestPrefix(std::span<const BlockHash> chain) const {
  if (window_blocks_ > 0) return LongestWindowedPrefix(chain);
  PrefixInfo info;
  Walk(chain, [&](EntryId id) { return CountReady(id, info); });
  return info;
}

// Walks the blocks ready anywhere; prefix P = i + 1 is servable when the
// last min(P, window) blocks are whole somewhere (`run` of them in a row).
// Tier counts: every block at its fastest tier, except that the window's
// blocks count at their fastest whole copy; kept as running sums so each
// servable P is an O(1) snapshot.
PrefixInfo BlockIndex::LongestWindowedPrefix(std::span<const BlockHash> chain) const {
  const size_t w = window_blocks_;
  std::array<size_t, kNumTiers> any{}, window_any{}, window_whole{};
  std::vector<std::pair<uint8_t, uint8_t>> ring(w);  // (any tier, whole tier) per block
  PrefixInfo best;
  size_t i = 0, run = 0, at = 0;  // `at`: ring position of block i (i % w, no division)
  Walk(chain, [&](EntryId id) {
    if (id == kNoEntry) return false;
    const Entry& e = entries_[id];
    const unsigned ready = e.ready & enabled_;
    if (ready == 0) return false;
    const unsigned whole = ready & e.whole;
    const auto any_tier = static_cast<uint8_t>(std::countr_zero(ready));
    const auto whole_tier =
        static_cast<uint8_t>(whole != 0 ? std::countr_zero(whole) : kNumTiers);
    if (i >= w) {  // block i - w leaves the window
      const auto [old_any, old_whole] = ring[at];
      --window_any[old_any];
      if (old_whole < kNumTiers) --window_whole[old_whole];
    }
    ring[at] = {any_tier, whole_tier};
    if (++at == w) at = 0;
    ++any[any_tier];
    ++window_any[any_tier];
    if (whole_tier < kNumTiers) ++window_whole[whole_tier];
    run = whole != 0 ? run + 1 : 0;
    ++i;
    if (run >= w || run == i) {  // the last min(i, w) blocks are whole
      best.blocks = i;
      for (int t = 0; t < kNumTiers; ++t) {
        best.blocks_per_tier[t] = any[t] - window_any[t] + window_whole[t];
      }
    }
    return true;
  });
  return best;
}

bool BlockIndex::CountReady(EntryId id, PrefixInfo& info) const {
  if (id == kNoEntry) return false;
  const unsigned ready = entries_[id].ready & enabled_;
  if (ready == 0) return false;
  ++info.blocks_per_tier[std::countr_zero(ready)];  // lowest Tier is fastest
  ++info.blocks;
  return true;
}

std::optional<Tier> BlockIndex::FastestReadyTier(const BlockHash& hash,
                                                 BlockForm need) const {
  const EntryId id = Find(hash);
  if (id == kNoEntry) return std::nullopt;
  unsigned ready = entries_[id].ready & enabled_;
  if (need == BlockForm::kWhole) ready &= entries_[id].whole;
  if (ready == 0) return std::nullopt;
  return static_cast<Tier>(std::countr_zero(ready));
}

BlockForm BlockIndex::FormIn(const BlockHash& hash, Tier tier) const {
  const Entry* e = FindPresent(hash, tier);
  assert(e != nullptr && "FormIn: block not present in tier");
  return (e->whole & Bit(Index(tier))) != 0 ? BlockForm::kWhole : BlockForm::kTrimmed;
}

bool BlockIndex::IsReady(const BlockHash& hash, Tier tier) const {
  const EntryId id = Find(hash);
  return id != kNoEntry && (entries_[id].ready & Bit(Index(tier))) != 0;
}

bool BlockIndex::IsPresent(const BlockHash& hash, Tier tier) const {
  return FindPresent(hash, tier) != nullptr;
}

uint32_t BlockIndex::SlotOf(const BlockHash& hash, Tier tier) const {
  const Entry* e = FindPresent(hash, tier);
  assert(e != nullptr && "SlotOf: block not present in tier");
  return e->tiers[Index(tier)].slot;
}

uint64_t BlockIndex::used_units(Tier tier) const { return used_units_[Index(tier)]; }

uint64_t BlockIndex::capacity_units(Tier tier) const {
  return budgets_[Index(tier)].capacity_units;
}

size_t BlockIndex::blocks_in(Tier tier) const { return blocks_[Index(tier)]; }

size_t BlockIndex::entries() const { return live_entries_; }

size_t BlockIndex::memory_bytes() const {
  // absl's flat_hash_map: one slot and one control byte per bucket.
  size_t bytes = by_hash_.capacity() * (sizeof(decltype(by_hash_)::slot_type) + 1) +
                 entries_.capacity() * sizeof(Entry) +
                 (free_ids_.capacity() + scratch_.capacity() + chain_ids_.capacity()) *
                     sizeof(EntryId);
  for (const auto& order : orders_) bytes += order->memory_bytes();
  return bytes;
}

// ---- Admission ----------------------------------------------------------------

std::optional<std::vector<Eviction>> BlockIndex::MakeRoom(Tier tier, uint64_t units,
                                                          const BlockHash* keep) {
  const int t = Index(tier);
  const uint64_t capacity = budgets_[t].capacity_units;
  if (!budgets_[t].enabled || units > capacity) return std::nullopt;
  const uint64_t free = capacity - used_units_[t];
  if (units <= free) return std::vector<Eviction>{};
  // Plan first, then evict: a failed MakeRoom must leave the index untouched.
  // The parent may leave this tier if another still holds it (it can be
  // served from there); only its last copy is kept.
  const std::optional<std::vector<EntryId>> plan =
      PlanEvictions(t, units - free, KeepId(keep, t));
  if (!plan) return std::nullopt;
  std::vector<Eviction> evicted;
  evicted.reserve(plan->size());
  for (const EntryId id : *plan) evicted.push_back(Evict(id, t));
  return evicted;
}

std::optional<Eviction> BlockIndex::EvictOne(Tier tier, const BlockHash* keep) {
  const int t = Index(tier);
  if (!budgets_[t].enabled) return std::nullopt;
  const EntryId keep_id = KeepId(keep, t);
  const EntryId victim = orders_[t]->FindVictim(
      [&](EntryId id) { return id != keep_id && Evictable(id, t); });
  if (victim == kNoEntry) return std::nullopt;
  return Evict(victim, t);
}

std::vector<Victim> BlockIndex::NextVictims(Tier tier, uint64_t units) const {
  std::vector<Victim> out;
  const int t = Index(tier);
  if (!budgets_[t].enabled || units == 0) return out;
  uint64_t freed = 0;
  for (const EntryId id : PlanVictims(t, units, kNoEntry, &freed)) {
    const Entry& e = entries_[id];
    Victim v{e.hash, e.parent != kNoEntry, {}, e.orphan};
    if (v.has_parent) v.parent = entries_[e.parent].hash;
    out.push_back(v);
  }
  return out;
}

// The parent may leave this tier if another still holds it (it can be
// served from there); only its last copy is kept.
EntryId BlockIndex::KeepId(const BlockHash* keep, int tier) const {
  const EntryId id = keep != nullptr ? Find(*keep) : kNoEntry;
  return id != kNoEntry && entries_[id].present == Bit(tier) ? id : kNoEntry;
}

void BlockIndex::AddPending(Tier tier, const BlockHash& hash, const BlockHash* parent,
                            uint32_t slot, uint64_t units, BlockForm form) {
  const int t = Index(tier);
  assert(budgets_[t].enabled && "AddPending to a disabled tier");
  assert(units <= std::numeric_limits<uint16_t>::max());
  assert(used_units_[t] + units <= budgets_[t].capacity_units && "call MakeRoom first");
  const EntryId id = FindOrAdd(hash);
  assert((entries_[id].present & Bit(t)) == 0 && "AddPending: already present");
  // Links never break while both ends exist, so only a new entry or one
  // that is in no tier (a tombstone, or a parent seen only as a parent)
  // can lack its parent link.
  if (parent != nullptr && entries_[id].parent == kNoEntry && entries_[id].present == 0) {
    assert(*parent != hash);
    const EntryId parent_id = FindOrAdd(*parent);  // may add a tombstone
    LinkChild(parent_id, id);
  }
  EnterTier(id, t, slot, units);
  if (form == BlockForm::kWhole) {
    entries_[id].whole |= Bit(t);
  } else {
    entries_[id].whole &= static_cast<uint8_t>(~Bit(t));
  }
}

void BlockIndex::Reform(Tier tier, const BlockHash& hash, uint32_t slot, uint64_t units,
                        BlockForm form) {
  const int t = Index(tier);
  const EntryId id = Find(hash);
  assert(id != kNoEntry && (entries_[id].ready & Bit(t)) && "Reform: not ready");
  Entry& e = entries_[id];
  TierPart& part = e.tiers[t];
  assert(part.pins == 0 && "Reform: pinned");
  used_units_[t] = used_units_[t] - part.units + units;
  assert(used_units_[t] <= budgets_[t].capacity_units && "call MakeRoom first");
  part.slot = slot;
  part.units = static_cast<uint16_t>(units);
  e.ready &= static_cast<uint8_t>(~Bit(t));
  if (form == BlockForm::kWhole) {
    e.whole |= Bit(t);
  } else {
    e.whole &= static_cast<uint8_t>(~Bit(t));
  }
}

void BlockIndex::MarkReady(Tier tier, const BlockHash& hash) {
  const int t = Index(tier);
  const EntryId id = Find(hash);
  assert(id != kNoEntry && (entries_[id].present & Bit(t)) && "MarkReady: not present");
  Entry& e = entries_[id];
  assert((e.ready & Bit(t)) == 0 && "MarkReady: already ready");
  e.ready |= Bit(t);
  if (e.orphan) {
    orders_[t]->Demote(id);
  } else {
    orders_[t]->Touch(id);
  }
}

uint32_t BlockIndex::Remove(Tier tier, const BlockHash& hash) {
  const int t = Index(tier);
  const EntryId id = Find(hash);
  assert(id != kNoEntry && (entries_[id].present & Bit(t)) && "Remove: not present");
  assert(entries_[id].tiers[t].pins == 0 && "Remove: pinned");
  const uint32_t slot = entries_[id].tiers[t].slot;
  LeaveTier(id, t);
  return slot;
}

// ---- Use ----------------------------------------------------------------------

void BlockIndex::TouchChain(std::span<const BlockHash> chain, bool hit) {
  for (size_t i = chain.size(); i-- > 0;) TouchId(Find(chain[i]), hit);
}

void BlockIndex::TouchChain(std::span<const BlockHash> chain, bool hit,
                            const RequestContext& context) {
  if (context.session_id == 0 && context.priority == 0) {
    TouchChain(chain, hit);
    return;
  }
  // One lookup per block for both passes: touching changes no entry.
  chain_ids_.resize(chain.size());
  for (size_t i = chain.size(); i-- > 0;) {
    chain_ids_[i] = Find(chain[i]);
    TouchId(chain_ids_[i], hit);
  }
  for (const std::unique_ptr<EvictionOrder>& order : orders_) {
    if (order) order->BeginUse(context);
  }
  for (const EntryId id : chain_ids_) {
    if (id == kNoEntry || entries_[id].orphan) continue;
    for (unsigned ready = entries_[id].ready; ready != 0; ready &= ready - 1) {
      orders_[std::countr_zero(ready)]->Used(id, context);
    }
  }
}

void BlockIndex::SetTime(double now_s) {
  for (const std::unique_ptr<EvictionOrder>& order : orders_) {
    if (order) order->SetTime(now_s);
  }
}

void BlockIndex::TouchId(EntryId id, bool hit) {
  if (id == kNoEntry) return;
  const Entry& e = entries_[id];
  if (e.orphan) return;  // dead weight stays at the cold end
  for (unsigned ready = e.ready; ready != 0; ready &= ready - 1) {
    EvictionOrder& order = *orders_[std::countr_zero(ready)];
    if (hit) {
      order.Hit(id);
    } else {
      order.Touch(id);
    }
  }
}

void BlockIndex::Pin(const BlockHash& hash, Tier tier) {
  const EntryId id = Find(hash);
  assert(id != kNoEntry && (entries_[id].ready & Bit(Index(tier))) && "Pin: not ready");
  uint16_t& pins = entries_[id].tiers[Index(tier)].pins;
  assert(pins < std::numeric_limits<uint16_t>::max());
  ++pins;
}

void BlockIndex::Unpin(const BlockHash& hash, Tier tier) {
  const EntryId id = Find(hash);
  assert(id != kNoEntry && (entries_[id].ready & Bit(Index(tier))) && "Unpin: not ready");
  uint16_t& pins = entries_[id].tiers[Index(tier)].pins;
  assert(pins > 0 && "Unpin without Pin");
  --pins;
}

bool BlockIndex::IsPinned(const BlockHash& hash, Tier tier) const {
  const Entry* e = FindPresent(hash, tier);
  return e != nullptr && e->tiers[Index(tier)].pins > 0;
}

// ---- Private ------------------------------------------------------------------

EntryId BlockIndex::Find(const BlockHash& hash) const {
  const auto it = by_hash_.find(hash);
  return it == by_hash_.end() ? kNoEntry : it->second;
}

EntryId BlockIndex::FindOrAdd(const BlockHash& hash) {
  const auto [it, inserted] = by_hash_.try_emplace(hash, kNoEntry);
  if (!inserted) return it->second;
  EntryId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    assert(entries_.size() < kNoEntry - 1 && "index full");
    id = static_cast<EntryId>(entries_.size());
    entries_.emplace_back();
  }
  entries_[id].hash = hash;
  it->second = id;
  return id;
}

const BlockIndex::Entry* BlockIndex::FindPresent(const BlockHash& hash, Tier tier) const {
  const EntryId id = Find(hash);
  if (id == kNoEntry || (entries_[id].present & Bit(Index(tier))) == 0) return nullptr;
  return &entries_[id];
}

bool BlockIndex::Evictable(EntryId id, int tier) const {
  const Entry& e = entries_[id];
  const TierPart& part = e.tiers[tier];
  return (e.ready & Bit(tier)) != 0 && part.pins == 0 && part.resident_children == 0;
}

std::optional<std::vector<EntryId>> BlockIndex::PlanEvictions(int tier, uint64_t need,
                                                              EntryId keep) const {
  // Common case: one block frees enough, and the coldest evictable one is it.
  const EntryId first = orders_[tier]->FindVictim(
      [&](EntryId id) { return id != keep && Evictable(id, tier); });
  if (first == kNoEntry) return std::nullopt;
  if (entries_[first].tiers[tier].units >= need) return std::vector<EntryId>{first};
  return PlanManyEvictions(tier, need, keep);
}

std::optional<std::vector<EntryId>> BlockIndex::PlanManyEvictions(int tier, uint64_t need,
                                                                  EntryId keep) const {
  uint64_t freed = 0;
  std::vector<EntryId> plan = PlanVictims(tier, need, keep, &freed);
  if (freed < need) return std::nullopt;
  return plan;
}

std::vector<EntryId> BlockIndex::PlanVictims(int tier, uint64_t need, EntryId keep,
                                             uint64_t* freed) const {
  // Walks from the cold end as if the planned blocks were gone: a parent
  // becomes evictable once all its resident children are planned. Children
  // are normally colder than their parents, so one pass suffices; another
  // pass picks up parents that were visited before their children.
  std::vector<EntryId> plan;
  absl::flat_hash_set<EntryId> planned;
  absl::flat_hash_map<EntryId, uint32_t> planned_children;
  const auto accept = [&](EntryId id) {
    const Entry& e = entries_[id];
    const TierPart& part = e.tiers[tier];
    if (id == keep || (e.ready & Bit(tier)) == 0 || part.pins != 0 ||
        planned.contains(id)) {
      return false;
    }
    if (part.resident_children != 0) {
      const auto it = planned_children.find(id);
      if (it == planned_children.end() || it->second != part.resident_children) {
        return false;
      }
    }
    plan.push_back(id);
    planned.insert(id);
    if (e.parent != kNoEntry) ++planned_children[e.parent];
    *freed += part.units;
    return *freed >= need;
  };
  for (;;) {
    const size_t before = plan.size();
    orders_[tier]->FindVictim(accept);
    if (*freed >= need || plan.size() == before) return plan;
  }
}

Eviction BlockIndex::Evict(EntryId id, int tier) {
  const Entry& e = entries_[id];
  assert(Evictable(id, tier));
  Eviction eviction{e.hash, e.tiers[tier].slot, e.orphan,           false,
                    {},     BlockForm::kWhole,  e.tiers[tier].units};
  if ((e.whole & Bit(tier)) == 0) eviction.form = BlockForm::kTrimmed;
  if (e.parent != kNoEntry) {
    eviction.has_parent = true;
    eviction.parent = entries_[e.parent].hash;
  }
  LeaveTier(id, tier);
  return eviction;
}

void BlockIndex::EnterTier(EntryId id, int tier, uint32_t slot, uint64_t units) {
  Entry& e = entries_[id];
  const bool was_in_no_tier = e.present == 0;
  TierPart& part = e.tiers[tier];
  part.slot = slot;
  part.units = static_cast<uint16_t>(units);
  part.pins = 0;
  e.present |= Bit(tier);
  e.ready &= static_cast<uint8_t>(~Bit(tier));
  if (e.parent != kNoEntry) ++entries_[e.parent].tiers[tier].resident_children;
  used_units_[tier] += units;
  ++blocks_[tier];
  orders_[tier]->Admit(id, e.hash.lo ^ e.hash.hi);
  if (e.orphan) orders_[tier]->Demote(id);
  if (was_in_no_tier) {
    ++live_entries_;
    if (!e.orphan) AdoptDescendants(id);
  }
}

void BlockIndex::LeaveTier(EntryId id, int tier) {
  Entry& e = entries_[id];
  assert(e.tiers[tier].pins == 0);
  orders_[tier]->Remove(id);
  used_units_[tier] -= e.tiers[tier].units;
  --blocks_[tier];
  if (e.parent != kNoEntry) --entries_[e.parent].tiers[tier].resident_children;
  e.present &= static_cast<uint8_t>(~Bit(tier));
  e.ready &= static_cast<uint8_t>(~Bit(tier));
  e.whole &= static_cast<uint8_t>(~Bit(tier));
  if (e.present == 0) {
    --live_entries_;
    OnLeftLastTier(id);
  }
}

}  // namespace kvtier::internal
