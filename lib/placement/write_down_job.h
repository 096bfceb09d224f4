// WriteDownJob: a block owed to the tier below the one that holds it
// (lib/placement/placement.h); the background writer carries it out.
#pragma once

#include <cstdint>

#include "kvtier/hash.h"

namespace kvtier::internal {

// Its copy at `from` stays pinned until the job ran or was given back.
struct WriteDownJob {
  BlockHash hash;
  BlockHash parent;
  bool has_parent = false;
  uint8_t from = 0;  // stack position of the copy to read
  // Stack position it goes to: the next tier below `from`, or a shared tier
  // (fed write-through from the engine's tier).
  uint8_t to = 0;
};

}  // namespace kvtier::internal
