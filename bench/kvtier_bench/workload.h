// kvtier-bench's workloads: fill the target (not timed), then run save,
// load, mixed or lookup calls from --threads threads for --seconds (loads
// --inflight deep through BeginLoad; lookups beside --save-threads savers),
// recording the latency of every call; or time a reopen (recover).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "bench/kvtier_bench/target.h"

namespace kvtier::bench {

// Latency of one kind of call, in microseconds.
struct Latency {
  size_t calls = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, mean_us = 0;
};

struct RunResult {
  double seconds = 0;          // timed part, the final Flush included
  uint64_t filled_blocks = 0;  // saved before the timed part
  uint64_t saved_blocks = 0;   // reached the tier asked for in the timed part
  uint64_t loaded_blocks = 0;  // delivered by Loads in the timed part
  uint64_t load_asked_blocks = 0;
  std::array<uint64_t, kNumTiers> hits{};
  uint64_t dropped = 0, errors = 0;
  Latency save, load, lookup, all;  // per call (one chain of --batch blocks)
  uint64_t looked_up_blocks = 0;    // lookup: blocks the lookups reported
  std::string describe;
};

// Fills 90% of the target's capacity (chains 0..n-1), then runs `c.op`.
RunResult RunWorkload(const BenchConfig& c, Target& target);

struct RecoverResult {
  uint64_t recovered_blocks = 0;
  double rebuild_s = 0;  // median of 3 reopens: manifest scan + index rebuild
  double open_s = 0;     // median of 3 reopens: all of Store::Open
};

// Fills an NVMe tier to capacity, closes it, and times three reopens.
Result<RecoverResult> RunRecover(const BenchConfig& c);

}  // namespace kvtier::bench
