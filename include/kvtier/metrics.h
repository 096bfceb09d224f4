// Metrics for Prometheus: StoreStats rendered in the text exposition format
// (version 0.0.4), and a small HTTP endpoint an engine may turn on.
//
// Names are kvtier_* with their unit (_bytes, _seconds, _blocks, _total for
// counters); labels `tier` (gpu, host, nvme) and `operation` (lookup, load,
// save; read, write). Per tier: capacity and used bytes, blocks, every
// counter of TierStats, and read/write latency histograms; per call:
// counts, blocks and latency histograms; the NVMe tier's NvmeStats.
// Only enabled tiers are rendered.
//
// Thread safety: PrometheusText is pure; MetricsServer is thread-safe and
// serves from its own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kvtier/export.h"
#include "kvtier/stats.h"
#include "kvtier/status.h"

namespace kvtier {

class Store;

KVTIER_EXPORT std::string PrometheusText(const StoreStats& stats);

// GET /metrics (any path) on 127.0.0.1:port answers PrometheusText of the
// store's Stats() at that moment. One thread, one connection at a time;
// requests are read up to 8 KiB and must arrive within 2 s.
class KVTIER_EXPORT MetricsServer {
 public:
  // Listens on 127.0.0.1:`port` (0 = a free port; see port()). `store` is
  // borrowed and must outlive the server. IoError naming the port when it
  // cannot listen (in use, refused).
  static Result<std::unique_ptr<MetricsServer>> Start(const Store& store, uint16_t port);
  // Stops serving and joins the thread; an in-flight scrape completes first.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const;
  uint64_t scrapes() const;  // requests answered so far

  struct State;  // the listening socket and the serving thread

 private:
  explicit MetricsServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kvtier
