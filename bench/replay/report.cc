// Report: the table and the JSON object.
#include "bench/replay/report.h"

#include <cmath>
#include <cstdio>

namespace kvtier::replay {
namespace {

// Host and NVMe when sized; the remote tier (real mode) when it was used.
bool TierInReport(const Report& r, int t) {
  const TierCounts& c = r.sim.tiers[t];
  return (t == 1 && r.config.host_blocks > 0) || (t == 2 && r.config.nvme_blocks > 0) ||
         (t == 3 && (c.hits > 0 || c.inserts > 0));
}

double Ratio(uint64_t a, uint64_t b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; }

const char* TierName(int t) { return kvtier::TierName(static_cast<Tier>(t)); }

std::string Percent(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100 * x);
  return text;
}

// Trimmed blocks are written without their sliding layers.
uint64_t BytesWritten(const Report& r, const TierCounts& c) {
  if (!r.trimming || r.trimming->trim.whole_bytes == 0) return c.inserts * r.block_bytes;
  const SimTrim& t = r.trimming->trim;
  const double trimmed = static_cast<double>(r.block_bytes) *
                         static_cast<double>(t.trimmed_bytes) /
                         static_cast<double>(t.whole_bytes);
  return c.inserted_whole * r.block_bytes +
         static_cast<uint64_t>(
             std::llround(static_cast<double>(c.inserted_trimmed) * trimmed));
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

TrimSummary SummarizeTrim(const Report& r) {
  TrimSummary s;
  if (!r.trimming) return s;
  const TrimFigures& t = *r.trimming;
  s.hits_lost_blocks = static_cast<int64_t>(t.untrimmed.hit_blocks) -
                       static_cast<int64_t>(r.sim.hit_blocks);
  s.hits_lost_tokens = static_cast<int64_t>(t.untrimmed.hit_tokens) -
                       static_cast<int64_t>(r.sim.hit_tokens);
  uint64_t untrimmed_inserts = 0;
  for (int i = 0; i < kNumTiers; ++i) {
    s.stored_whole += r.sim.tiers[i].inserted_whole;
    s.stored_trimmed += r.sim.tiers[i].inserted_trimmed;
    s.upgrades += r.sim.tiers[i].upgrades;
    untrimmed_inserts += t.untrimmed.tiers[i].inserts;
  }
  const double block = static_cast<double>(r.block_bytes);
  const double trimmed = t.trim.whole_bytes == 0
                             ? 0
                             : block * static_cast<double>(t.trim.trimmed_bytes) /
                                   static_cast<double>(t.trim.whole_bytes);
  s.logical_bytes =
      static_cast<double>(s.stored_whole + s.stored_trimmed - s.upgrades) * block;
  s.stored_bytes = static_cast<double>(s.stored_whole) * block +
                   static_cast<double>(s.stored_trimmed) * trimmed;
  s.bytes_saved = s.logical_bytes - s.stored_bytes;
  s.bytes_saved_fraction = s.logical_bytes > 0 ? s.bytes_saved / s.logical_bytes : 0;
  s.untrimmed_bytes_written = static_cast<double>(untrimmed_inserts) * block;
  return s;
}

static nlohmann::json TrimJson(const Report& r) {
  const TrimFigures& t = *r.trimming;
  const TrimSummary s = SummarizeTrim(r);
  nlohmann::json j = {
      {"window_tokens", t.window_tokens},
      {"window_blocks", t.trim.window_blocks},
      {"sliding_share", t.sliding_share},
      {"checkpoint_blocks", t.trim.checkpoint_blocks},
      {"whole_bytes", t.trim.whole_bytes},
      {"trimmed_bytes", t.trim.trimmed_bytes},
      {"hit_rate_blocks", HitRateBlocks(r)},
      {"hit_rate_tokens", HitRateTokens(r)},
      {"untrimmed_hit_blocks", t.untrimmed.hit_blocks},
      {"untrimmed_hit_rate_blocks", Ratio(t.untrimmed.hit_blocks, r.sim.references)},
      {"untrimmed_hit_rate_tokens", Ratio(t.untrimmed.hit_tokens, r.sim.input_tokens)},
      {"hits_lost_blocks", s.hits_lost_blocks},
      {"hits_lost_tokens", s.hits_lost_tokens},
      {"blocks_stored_whole", s.stored_whole},
      {"blocks_stored_trimmed", s.stored_trimmed},
      {"upgrades", s.upgrades},
      {"logical_bytes", s.logical_bytes},
      {"stored_bytes", s.stored_bytes},
      {"bytes_saved", s.bytes_saved},
      {"bytes_saved_fraction", s.bytes_saved_fraction},
      {"untrimmed_bytes_written", s.untrimmed_bytes_written}};
  if (t.ceiling_trimmed_hits) {
    j["ceiling_trimmed_hit_rate_blocks"] =
        Ratio(*t.ceiling_trimmed_hits, r.sim.references);
  }
  return j;
}

nlohmann::json ToJson(const Report& r) {
  nlohmann::json j;
  j["trace"] = r.trace;
  j["format"] = r.format;
  j["mode"] = r.mode;
  if (!r.write_down.empty()) j["write_down"] = r.write_down;
  j["policy"] = r.policy;
  if (r.ttl_hint) j["ttl_hint_sigma"] = *r.ttl_hint;
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
    if (!TierInReport(r, t)) continue;
    const TierCounts& c = r.sim.tiers[t];
    tiers[TierName(t)] = {{"hits", c.hits},
                          {"bytes_read", c.hits * r.block_bytes},
                          {"inserts", c.inserts},
                          {"bytes_written", BytesWritten(r, c)},
                          {"evictions", c.evictions},
                          {"orphans_evicted", c.orphans},
                          {"placement_evictions", c.placement_evictions},
                          {"rejected", c.rejected}};
    evictions += c.evictions;
  }
  j["tiers"] = tiers;
  j["evictions"] = evictions;
  j["promotions"] = r.sim.promotions;
  j["ceiling_hit_rate_blocks"] = CeilingRate(r);
  if (r.trimming && r.trimming->ceiling_trimmed_hits) {
    j["ceiling_trimmed_hit_rate_blocks"] =
        Ratio(*r.trimming->ceiling_trimmed_hits, r.sim.references);
  }
  j["belady_hit_rate_blocks"] = BeladyRate(r);
  j["belady_prefix_hit_rate_blocks"] = Ratio(r.belady.prefix_hits, r.sim.references);
  if (r.prices) {
    j["price_hit"] = r.prices->hit;
    j["price_miss"] = r.prices->miss;
    j["blended_price"] = BlendedPrice(r, *r.prices);
    j["price_without_cache"] =
        r.prices->miss * static_cast<double>(r.sim.input_tokens) / 1e6;
  }
  if (r.trimming) j["trimming"] = TrimJson(r);
  j["seconds"] = r.seconds;
  j["read_seconds"] = r.read_seconds;
  j["replay_seconds"] = r.replay_seconds;
  j["bounds_seconds"] = r.bounds_seconds;
  if (r.real_gbps) j["real_gb_per_s"] = *r.real_gbps;
  if (r.real_requests_per_s) j["real_requests_per_s"] = *r.real_requests_per_s;
  return j;
}

static void PrintTrim(const Report& r, std::ostream& out) {
  const TrimFigures& t = *r.trimming;
  const TrimSummary s = SummarizeTrim(r);
  char line[200];
  std::snprintf(line, sizeof line,
                "  sliding-window trimming: window %u tokens (%u blocks), sliding share "
                "%.4f, checkpoint every %u blocks (0 = chain ends only)\n",
                t.window_tokens, t.trim.window_blocks, t.sliding_share,
                t.trim.checkpoint_blocks);
  out << line;
  std::snprintf(line, sizeof line, "  %-28s %12s %12s\n", "", "trimmed", "untrimmed");
  out << line;
  const auto pair = [&](const char* name, double a, double b) {
    std::snprintf(line, sizeof line, "  %-28s %11.2f%% %11.2f%%\n", name, 100 * a,
                  100 * b);
    out << line;
  };
  pair("hit rate (blocks)", HitRateBlocks(r),
       Ratio(t.untrimmed.hit_blocks, r.sim.references));
  pair("hit rate (tokens)", HitRateTokens(r),
       Ratio(t.untrimmed.hit_tokens, r.sim.input_tokens));
  if (t.ceiling_trimmed_hits) {
    pair("ceiling, infinite (blocks)", Ratio(*t.ceiling_trimmed_hits, r.sim.references),
         CeilingRate(r));
  }
  std::snprintf(line, sizeof line,
                "  %-28s %lld blocks, %lld tokens (negative = gained)\n", "hits lost",
                static_cast<long long>(s.hits_lost_blocks),
                static_cast<long long>(s.hits_lost_tokens));
  out << line;
  std::snprintf(line, sizeof line, "  %-28s %llu whole, %llu trimmed, %llu upgrades\n",
                "blocks stored", static_cast<unsigned long long>(s.stored_whole),
                static_cast<unsigned long long>(s.stored_trimmed),
                static_cast<unsigned long long>(s.upgrades));
  out << line;
  std::snprintf(line, sizeof line,
                "  %-28s %.2f GB of %.2f GB untrimmed: %.2f GB saved (%.2f%%)\n",
                "bytes stored", s.stored_bytes / 1e9, s.logical_bytes / 1e9,
                s.bytes_saved / 1e9, 100 * s.bytes_saved_fraction);
  out << line;
}

void PrintTable(const Report& r, std::ostream& out) {
  char line[160];
  const auto row = [&](const char* name, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-28s %s\n", name, value.c_str());
    out << line;
  };
  out << "kvtier-replay: " << r.trace << " (" << r.format << ", " << r.mode << ")\n";
  row("policy", r.policy);
  if (r.ttl_hint) {
    char sigma[32];
    std::snprintf(sigma, sizeof sigma, "%g", *r.ttl_hint);
    row("ttl hints", std::string("next request's time x e^(") + sigma + " N(0,1))");
  }
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
    if (!TierInReport(r, t)) continue;
    std::snprintf(line, sizeof line,
                  "  %-5s hits %llu blocks (%.3f GiB read at %.1f KiB per block), "
                  "inserts %llu, evictions %llu (%llu orphans), rejected %llu\n",
                  TierName(t), static_cast<unsigned long long>(c.hits),
                  static_cast<double>(c.hits * r.block_bytes) / (1ull << 30),
                  static_cast<double>(r.block_bytes) / 1024,
                  static_cast<unsigned long long>(c.inserts),
                  static_cast<unsigned long long>(c.evictions),
                  static_cast<unsigned long long>(c.orphans),
                  static_cast<unsigned long long>(c.rejected));
    out << line;
  }
  if (r.trimming) PrintTrim(r, out);
  if (r.prices) {
    std::snprintf(line, sizeof line,
                  "%.4f (without cache %.4f), in the unit of --price-hit, for "
                  "the whole trace",
                  BlendedPrice(r, *r.prices),
                  r.prices->miss * static_cast<double>(r.sim.input_tokens) / 1e6);
    row("blended price", line);
  }
  if (r.real_gbps) {
    std::snprintf(line, sizeof line, "%.2f GB/s, %.0f requests/s", *r.real_gbps,
                  r.real_requests_per_s.value_or(0));
    row("real throughput", line);
  }
  std::snprintf(line, sizeof line,
                "%.3f s (read %.3f s, replay %.3f s, bounds %.3f s alongside it)",
                r.seconds, r.read_seconds, r.replay_seconds, r.bounds_seconds);
  row("replay time", line);
}

}  // namespace kvtier::replay
