// kvtier-bench's command line: its flags and the checks of values that
// depend on each other, into a BenchConfig; apart from main() so the tests
// and a fuzzer (fuzz/tool_args_fuzz.cc) can drive the parser alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/kvtier_bench/target.h"

namespace kvtier::bench {

struct Args {
  std::string tier = "nvme", op = "load", codec = "raw", dir, config;
  std::vector<std::string> redis;  // --tier remote
  bool redis_cluster = false;
  std::string checksum_key, checksum_key_file;
  RedisTlsFlags redis_tls;
  uint64_t block_bytes = 256 << 10, capacity = 0, blocks = 0;
  uint32_t qd = 16, threads = 1, batch = 16, read_pct = 50, inflight = 1,
           save_threads = 0;
  double seconds = 10;
  bool json = false, no_progress = false;
};

// Parses the command line into *a and, unless it asks for --tier gpu (which
// takes no BenchConfig), checks it into *c (reading --config's file).
// Returns the exit code when the program should stop now (--help: 0; a bad
// argument: 2, printed to stderr), nothing when it should run.
std::optional<int> ParseBenchArgs(int argc, const char* const* argv, Args* a,
                                  BenchConfig* c);

}  // namespace kvtier::bench
