// Report: the table and the JSON object.
#include "bench/replay/report.h"

#include <cstdio>

namespace kvtier::replay {
namespace {

double Ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; }

const char* TierName(int t) {
  static const char* const kNames[] = {"gpu", "host", "nvme"};
  return kNames[t];
}

std::string Percent(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100 * x);
  return text;
}

}  // namespace

double HitRateBlocks(const Report& r) {
  return Ratio(r.sim.hit_blocks, r.sim.references);
}
double HitRateTokens(const Report& r) {
  return Ratio(r.sim.hit_tokens, r.sim.input_tokens);
}
double CeilingRate(const Report& r) { return Ratio(r.ceiling_hits, r.sim.references); }
double BeladyRate(const Report& r) { return Ratio(r.belady.hits, r.sim.references); }

double BlendedPrice(const Report& r, const Prices& p) {
  const double hit = static_cast<double>(r.sim.hit_tokens);
  const double miss = static_cast<double>(r.sim.input_tokens - r.sim.hit_tokens);
  return (hit * p.hit + miss * p.miss) / 1e6;
}

nlohmann::json ToJson(const Report& r) {
  nlohmann::json j;
  j["trace"] = r.trace;
  j["format"] = r.format;
  j["mode"] = r.mode;
  j["policy"] = r.policy;
  j["block_tokens"] = r.block_tokens;
  j["block_bytes"] = r.block_bytes;
  j["host_blocks"] = r.config.host_blocks;
  j["nvme_blocks"] = r.config.nvme_blocks;
  j["capacity_blocks"] = r.config.host_blocks + r.config.nvme_blocks;
  j["requests"] = r.sim.requests;
  j["block_references"] = r.sim.references;
  j["distinct_blocks"] = r.distinct_blocks;
  j["bad_lines"] = r.bad_lines;
  j["hit_blocks"] = r.sim.hit_blocks;
  j["hit_rate_blocks"] = HitRateBlocks(r);
  j["input_tokens"] = r.sim.input_tokens;
  j["hit_tokens"] = r.sim.hit_tokens;
  j["hit_rate_tokens"] = HitRateTokens(r);
  uint64_t evictions = 0;
  nlohmann::json tiers = nlohmann::json::object();
  for (int t = 0; t < kNumTiers; ++t) {
    const bool enabled =
        (t == 1 && r.config.host_blocks > 0) || (t == 2 && r.config.nvme_blocks > 0);
    if (!enabled) continue;
    const TierCounts& c = r.sim.tiers[t];
    tiers[TierName(t)] = {
        {"hits", c.hits},           {"bytes_read", c.hits * r.block_bytes},
        {"inserts", c.inserts},     {"bytes_written", c.inserts * r.block_bytes},
        {"evictions", c.evictions}, {"orphans_evicted", c.orphans},
        {"rejected", c.rejected}};
    evictions += c.evictions;
  }
  j["tiers"] = tiers;
  j["evictions"] = evictions;
  j["promotions"] = r.sim.promotions;
  j["ceiling_hit_rate_blocks"] = CeilingRate(r);
  j["belady_hit_rate_blocks"] = BeladyRate(r);
  j["belady_prefix_hit_rate_blocks"] = Ratio(r.belady.prefix_hits, r.sim.references);
  if (r.prices) {
    j["price_hit"] = r.prices->hit;
    j["price_miss"] = r.prices->miss;
    j["blended_price"] = BlendedPrice(r, *r.prices);
    j["price_without_cache"] =
        r.prices->miss * static_cast<double>(r.sim.input_tokens) / 1e6;
  }
  j["seconds"] = r.seconds;
  if (r.real_gbps) j["real_gb_per_s"] = *r.real_gbps;
  if (r.real_requests_per_s) j["real_requests_per_s"] = *r.real_requests_per_s;
  return j;
}

void PrintTable(const Report& r, std::ostream& out) {
  char line[160];
  const auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-28s %s\n", name, value.c_str());
    out << line;
  };
  out << "kvtier-replay: " << r.trace << " (" << r.format << ", " << r.mode << ")\n";
  row("policy", r.policy);
  row("capacity (blocks)", "host " + std::to_string(r.config.host_blocks) + ", nvme " +
                               std::to_string(r.config.nvme_blocks));
  row("requests", std::to_string(r.sim.requests));
  row("block references", std::to_string(r.sim.references) + " (" +
                              std::to_string(r.distinct_blocks) + " distinct)");
  if (r.bad_lines > 0) row("malformed records skipped", std::to_string(r.bad_lines));
  row("hit rate (blocks)", Percent(HitRateBlocks(r)));
  row("hit rate (tokens)", Percent(HitRateTokens(r)));
  row("belady bound (blocks)", Percent(BeladyRate(r)));
  row("ceiling, infinite (blocks)", Percent(CeilingRate(r)));
  for (int t = 1; t < kNumTiers; ++t) {
    const TierCounts& c = r.sim.tiers[t];
    if ((t == 1 && r.config.host_blocks == 0) || (t == 2 && r.config.nvme_blocks == 0)) {
      continue;
    }
    std::snprintf(line, sizeof line,
                  "  %-5s hits %llu (%.2f GB read), inserts %llu, evictions %llu "
                  "(%llu orphans), rejected %llu\n",
                  TierName(t), static_cast<unsigned long long>(c.hits),
                  static_cast<double>(c.hits * r.block_bytes) / 1e9,
                  static_cast<unsigned long long>(c.inserts),
                  static_cast<unsigned long long>(c.evictions),
                  static_cast<unsigned long long>(c.orphans),
                  static_cast<unsigned long long>(c.rejected));
    out << line;
  }
  if (r.prices) {
    std::snprintf(line, sizeof line, "%.4f (without cache %.4f)",
                  BlendedPrice(r, *r.prices),
                  r.prices->miss * static_cast<double>(r.sim.input_tokens) / 1e6);
    row("blended price", line);
  }
  if (r.real_gbps) {
    std::snprintf(line, sizeof line, "%.2f GB/s, %.0f requests/s", *r.real_gbps,
                  r.real_requests_per_s.value_or(0));
    row("real throughput", line);
  }
  std::snprintf(line, sizeof line, "%.3f s", r.seconds);
  row("replay time", line);
}

}  // namespace kvtier::replay
