// Report: one replay's figures as a human table and as one JSON object
// (the contract other tools read: the JSON is the last line of stdout).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/replay/bounds.h"
#include "bench/replay/simulator.h"

namespace kvtier::replay {

// Price per 1M input tokens of a cached (hit) and a recomputed (miss) token.
struct Prices {
  double hit = 0;
  double miss = 0;
};

// Sliding-window trimming: the same trace at the same capacity without
// trimming, and what trimming stored.
struct TrimFigures {
  uint32_t window_tokens = 0;
  double sliding_share = 0;  // of a block's bytes in sliding-window layers
  SimTrim trim;
  SimResult untrimmed;
  std::optional<uint64_t> ceiling_trimmed_hits;  // with trimming, unlimited room
};

struct Report {
  std::string trace;
  std::string format;
  std::string mode = "simulate";
  std::string write_down;  // real mode: "settle" or "overlap"
  std::string policy;
  std::optional<double> ttl_hint;  // the TTL hints' sigma (ttl_hints.h), if given
  uint32_t block_tokens = 0;
  uint64_t block_bytes = 0;  // bytes of one block, for bytes read per tier
  uint64_t distinct_blocks = 0;
  uint64_t bad_lines = 0;
  SimConfig config;
  SimResult sim;
  uint64_t ceiling_hits = 0;
  BoundHits belady;
  std::optional<Prices> prices;
  double seconds = 0;  // the whole replay, bounds included
  // Wall seconds of its parts: reading the trace, the replay, and the bounds
  // (ceiling and Belady, computed on another thread during the replay).
  double read_seconds = 0;
  double replay_seconds = 0;
  double bounds_seconds = 0;
  std::optional<double> real_gbps;  // real mode: bytes loaded+saved per second
  std::optional<double> real_requests_per_s;
  std::optional<TrimFigures> trimming;
};

// Derived from a Report with trimming: bytes are in the report's
// block_bytes (a trimmed block takes trimmed_bytes / whole_bytes of one),
// summed over the tiers.
struct TrimSummary {
  int64_t hits_lost_blocks = 0;  // untrimmed - trimmed; negative = gained
  int64_t hits_lost_tokens = 0;
  uint64_t stored_whole = 0;    // block writes kept whole (upgrades included)
  uint64_t stored_trimmed = 0;  // block writes kept trimmed
  uint64_t upgrades = 0;
  double logical_bytes = 0;  // the blocks written (upgrades not), all whole
  double stored_bytes = 0;   // what the writes stored
  double bytes_saved = 0;    // logical - stored
  double bytes_saved_fraction = 0;
  double untrimmed_bytes_written = 0;  // the untrimmed run's writes
};
TrimSummary SummarizeTrim(const Report& r);

double HitRateBlocks(const Report& r);
double HitRateTokens(const Report& r);
double CeilingRate(const Report& r);
double BeladyRate(const Report& r);
// Blended price of the trace's input tokens, in the unit of Prices.
double BlendedPrice(const Report& r, const Prices& p);

nlohmann::json ToJson(const Report& r);
void PrintTable(const Report& r, std::ostream& out);

}  // namespace kvtier::replay
