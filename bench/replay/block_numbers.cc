// NumberBlocks: one pass over the trace's blocks with a hash map.
#include "bench/replay/block_numbers.h"

#include <cassert>

#include "absl/container/flat_hash_map.h"

namespace kvtier::replay {
namespace {

struct HashOf {
  size_t operator()(const BlockHash& h) const {
    return h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull);
  }
};

}  // namespace

BlockNumbers NumberBlocks(const Trace& trace) {
  BlockNumbers n;
  absl::flat_hash_map<BlockHash, uint32_t, HashOf> dense;
  n.ids.reserve(trace.blocks.size());
  for (const BlockHash& h : trace.blocks) {
    const auto [it, added] = dense.try_emplace(h, static_cast<uint32_t>(dense.size()));
    n.ids.push_back(it->second);
  }
  assert(dense.size() < UINT32_MAX);
  n.distinct = static_cast<uint32_t>(dense.size());
  n.distinct_references = n.distinct;
  for (const BlockHash& h : trace.partial_tails) {
    if (dense.try_emplace(h, 0).second) ++n.distinct_references;
  }
  return n;
}

}  // namespace kvtier::replay
