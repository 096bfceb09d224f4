// Helpers for the kvtier-replay tests: traces written to temporary files.
#pragma once

#include <fstream>
#include <string>

#include "bench/replay/trace_reader.h"
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

}  // namespace kvtier::replay::testing
