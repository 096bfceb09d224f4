// The tiers of a store as placement sees them: an ordered list, fastest
// first, each with its traits and geometry. The flow (admit, evict, promote,
// write down, recover) is written over positions in this list and names no
// tier; a tier is its backend, its traits and its options.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvtier/options.h"
#include "kvtier/store.h"
#include "lib/tier_geometry.h"

namespace kvtier::internal {

// Whether a tier keeps its blocks across a restart (its records are
// recovered at Open) or loses them.
enum class Persistence : uint8_t { kVolatile = 0, kPersistent = 1 };
// Whether the store decides alone what the tier holds, or the tier is shared
// (other stores write it, it may drop blocks on its own: a miss there is
// normal, never an error).
enum class Authority : uint8_t { kAuthoritative = 0, kShared = 1 };
// How the tier's I/O completes: on the calling thread, or through a device
// queue (submit a batch, reap completions).
enum class IoStyle : uint8_t { kSync = 0, kAsync = 1 };

struct TierTraits {
  MemoryKind memory = MemoryKind::kHost;  // where its slots live
  Persistence persistence = Persistence::kVolatile;
  Authority authority = Authority::kAuthoritative;
  IoStyle io = IoStyle::kSync;
  // How blocks reach this tier from the one above it (ignored for the
  // first): copied down after every save, or only ahead of eviction.
  WritePolicy arrival = WritePolicy::kWriteThrough;
};

struct StackTier {
  Tier id;  // the tier's name in Options and Stats; ids ascend down the stack
  TierGeometry geometry;
  TierTraits traits;
};

using TierStack = std::vector<StackTier>;

}  // namespace kvtier::internal
