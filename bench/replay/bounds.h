// Bounds on the block hit rate of any policy over a trace, at the same
// prefix semantics and store semantics (only full blocks are cached).
//
// Ceiling: an infinite cache that keeps every full block it has seen. A
// request's block i hits if blocks 0..i were all seen before.
//
// Belady: Belady's MIN on the flattened reference string (every request's
// full blocks, in order), at `capacity` blocks: on a miss the block is
// admitted, evicting the resident block whose next use (the next request
// that references it) is farthest; a block whose own next use is farther
// than every resident's is not admitted (MIN with bypass, optimal when
// admission is optional, as it is for a cache). Ties go to the deeper block,
// so children leave before parents. `hits` counts every reference found
// resident: any policy's prefix hits are a subset of the references it
// finds resident, which MIN maximizes, so hits / references bounds every
// policy's hit_rate_blocks from above. `prefix_hits` counts only prefix hits
// (blocks 0..i resident at arrival) under MIN's contents: on prefix-id
// traces (mooncake) a parent's next use is never later than its child's, so
// MIN keeps parents and the two agree closely; it is reported to show that.
#pragma once

#include <cstdint>

#include "bench/replay/block_numbers.h"
#include "bench/replay/trace.h"

namespace kvtier::replay {

struct BoundHits {
  uint64_t hits = 0;
  uint64_t prefix_hits = 0;
};

// `numbers`: NumberBlocks(trace), computed once for every bound of a trace.
// Cost: Ceiling O(references); Belady O(references * log capacity), with
// memory of 8 bytes per reference plus 12 per distinct block.
uint64_t CeilingHits(const Trace& trace, const BlockNumbers& numbers);
BoundHits BeladyHits(const Trace& trace, const BlockNumbers& numbers, uint64_t capacity);
// The same, numbering the blocks first.
uint64_t CeilingHits(const Trace& trace);
BoundHits BeladyHits(const Trace& trace, uint64_t capacity);

}  // namespace kvtier::replay
