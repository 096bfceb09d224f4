// Trace: request bookkeeping and the id -> BlockHash mapping.
#include "bench/replay/trace.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_set.h"

namespace kvtier::replay {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct HashOf {
  size_t operator()(const BlockHash& h) const {
    return h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull);
  }
};

}  // namespace

BlockHash HashOfTraceId(uint64_t id, uint64_t ns) {
  // lo alone is a bijection of id within a namespace; hi mixes in the
  // namespace so two files' id 7 differ.
  return BlockHash{SplitMix64(id), SplitMix64(id ^ SplitMix64(~ns))};
}

uint64_t Trace::total_input_tokens() const {
  uint64_t total = 0;
  for (const uint64_t t : input_tokens) total += t;
  return total;
}

size_t Trace::distinct_references() const {
  absl::flat_hash_set<BlockHash, HashOf> seen;
  seen.reserve(blocks.size() + partial_tails.size());
  for (const BlockHash& h : blocks) seen.insert(h);
  for (const BlockHash& h : partial_tails) seen.insert(h);
  return seen.size();
}

void Trace::AddRequest(std::span<const BlockHash> chain, uint64_t tokens,
                       const BlockHash* partial_tail) {
  blocks.insert(blocks.end(), chain.begin(), chain.end());
  offsets.push_back(blocks.size());
  input_tokens.push_back(tokens);
  references += chain.size();
  if (partial_tail != nullptr) {
    partial_tails.push_back(*partial_tail);
    ++references;
  }
}

void Trace::SetTimestamp(std::optional<double> t) {
  if (!t) all_timestamped = false;
  if (!all_timestamped) {
    timestamps.clear();
    return;
  }
  timestamps.push_back(*t);
}

void Trace::SortByTimestamp() {
  if (!all_timestamped || timestamps.size() != requests()) return;
  std::vector<size_t> order(requests());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return timestamps[a] < timestamps[b]; });
  Trace sorted;
  sorted.block_tokens = block_tokens;
  sorted.blocks.reserve(blocks.size());
  for (const size_t r : order) {
    sorted.AddRequest(chain(r), input_tokens[r]);
    sorted.timestamps.push_back(timestamps[r]);
    if (!session_ids.empty()) sorted.session_ids.push_back(session_ids[r]);
  }
  sorted.session_count = session_count;
  sorted.partial_tails = std::move(partial_tails);
  sorted.references = references;
  sorted.bad_lines = bad_lines;
  *this = std::move(sorted);
}

void Trace::FindSessionEnds() {
  session_ends.assign(session_ids.size(), false);
  std::vector<bool> seen(session_count, false);
  for (size_t r = session_ids.size(); r-- > 0;) {
    if (session_ids[r] >= seen.size() || seen[session_ids[r]]) continue;
    seen[session_ids[r]] = true;
    session_ends[r] = true;
  }
}

RequestContext Trace::ContextOf(size_t r) const {
  RequestContext c;
  if (r >= session_ids.size()) return c;
  c.session_id = uint64_t{session_ids[r]} + 1;
  c.session = r < session_ends.size() && session_ends[r] ? SessionState::kClosed
                                                         : SessionState::kOpen;
  if (r < ttl_hints.size()) c.ttl_s = ttl_hints[r];
  return c;
}

}  // namespace kvtier::replay
