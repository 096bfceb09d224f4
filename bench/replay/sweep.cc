// Sweep: the runs and their CSV. The SVG plot is in sweep_plot.cc.
#include "bench/replay/sweep.h"

#include <atomic>
#include <charconv>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "lib/index/eviction_order.h"

namespace kvtier::replay {
namespace {

std::optional<uint64_t> ParseCount(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::vector<SweepPoint>> ParseSweep(std::string_view text) {
  std::vector<SweepPoint> points;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t plus = item.find('+');
    SweepPoint p;
    const auto host = ParseCount(item.substr(0, plus));
    if (!host) return std::nullopt;
    p.host_blocks = *host;
    if (plus != std::string_view::npos) {
      const auto nvme = ParseCount(item.substr(plus + 1));
      if (!nvme) return std::nullopt;
      p.nvme_blocks = *nvme;
    }
    if (p.host_blocks + p.nvme_blocks == 0) return std::nullopt;
    points.push_back(p);
  }
  if (points.empty()) return std::nullopt;
  return points;
}

std::vector<Report> RunSweep(const Trace& trace, const BlockNumbers& numbers,
                             const Report& base, const std::vector<SweepPoint>& points,
                             const std::vector<EvictionPolicy>& policies,
                             const ProgressFn& progress) {
  const uint64_t ceiling = CeilingHits(trace, numbers);
  // Tasks: one Belady run per distinct capacity, then one replay per row.
  std::map<uint64_t, BoundHits> belady;  // by total capacity
  for (const SweepPoint& p : points) belady[p.host_blocks + p.nvme_blocks] = {};
  std::vector<uint64_t> capacities;
  for (const auto& [capacity, hits] : belady) capacities.push_back(capacity);
  std::vector<Report> rows;
  for (const SweepPoint& p : points) {
    for (const EvictionPolicy policy : policies) {
      Report r = base;
      r.config = SimConfig{p.host_blocks, p.nvme_blocks, policy};
      r.policy = EvictionPolicyName(policy);
      r.ceiling_hits = ceiling;
      rows.push_back(std::move(r));
    }
  }
  std::vector<BoundHits> bounds(capacities.size());
  const size_t tasks = capacities.size() + rows.size();
  std::atomic<size_t> next{0};
  std::mutex progress_mu;
  size_t done = 0;
  const auto work = [&] {
    for (size_t t = next++; t < tasks; t = next++) {
      if (t < capacities.size()) {
        bounds[t] = BeladyHits(trace, numbers, capacities[t]);
        continue;
      }
      Report& r = rows[t - capacities.size()];
      r.sim = Simulate(trace, r.config);
      std::lock_guard lock(progress_mu);
      if (progress) progress(++done, rows.size());
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  for (size_t c = 0; c < capacities.size(); ++c) belady[capacities[c]] = bounds[c];
  for (Report& r : rows) r.belady = belady[r.config.host_blocks + r.config.nvme_blocks];
  return rows;
}

std::vector<Report> RunSweep(const Trace& trace, const Report& base,
                             const std::vector<SweepPoint>& points,
                             const std::vector<EvictionPolicy>& policies,
                             const ProgressFn& progress) {
  return RunSweep(trace, NumberBlocks(trace), base, points, policies, progress);
}

void WriteSweepCsv(const std::vector<Report>& rows, std::ostream& out) {
  out << kSweepColumns << '\n';
  char line[512];
  for (const Report& r : rows) {
    uint64_t evictions = 0;
    for (const TierCounts& c : r.sim.tiers) evictions += c.evictions;
    std::snprintf(
        line, sizeof line,
        "%llu,%llu,%llu,%s,%llu,%.6f,%.6f,%.6f,%.6f,%llu,%llu,%llu,%s\n",
        static_cast<unsigned long long>(r.config.host_blocks),
        static_cast<unsigned long long>(r.config.nvme_blocks),
        static_cast<unsigned long long>(r.config.host_blocks + r.config.nvme_blocks),
        r.policy.c_str(), static_cast<unsigned long long>(r.sim.requests),
        HitRateBlocks(r), HitRateTokens(r), BeladyRate(r), CeilingRate(r),
        static_cast<unsigned long long>(evictions),
        static_cast<unsigned long long>(r.sim.tiers[1].hits),
        static_cast<unsigned long long>(r.sim.tiers[2].hits),
        r.prices ? std::to_string(BlendedPrice(r, *r.prices)).c_str() : "");
    out << line;
  }
}

void PrintSweepTable(const std::vector<Report>& rows, std::ostream& out) {
  std::map<uint64_t, double> lru;  // LRU's hit rate by total capacity
  for (const Report& r : rows) {
    if (r.policy == "lru")
      lru[r.config.host_blocks + r.config.nvme_blocks] = HitRateBlocks(r);
  }
  char line[256];
  std::snprintf(line, sizeof line, "%12s %12s %-7s %10s %10s %10s %12s\n", "host blocks",
                "nvme blocks", "policy", "hit rate", "belady", "ceiling", "gap closed");
  out << line;
  for (const Report& r : rows) {
    const uint64_t capacity = r.config.host_blocks + r.config.nvme_blocks;
    std::string closed = "-";  // share of LRU's gap to Belady this policy closes
    const auto base = lru.find(capacity);
    if (base != lru.end() && BeladyRate(r) > base->second) {
      char text[32];
      std::snprintf(
          text, sizeof text, "%+.1f%%",
          100 * (HitRateBlocks(r) - base->second) / (BeladyRate(r) - base->second));
      closed = text;
    }
    std::snprintf(line, sizeof line, "%12llu %12llu %-7s %9.2f%% %9.2f%% %9.2f%% %12s\n",
                  static_cast<unsigned long long>(r.config.host_blocks),
                  static_cast<unsigned long long>(r.config.nvme_blocks), r.policy.c_str(),
                  100 * HitRateBlocks(r), 100 * BeladyRate(r), 100 * CeilingRate(r),
                  closed.c_str());
    out << line;
  }
}

}  // namespace kvtier::replay
