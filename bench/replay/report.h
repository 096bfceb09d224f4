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

struct Report {
  std::string trace;
  std::string format;
  std::string mode = "simulate";
  std::string policy;
  uint32_t block_tokens = 0;
  uint64_t block_bytes = 0;  // bytes of one block, for bytes read per tier
  uint64_t distinct_blocks = 0;
  uint64_t bad_lines = 0;
  SimConfig config;
  SimResult sim;
  uint64_t ceiling_hits = 0;
  BoundHits belady;
  std::optional<Prices> prices;
  double seconds = 0;               // the whole replay, bounds included
  std::optional<double> real_gbps;  // real mode: bytes loaded+saved per second
  std::optional<double> real_requests_per_s;
};

double HitRateBlocks(const Report& r);
double HitRateTokens(const Report& r);
double CeilingRate(const Report& r);
double BeladyRate(const Report& r);
// Blended price of the trace's input tokens, in the unit of Prices.
double BlendedPrice(const Report& r, const Prices& p);

nlohmann::json ToJson(const Report& r);
void PrintTable(const Report& r, std::ostream& out);

}  // namespace kvtier::replay
