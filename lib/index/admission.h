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
  std::optional<uint32_t> slot;   // nullopt: not admitted
  std::vector<Eviction> evicted;  // slots already freed in the PageSpace
};

// Adds `hash` to `tier` as pending in form `form` and returns its slot. Not
// admitted (slot nullopt) when no more blocks can be evicted (all pinned,
// pending, or parents of resident blocks); blocks evicted on the way stay
// evicted and are listed all the same.
// `parent`: as BlockIndex::AddPending; it is also kept from eviction while
// this tier holds its only copy.
Admission Admit(BlockIndex& index, PageSpace& space, Tier tier, const BlockHash& hash,
                const BlockHash* parent, BlockForm form);

}  // namespace kvtier::internal
