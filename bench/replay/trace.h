// Trace: the requests of a replay, as chains of block hashes, whatever the
// input format. Readers (trace_reader.h) build it; the simulator, the bounds
// and real mode read it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvtier/hash.h"
#include "kvtier/request_context.h"

namespace kvtier::replay {

enum class TraceFormat { kMooncake, kSessions, kTokens };

// Store semantics: only full blocks are stored, so a request's chain holds
// its full blocks only. A trailing partial block is still a block
// *reference* (it counts in `references`, the hit-rate denominator) but can
// never hit, as PrefixHasher never hashes a partial block.
struct Trace {
  uint32_t block_tokens = 512;
  std::vector<BlockHash> blocks;         // every chain, request after request
  std::vector<uint64_t> offsets = {0};   // chain r is blocks[offsets[r], offsets[r+1])
  std::vector<uint64_t> input_tokens;    // prompt tokens of each request
  std::vector<BlockHash> partial_tails;  // hashes of trailing partial blocks
  uint64_t references = 0;               // block references, partial ones included
  uint64_t bad_lines = 0;                // malformed records skipped (--skip-bad)
  // Arrival time of each request in milliseconds, when every record so far
  // carried one (sessions: "timestamp"); otherwise empty.
  std::vector<double> timestamps;
  bool all_timestamped = true;
  // Session of each request (sessions format: a file, or a sub-agent entry
  // in one), numbered from 0; empty when the format has none (mooncake).
  std::vector<uint32_t> session_ids;
  uint32_t session_count = 0;
  // Per request: the last of its session (after FindSessionEnds).
  std::vector<bool> session_ends;
  // Per request: the engine's TTL hint in seconds, 0 for none (empty: no
  // hints; AddTtlHints in ttl_hints.h makes them).
  std::vector<float> ttl_hints;

  size_t requests() const { return input_tokens.size(); }
  std::span<const BlockHash> chain(size_t r) const {
    return std::span<const BlockHash>(blocks).subspan(offsets[r],
                                                      offsets[r + 1] - offsets[r]);
  }
  uint64_t total_input_tokens() const;
  // Distinct block ids referenced, partial tails included.
  size_t distinct_references() const;

  // Appends one request: its full blocks, its prompt length and the hash of
  // its trailing partial block, if the format names one.
  void AddRequest(std::span<const BlockHash> chain, uint64_t tokens,
                  const BlockHash* partial_tail = nullptr);
  // Records the arrival time of the request just added (nullopt: none).
  void SetTimestamp(std::optional<double> t);
  // Reorders requests by timestamp (stable), if every one has one.
  void SortByTimestamp();
  // Marks each session's last request (in replay order) in session_ends.
  void FindSessionEnds();
  // The engine's context of request `r`, as a store would be told it: its
  // session (session_ids[r] + 1; 0 when the format has none), closed on the
  // session's last request, open before; with its TTL hint, if any.
  RequestContext ContextOf(size_t r) const;
  // Request r's arrival in seconds (0 when the trace has no times).
  double TimeOf(size_t r) const {
    return r < timestamps.size() ? timestamps[r] / 1000 : 0;
  }
};

// The BlockHash that stands for trace id `id` in namespace `ns` (a sessions
// file's index; 0 for mooncake). Deterministic, and distinct ids or
// namespaces give distinct hashes (SplitMix64 is a bijection).
BlockHash HashOfTraceId(uint64_t id, uint64_t ns);

}  // namespace kvtier::replay
