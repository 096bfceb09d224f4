// Helpers for the kvtier-replay tests: traces written to temporary files.
#pragma once

#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "bench/replay/trace_reader.h"
#include "lib/index/block_index.h"
#include "tests/test_support.h"

namespace kvtier::replay::testing {

inline std::string WriteFile(const kvtier::testing::TempDir& dir, const std::string& name,
                             const std::string& text) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

// The hand-computed trace (block_tokens 4, see replay_sim_test.cc): nine
// block references, the last one a partial block of 2 tokens.
inline const char* kHandTrace =
    R"({"timestamp": 0, "input_length": 8, "output_length": 1, "hash_ids": [1, 2]}
{"timestamp": 1, "input_length": 4, "output_length": 1, "hash_ids": [3]}
{"timestamp": 2, "input_length": 8, "output_length": 1, "hash_ids": [1, 2]}
{"timestamp": 3, "input_length": 4, "output_length": 1, "hash_ids": [3]}
{"timestamp": 4, "input_length": 10, "output_length": 1, "hash_ids": [1, 2, 4]}
)";

inline Trace ReadOk(const std::string& path, TraceFormat format,
                    uint32_t block_tokens = 4, bool skip_bad = false) {
  Result<Trace> t = ReadTrace(path, ReadOptions{format, block_tokens, skip_bad});
  INFO(t.status().message());
  REQUIRE(t.ok());
  return std::move(t).value();
}

// The Store's sequence on one host tier, on a BlockIndex alone: Lookup,
// TouchChain(hit), Save of the missed blocks (MakeRoom + AddPending +
// MarkReady), TouchChain; both touches with the request's context.
inline void IndexRequest(internal::BlockIndex& index, std::span<const BlockHash> chain,
                         const RequestContext& context) {
  const size_t k = index.LongestPrefix(chain).blocks;
  index.TouchChain(chain.first(k), /*hit=*/true, context);
  std::vector<BlockHash> added;
  for (size_t i = k; i < chain.size(); ++i) {
    if (index.IsPresent(chain[i], Tier::kHost)) continue;
    const BlockHash* parent = i > 0 ? &chain[i - 1] : nullptr;
    if (!index.MakeRoom(Tier::kHost, 1, parent)) break;
    index.AddPending(Tier::kHost, chain[i], parent, 0);
    added.push_back(chain[i]);
  }
  for (const BlockHash& h : added) index.MarkReady(Tier::kHost, h);
  index.TouchChain(chain, /*hit=*/false, context);
}

}  // namespace kvtier::replay::testing
