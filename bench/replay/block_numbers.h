// BlockNumbers: a trace's blocks numbered densely, 0.. in order of first
// reference, so that the bounds (bounds.h) index plain arrays instead of
// probing a hash map with 16-byte hashes on every reference. Numbering costs
// one hash-map probe per reference; it is done once per trace and shared by
// the ceiling, Belady and the distinct count (a 20M-reference trace took
// three such passes before).
#pragma once

#include <cstdint>
#include <vector>

#include "bench/replay/trace.h"

namespace kvtier::replay {

struct BlockNumbers {
  std::vector<uint32_t> ids;  // ids[p] numbers trace.blocks[p]
  uint32_t distinct = 0;      // distinct full blocks: ids are below it
  // Distinct blocks, partial tails included (Trace::distinct_references).
  uint64_t distinct_references = 0;
};

// REQUIRES: fewer than 2^32 - 1 distinct blocks.
BlockNumbers NumberBlocks(const Trace& trace);

}  // namespace kvtier::replay
