// PrometheusText (kvtier/metrics.h): StoreStats in the text exposition
// format, every family with HELP and TYPE lines.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <string_view>

#include "kvtier/metrics.h"

namespace kvtier {
namespace {

constexpr const char* kTierNames[kNumTiers] = {"gpu", "host", "nvme", "remote"};

// Integers exactly (counters up to 2^53), fractions to 9 digits.
std::string Number(double v) {
  char buf[32];
  const bool integral = v == static_cast<double>(static_cast<int64_t>(v)) && v < 9e15;
  std::snprintf(buf, sizeof(buf), integral ? "%.0f" : "%.9g", v);
  return buf;
}

class Writer {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, uint64_t value) {
    Sample(name, labels, std::to_string(value));
  }
  void Histogram(std::string_view name, const std::string& labels,
                 const LatencyHistogram& h) {
    const std::string sep = labels.empty() ? "" : ",";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < LatencyHistogram::kBoundsSeconds.size(); ++i) {
      cumulative += h.counts[i];
      Sample(std::string(name) + "_bucket",
             labels + sep + "le=\"" + Number(LatencyHistogram::kBoundsSeconds[i]) + "\"",
             cumulative);
    }
    Sample(std::string(name) + "_bucket", labels + sep + "le=\"+Inf\"", h.count);
    Sample(std::string(name) + "_sum", labels, Number(h.sum_seconds));
    Sample(std::string(name) + "_count", labels, h.count);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string TierLabel(int t) { return std::string("tier=\"") + kTierNames[t] + "\""; }

// One family with a sample per enabled tier, the value read by `get`.
template <typename Get>
void PerTier(Writer& w, const StoreStats& s, std::string_view name, std::string_view type,
             std::string_view help, Get get) {
  w.Family(name, type, help);
  for (int t = 0; t < kNumTiers; ++t) {
    if (s.tiers[t].enabled) w.Sample(name, TierLabel(t), get(s.tiers[t]));
  }
}

void TierFamilies(Writer& w, const StoreStats& s) {
  using T = const TierStats&;
  PerTier(w, s, "kvtier_tier_capacity_bytes", "gauge",
          "Bytes of stored blocks the tier can hold.",
          [](T t) { return t.capacity_bytes; });
  PerTier(w, s, "kvtier_tier_used_bytes", "gauge", "Bytes of the tier's slots in use.",
          [](T t) { return t.used_bytes; });
  PerTier(w, s, "kvtier_tier_slot_bytes", "gauge", "Bytes of one slot.",
          [](T t) { return t.slot_bytes; });
  PerTier(w, s, "kvtier_tier_blocks", "gauge", "Blocks the tier holds now.",
          [](T t) { return t.blocks; });
  PerTier(w, s, "kvtier_tier_hit_blocks_total", "counter",
          "Blocks Load served from the tier.", [](T t) { return t.hits; });
  PerTier(w, s, "kvtier_tier_inserted_blocks_total", "counter",
          "Blocks written into the tier.", [](T t) { return t.inserts; });
  PerTier(w, s, "kvtier_tier_evicted_blocks_total", "counter",
          "Blocks evicted to make room.", [](T t) { return t.evictions; });
  PerTier(w, s, "kvtier_tier_placement_evicted_blocks_total", "counter",
          "Evictions forced because free pages did not form a slot of the needed size.",
          [](T t) { return t.placement_evictions; });
  PerTier(w, s, "kvtier_tier_orphan_dropped_blocks_total", "counter",
          "Blocks evicted because their parent was gone.",
          [](T t) { return t.orphans_dropped; });
  PerTier(w, s, "kvtier_tier_rejected_blocks_total", "counter",
          "Saves not admitted (every slot busy).", [](T t) { return t.rejected; });
  PerTier(w, s, "kvtier_tier_checksum_errors_total", "counter",
          "Slots that failed verification (served as misses).",
          [](T t) { return t.checksum_errors; });
  PerTier(w, s, "kvtier_tier_io_errors_total", "counter",
          "Failed reads or writes (served as misses).", [](T t) { return t.io_errors; });
  PerTier(
      w, s, "kvtier_tier_shadow_checked_blocks_total", "counter",
      "Served blocks the engine recomputed and kvtier compared (shadow verification).",
      [](T t) { return t.shadow_checked; });
  PerTier(
      w, s, "kvtier_tier_shadow_diverged_blocks_total", "counter",
      "Of those, blocks that differed from the recomputation beyond the codec's bound.",
      [](T t) { return t.shadow_diverged; });
  w.Family("kvtier_tier_stored_bytes_total", "counter",
           "Stored bytes moved (after the codec, headers included).");
  w.Family("kvtier_tier_logical_bytes_total", "counter",
           "Engine bytes of the blocks moved (before the codec).");
  for (int t = 0; t < kNumTiers; ++t) {
    const TierStats& ts = s.tiers[t];
    if (!ts.enabled) continue;
    w.Sample("kvtier_tier_stored_bytes_total", TierLabel(t) + ",operation=\"read\"",
             ts.bytes_read);
    w.Sample("kvtier_tier_stored_bytes_total", TierLabel(t) + ",operation=\"write\"",
             ts.bytes_written);
    w.Sample("kvtier_tier_logical_bytes_total", TierLabel(t) + ",operation=\"read\"",
             ts.logical_bytes_read);
    w.Sample("kvtier_tier_logical_bytes_total", TierLabel(t) + ",operation=\"write\"",
             ts.logical_bytes_written);
  }
  w.Family("kvtier_tier_io_duration_seconds", "histogram",
           "Duration of each read or write call (or batch) of a tier.");
  for (int t = 0; t < kNumTiers; ++t) {
    if (!s.tiers[t].enabled) continue;
    w.Histogram("kvtier_tier_io_duration_seconds", TierLabel(t) + ",operation=\"read\"",
                s.tiers[t].read_latency);
    w.Histogram("kvtier_tier_io_duration_seconds", TierLabel(t) + ",operation=\"write\"",
                s.tiers[t].write_latency);
  }
}

void CallFamilies(Writer& w, const StoreStats& s) {
  w.Family("kvtier_calls_total", "counter", "Calls of Lookup, Load and Save.");
  w.Sample("kvtier_calls_total", "operation=\"lookup\"", s.lookups);
  w.Sample("kvtier_calls_total", "operation=\"load\"", s.loads);
  w.Sample("kvtier_calls_total", "operation=\"save\"", s.saves);
  w.Family("kvtier_call_blocks_total", "counter", "Blocks asked about, for or offered.");
  w.Sample("kvtier_call_blocks_total", "operation=\"lookup\"", s.lookup_blocks);
  w.Sample("kvtier_call_blocks_total", "operation=\"load\"", s.load_blocks);
  w.Sample("kvtier_call_blocks_total", "operation=\"save\"", s.save_blocks);
  w.Family("kvtier_call_hit_blocks_total", "counter",
           "Blocks in Lookup's prefixes and blocks Load delivered.");
  w.Sample("kvtier_call_hit_blocks_total", "operation=\"lookup\"", s.lookup_hit_blocks);
  w.Sample("kvtier_call_hit_blocks_total", "operation=\"load\"", s.load_hit_blocks);
  const struct {
    const char* name;
    const char* help;
    uint64_t value;
  } counters[] = {
      {"kvtier_save_new_blocks_total", "Blocks stored for the first time.",
       s.save_new_blocks},
      {"kvtier_save_refreshed_blocks_total", "Blocks already stored, only refreshed.",
       s.save_refreshed_blocks},
      {"kvtier_invalid_calls_total", "Calls rejected with InvalidArgument.",
       s.invalid_calls},
      {"kvtier_save_trimmed_blocks_total", "Blocks stored without their sliding layers.",
       s.save_trimmed_blocks},
      {"kvtier_trim_saved_bytes_total", "Engine bytes of sliding layers not stored.",
       s.trim_bytes_saved},
      {"kvtier_save_upgraded_blocks_total", "Trimmed blocks a later Save stored whole.",
       s.save_upgraded_blocks},
      {"kvtier_shadow_sampled_blocks_total",
       "Served blocks sampled for shadow verification.", s.shadow_sampled},
      {"kvtier_shadow_expired_blocks_total",
       "Samples dropped before the engine verified them.", s.shadow_expired},
      {"kvtier_lookup_capped_blocks_total",
       "Blocks Lookup did not offer: loading them was estimated slower than recomputing.",
       s.lookup_capped_blocks},
  };
  for (const auto& c : counters) {
    w.Family(c.name, "counter", c.help);
    w.Sample(c.name, "", c.value);
  }
  w.Family("kvtier_host_memory_locked", "gauge", "1 when the host arena is page-locked.");
  w.Sample("kvtier_host_memory_locked", "", s.host_memory_locked ? 1 : 0);
  w.Family("kvtier_call_duration_seconds", "histogram",
           "Duration of each Lookup, Load and Save call.");
  w.Histogram("kvtier_call_duration_seconds", "operation=\"lookup\"", s.lookup_latency);
  w.Histogram("kvtier_call_duration_seconds", "operation=\"load\"", s.load_latency);
  w.Histogram("kvtier_call_duration_seconds", "operation=\"save\"", s.save_latency);
}

void NvmeFamilies(Writer& w, const StoreStats& s) {
  const NvmeStats& n = s.nvme;
  const struct {
    const char* name;
    const char* type;
    const char* help;
    double value;
  } rows[] = {
      {"kvtier_nvme_io_uring", "gauge",
       "1 when I/O runs on io_uring (else pread/pwrite).", n.io_uring ? 1.0 : 0.0},
      {"kvtier_nvme_fixed_buffers", "gauge", "1 when staging buffers are registered.",
       n.fixed_buffers ? 1.0 : 0.0},
      {"kvtier_nvme_direct_io", "gauge", "1 with O_DIRECT (else the page cache).",
       n.direct_io ? 1.0 : 0.0},
      {"kvtier_nvme_wiped_at_open", "gauge", "1 when Open wiped another namespace.",
       n.wiped_at_open ? 1.0 : 0.0},
      {"kvtier_nvme_recovered_blocks", "gauge", "Manifest entries indexed at Open.",
       double(n.recovered_blocks)},
      {"kvtier_nvme_recovery_dropped_blocks", "gauge",
       "Manifest entries dropped at Open.", double(n.recovery_dropped)},
      {"kvtier_nvme_recovery_seconds", "gauge", "Time Open spent rebuilding the index.",
       double(n.recovery_micros) * 1e-6},
      {"kvtier_nvme_full_events_total", "counter", "Writes refused with ENOSPC.",
       double(n.full_events)},
      {"kvtier_nvme_manifest_errors_total", "counter", "Manifest writes that failed.",
       double(n.manifest_errors)},
      {"kvtier_nvme_copy_down_blocks_total", "counter", "Blocks written down from host.",
       double(n.copy_down_blocks)},
      {"kvtier_nvme_copy_down_dropped_blocks_total", "counter",
       "Blocks not written down (queue full, tier full, host copy gone).",
       double(n.copy_down_dropped)},
      {"kvtier_nvme_promoted_blocks_total", "counter", "NVMe hits copied up to host.",
       double(n.promotions)},
      {"kvtier_nvme_staged_writes_total", "counter",
       "Blocks copied into a staging buffer before their write (the rest are DMA'd "
       "from the host slot).",
       double(n.staged_writes)},
  };
  for (const auto& r : rows) {
    w.Family(r.name, r.type, r.help);
    w.Sample(r.name, "", Number(r.value));
  }
}

void RemoteFamilies(Writer& w, const StoreStats& s) {
  const RemoteStats& r = s.remote;
  const struct {
    const char* name;
    const char* type;
    const char* help;
    double value;
  } rows[] = {
      {"kvtier_remote_nodes", "gauge", "Redis servers known (a cluster's nodes).",
       double(r.nodes)},
      {"kvtier_remote_exists_blocks_total", "counter",
       "Blocks asked about with EXISTS (Lookup, Load).", double(r.exists_blocks)},
      {"kvtier_remote_exists_found_blocks_total", "counter", "Of those, present.",
       double(r.exists_found)},
      {"kvtier_remote_gone_blocks_total", "counter",
       "Blocks read that Redis no longer held (misses).", double(r.gone)},
      {"kvtier_remote_forged_blocks_total", "counter",
       "Values whose keyed checksum failed.", double(r.forged)},
      {"kvtier_remote_write_blocks_total", "counter", "Blocks written through to Redis.",
       double(r.write_blocks)},
      {"kvtier_remote_write_dropped_blocks_total", "counter",
       "Write-throughs not done (queue full, host copy gone, SET failed).",
       double(r.write_dropped)},
      {"kvtier_remote_reconnects_total", "counter",
       "Connections reopened after a failure.", double(r.reconnects)},
      {"kvtier_remote_node_failures_total", "counter",
       "Failed connects and broken pipelines.", double(r.node_failures)},
      {"kvtier_remote_redirects_total", "counter", "Cluster MOVED and ASK followed.",
       double(r.moved + r.asked)},
  };
  for (const auto& row : rows) {
    w.Family(row.name, row.type, row.help);
    w.Sample(row.name, "", Number(row.value));
  }
}

}  // namespace

std::string PrometheusText(const StoreStats& stats) {
  Writer w;
  TierFamilies(w, stats);
  CallFamilies(w, stats);
  if (stats.tier(Tier::kNvme).enabled) NvmeFamilies(w, stats);
  if (stats.tier(Tier::kRemote).enabled) RemoteFamilies(w, stats);
  return w.Take();
}

}  // namespace kvtier
