// kvtier-replay's command line: its flags, --config, and the checks of
// values that depend on each other; apart from main() so the tests and a
// fuzzer (fuzz/tool_args_fuzz.cc) can drive the parser alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/replay/real_mode.h"
#include "bench/replay/sweep.h"
#include "bench/replay/trace.h"
#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "lib/index/eviction_order.h"

namespace kvtier::replay {

struct Args {
  std::string trace, format = "mooncake", policy = EvictionPolicyName(Options{}.eviction),
                     sweep, csv = "replay-sweep.csv", plot = "replay-sweep.svg", dir,
                     config, checksum_key_file;
  uint32_t block_tokens = 512;
  uint64_t capacity_blocks = 0, host_blocks = 0, nvme_blocks = 0, nvme_bytes = 0;
  std::vector<std::string> redis;  // --real: a remote tier
  bool redis_cluster = false;
  // Llama-3.1-8B in fp16: 32 layers x 8 KV heads x 128 dims x K,V x 2 bytes.
  uint64_t kv_bytes_per_token = 131072;
  std::optional<double> price_hit, price_miss;
  // Sliding-window trimming (0 = no sliding layers).
  uint32_t window_tokens = 0, checkpoint_blocks = 0;
  std::optional<double> sliding_share;
  // The error of the engine's TTL hints (ttl_hints.h); nullopt: no hints.
  std::optional<double> ttl_hint;
  bool json = false, skip_bad = false, real = false, no_progress = false;
  // Derived.
  TraceFormat trace_format = TraceFormat::kMooncake;
  std::vector<EvictionPolicy> policies;
  std::vector<SweepPoint> points;
  std::optional<KvLayout> real_layout;  // --real with trimming
  std::string write_down;               // empty: settle
  WriteDownWait write_down_wait = WriteDownWait::kEachRequest;
};

// Parses the command line into *a, applies --config (a file read here)
// and checks the values. Returns the exit code when the program should stop
// now (--help: 0; a bad argument: 2, printed to stderr), nothing when it
// should run.
std::optional<int> ParseReplayArgs(int argc, const char* const* argv, Args* a);

}  // namespace kvtier::replay
