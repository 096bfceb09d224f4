// Admit: finds a slot for a new block in one tier, evicting in policy order
// until there is one. Shared by the Store (under its lock) and the replay
// simulator, so both make the same choices.
//
// First BlockIndex::MakeRoom frees enough units (pages); if they do not
// make a slot of the block's size class (a whole block needs a whole free
// frame, lib/index/page_space.h), EvictOne continues in policy order until
// PageSpace can place it. Every victim's slot is freed in `space`; the
// caller frees whatever else it keeps per slot (bytes, a manifest entry).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lib/index/block_index.h"
#include "lib/index/page_space.h"

namespace kvtier::internal {

struct Admission {
  std::optional<uint32_t> slot;      // nullopt: not admitted
  std::vector<Eviction> evicted;     // slots already freed in the PageSpace
  std::optional<uint32_t> replaced;  // Upgrade: the trimmed copy's slot, freed
  // Of `evicted`, those taken beyond the units needed because the free
  // pages did not make a slot of the size class (fragmentation).
  uint32_t placement_evictions = 0;
};

// Adds `hash` to `tier` as pending in form `form` and returns its slot. Not
// admitted (slot nullopt) when no more blocks can be evicted (all pinned,
// pending, or parents of resident blocks); blocks evicted on the way stay
// evicted and are listed all the same.
// `parent`: as BlockIndex::AddPending; it is also kept from eviction while
// this tier holds its only copy.
Admission Admit(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                const BlockHash* parent, BlockForm form);

// What `tier` needs so that `hash` is kept there in `form`: nothing (its
// copy covers `form`, or is being written or read: left as it is), a new
// copy, or its trimmed copy upgraded to whole (growth).
enum class CopyNeed { kHave, kNew, kUpgrade };
CopyNeed CopyNeeded(const BlockIndex& index, Tier tier, const BlockHash& hash,
                    BlockForm form);

// Growth: the trimmed copy of `hash` in `tier` becomes a pending whole one in
// a new slot, keeping its place in the eviction order and its links (the
// block never leaves the tier, so its descendants are not orphaned). Not
// upgraded (slot nullopt) when room for a whole block cannot be made.
// REQUIRES: the copy is present, ready, trimmed and not pinned.
Admission Upgrade(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                  const BlockHash* parent);

}  // namespace kvtier::internal
