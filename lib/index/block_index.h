// BlockIndex: which tiers hold which block, and which block each tier gives
// up next. It is the store's whole notion of "where" and never touches bytes:
// the Store drives it next to real tiers, kvtier-replay drives it alone.
//
// Per tier a block is absent, pending (slot reserved, bytes being written:
// not servable, not evictable) or ready. Ready blocks may be pinned (being
// read: not evictable). Capacity is counted in units per tier (one unit per
// slot today) and is a hard bound: AddPending never admits past it, and
// MakeRoom is the only way to get room.
//
// Order (DESIGN invariants 2 and 5):
//  - TouchChain makes a chain recent tail first, so its root ends most recent
//    and a tier evicts chain tails before their prefixes.
//  - A block is never chosen as victim in a tier while one of its children
//    (blocks saved with it as parent) is in that tier.
//  - When a block leaves its last tier its descendants become orphans (they
//    can never be served) and move to the cold end of their tiers, deepest
//    coldest, so they go first and tails first. If the block is saved again
//    it adopts them back: it is kept as a "tombstone" (in no tier, not
//    counted by entries()) for as long as it has children.
// Cost: FindVictim walks from the cold end past blocks that are pinned,
// pending or parents of resident children; with TouchChain after every
// save (as the Store does) that is a handful, but a chain saved and never
// touched leaves its root coldest and each eviction walks the whole chain.
//
// Memory (measured, tests/block_index_test.cc): per block an entry of 72 B,
// 8 B of eviction links per enabled tier and a hash-map slot of 29-57 B
// (absl keeps 7/16-7/8 of its buckets full): 110-140 B with one tier, 130 B
// at 2^20 blocks. The slab, links and map are sized at construction for the
// sum of the tiers' capacity_units (up to 16M blocks), since growing them
// later copies all of them at once (0.7 s at 4M blocks) and a cache fills.
//
// Thread safety: externally synchronized.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "kvtier/hash.h"
#include "kvtier/options.h"
#include "kvtier/request_context.h"
#include "lib/index/block_form.h"
#include "lib/index/eviction_order.h"

namespace kvtier::internal {

// Index bytes per block with one tier at 2^20 blocks (see Memory above).
inline constexpr size_t kIndexBytesPerBlock = 130;
// Tiers the index can hold: gpu, host, nvme. A shared tier (remote) is never
// indexed (placement asks it), so entries keep no room for it.
inline constexpr int kIndexedTiers = 3;
static_assert(static_cast<int>(Tier::kRemote) == kIndexedTiers,
              "indexed tiers come first; shared ones after them");

struct TierBudget {
  bool enabled = false;
  uint64_t capacity_units = 0;
};

// A block that lost its place in a tier; the caller frees `slot`.
struct Eviction {
  BlockHash hash;
  uint32_t slot = 0;
  bool orphan = false;      // an ancestor had left every tier: it could never hit
  bool has_parent = false;  // `parent` is the block before it in its chain
  BlockHash parent;         // (a write-back store demotes it with its parent)
  BlockForm form = BlockForm::kWhole;  // what the evicted copy kept
  uint64_t units = 1;                  // what it took
};

// A block a tier would give up next (BlockIndex::NextVictims).
struct Victim {
  BlockHash hash;
  bool has_parent = false;
  BlockHash parent;
  bool orphan = false;
};

struct PrefixInfo {
  size_t blocks = 0;
  std::array<size_t, kNumTiers> blocks_per_tier{};  // counted at the fastest tier
};

class BlockIndex {
 public:
  // `window_blocks`: a prefix needs the sliding-window layers (BlockForm
  // kWhole) of its last `window_blocks` blocks (lib/sliding_window.h);
  // 0 = the layout has none, every block is whole. REQUIRES: no tier past
  // kIndexedTiers is enabled (shared tiers are not indexed).
  BlockIndex(std::array<TierBudget, kNumTiers> budgets, EvictionPolicy policy,
             uint32_t window_blocks = 0);
  ~BlockIndex();

  // --- Queries -----------------------------------------------------------
  // The longest servable prefix of `chain`: P blocks, each ready in at least
  // one enabled tier, the last min(P, window_blocks) of them whole in one.
  // Without sliding layers, the leading blocks ready anywhere. A block counts
  // for the fastest tier holding it in the form the prefix needs.
  PrefixInfo LongestPrefix(std::span<const BlockHash> chain) const;
  // Fastest tier where the block is ready in a form that covers `need`.
  std::optional<Tier> FastestReadyTier(const BlockHash& hash,
                                       BlockForm need = BlockForm::kTrimmed) const;
  // The form of the copy in `tier`. REQUIRES: IsPresent(hash, tier).
  BlockForm FormIn(const BlockHash& hash, Tier tier) const;
  uint32_t window_blocks() const { return window_blocks_; }
  bool IsReady(const BlockHash& hash, Tier tier) const;
  bool IsPresent(const BlockHash& hash, Tier tier) const;  // pending or ready
  // REQUIRES: IsPresent(hash, tier).
  uint32_t SlotOf(const BlockHash& hash, Tier tier) const;
  uint64_t used_units(Tier tier) const;
  uint64_t capacity_units(Tier tier) const;
  size_t blocks_in(Tier tier) const;
  size_t entries() const;  // distinct blocks held by any tier
  // Heap bytes the index holds (entries, hash map, eviction links).
  size_t memory_bytes() const;
  // The blocks of `roots` the index knows and every block linked below one
  // of them, each once, children before their parents (so removing them in
  // this order never orphans a block that is about to go anyway).
  std::vector<BlockHash> Subtrees(std::span<const BlockHash> roots) const;
  // Every block some tier holds, children before their parents.
  std::vector<BlockHash> AllBlocks() const;

  // --- Admission -----------------------------------------------------------
  // Makes room for `units` more in `tier`, evicting in policy order. Returns
  // the blocks evicted (the caller frees their slots), or nullopt, evicting
  // nothing, when not enough unpinned, ready, childless blocks exist.
  // `keep` (the parent of the block being admitted, or nullptr) is not
  // chosen while this tier holds its only copy: evicting it to make room for
  // its child would store the child as an orphan that can never be served.
  std::optional<std::vector<Eviction>> MakeRoom(Tier tier, uint64_t units,
                                                const BlockHash* keep = nullptr);
  // The blocks MakeRoom(tier, units) would evict now, coldest first (fewer
  // when not enough can go); evicts nothing. Cost: the candidates visited.
  std::vector<Victim> NextVictims(Tier tier, uint64_t units) const;
  // Evicts the one block policy order picks next (not `keep` while this
  // tier holds its only copy), whatever its size; nullopt when none can go.
  // For placement: free units that do not yet make a free slot.
  std::optional<Eviction> EvictOne(Tier tier, const BlockHash* keep = nullptr);
  // Adds `hash` to `tier` as pending in `slot`. `parent` is the previous
  // block of the chain (nullptr for block 0). A block whose parent is not
  // in the index is admitted as an orphan (cold end).
  // REQUIRES: !IsPresent(hash, tier); used + units <= capacity (MakeRoom).
  void AddPending(Tier tier, const BlockHash& hash, const BlockHash* parent,
                  uint32_t slot, uint64_t units = 1, BlockForm form = BlockForm::kWhole);
  // Moves a ready copy to another slot in another form (growth: trimmed to
  // whole), pending again until MarkReady; its place in the eviction order
  // and its links stay. The caller made room for the new units.
  // REQUIRES: IsReady(hash, tier), not pinned.
  void Reform(Tier tier, const BlockHash& hash, uint32_t slot, uint64_t units,
              BlockForm form);
  // The write finished: the block becomes servable and most recent.
  void MarkReady(Tier tier, const BlockHash& hash);
  // Removes the block from `tier` (write failed, corrupt slot, explicit
  // drop). Returns its slot for the caller to free.
  // REQUIRES: IsPresent(hash, tier) and not pinned.
  uint32_t Remove(Tier tier, const BlockHash& hash);

  // --- Use -------------------------------------------------------------------
  // Makes every block of the chain that any tier holds most recent in those
  // tiers, tail first (the root ends most recent). `hit`: the blocks were
  // just served (Load), which frequency-aware policies count as a reuse;
  // false after a save.
  void TouchChain(std::span<const BlockHash> chain, bool hit = false);
  // As above, then tells each tier's order the engine's context of the
  // request (EvictionOrder::Used), root first: a session-aware order moves
  // the blocks of a closed session to its cold end.
  void TouchChain(std::span<const BlockHash> chain, bool hit,
                  const RequestContext& context);
  // Tells each tier's order the time (EvictionOrder::SetTime).
  void SetTime(double now_s);
  // A pinned block is not evicted; pins nest.
  // REQUIRES: IsReady(hash, tier).
  void Pin(const BlockHash& hash, Tier tier);
  void Unpin(const BlockHash& hash, Tier tier);
  bool IsPinned(const BlockHash& hash, Tier tier) const;

 private:
  // Per tier state of one block. 12 bytes.
  struct TierPart {
    uint32_t slot = 0;
    uint32_t resident_children = 0;  // linked children present in this tier
    uint16_t pins = 0;
    uint16_t units = 0;
  };
  // One block. An entry present in no tier stays as a "tombstone" while it
  // has linked children, so a re-saved parent adopts them again; it is erased
  // with its last child. 72 bytes.
  struct Entry {
    BlockHash hash;
    EntryId parent = kNoEntry;
    EntryId first_child = kNoEntry;
    EntryId next_sibling = kNoEntry;
    EntryId prev_sibling = kNoEntry;
    std::array<TierPart, kIndexedTiers> tiers{};
    uint8_t present = 0;  // bit per tier: pending or ready
    uint8_t ready = 0;    // bit per tier
    uint8_t whole = 0;    // bit per tier: that copy is BlockForm::kWhole
    // An ancestor is in no tier: the block can never be served, so it sits
    // at the cold end of its tiers and is evicted first.
    bool orphan = false;
  };
  struct BlockHashHash {
    size_t operator()(const BlockHash& h) const { return absl::HashOf(h.lo, h.hi); }
  };

  static uint8_t Bit(int tier) { return static_cast<uint8_t>(1u << tier); }
  EntryId Find(const BlockHash& hash) const;
  // Calls step(entry id or kNoEntry) for the blocks of `chain` in order
  // until it returns false, prefetching the map and entries ahead.
  template <typename Step>
  void Walk(std::span<const BlockHash> chain, Step step) const;
  // LongestPrefix's step: adds the block to `info` if a tier holds it ready.
  bool CountReady(EntryId id, PrefixInfo& info) const;
  PrefixInfo LongestWindowedPrefix(std::span<const BlockHash> chain) const;
  EntryId KeepId(const BlockHash* keep, int tier) const;
  EntryId FindOrAdd(const BlockHash& hash);
  const Entry* FindPresent(const BlockHash& hash, Tier tier) const;
  Entry& Present(const BlockHash& hash, Tier tier);
  bool Evictable(EntryId id, int tier) const;
  // TouchChain's step for one block (kNoEntry: not indexed, skipped).
  void TouchId(EntryId id, bool hit);

  // Admission and eviction (block_index.cc).
  std::optional<std::vector<EntryId>> PlanEvictions(int tier, uint64_t need,
                                                    EntryId keep) const;
  std::optional<std::vector<EntryId>> PlanManyEvictions(int tier, uint64_t need,
                                                        EntryId keep) const;
  // Victims in policy order until `need` units are planned or none is left;
  // *freed = their units.
  std::vector<EntryId> PlanVictims(int tier, uint64_t need, EntryId keep,
                                   uint64_t* freed) const;
  Eviction Evict(EntryId id, int tier);
  void EnterTier(EntryId id, int tier, uint32_t slot, uint64_t units);
  void LeaveTier(EntryId id, int tier);

  // The parent/child tree and orphans (block_index_tree.cc).
  void LinkChild(EntryId parent, EntryId child);
  void UnlinkFromParent(EntryId child);
  bool Dead(EntryId id) const;  // present nowhere, or an orphan
  void OnLeftLastTier(EntryId id);
  void OrphanDescendants(EntryId id);
  void AdoptDescendants(EntryId id);
  void EraseWithEmptyAncestors(EntryId id);
  void DemoteEverywhere(EntryId id);

  std::array<TierBudget, kIndexedTiers> budgets_;
  std::array<uint64_t, kIndexedTiers> used_units_{};
  std::array<size_t, kIndexedTiers> blocks_{};
  std::array<std::unique_ptr<EvictionOrder>, kIndexedTiers> orders_;
  absl::flat_hash_map<BlockHash, EntryId, BlockHashHash> by_hash_;
  std::vector<Entry> entries_;  // slab; ids index it
  std::vector<EntryId> free_ids_;
  size_t live_entries_ = 0;         // entries present in at least one tier
  std::vector<EntryId> scratch_;    // DFS stack for the tree walks
  std::vector<EntryId> chain_ids_;  // TouchChain with a context: the chain's ids
  uint8_t enabled_ = 0;             // bit per enabled tier
  uint32_t window_blocks_ = 0;
};

}  // namespace kvtier::internal
