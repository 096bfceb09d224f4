// LatencyRecorder (lib/metrics/latency_recorder.h).
#include "lib/metrics/latency_recorder.h"

#include <algorithm>

namespace kvtier::internal {
namespace {

// The bounds in nanoseconds, for an integer search on the hot path.
constexpr std::array<uint64_t, LatencyHistogram::kBoundsSeconds.size()> BoundsNanos() {
  std::array<uint64_t, LatencyHistogram::kBoundsSeconds.size()> b{};
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] = static_cast<uint64_t>(LatencyHistogram::kBoundsSeconds[i] * 1e9 + 0.5);
  }
  return b;
}
constexpr auto kBoundsNanos = BoundsNanos();

}  // namespace

void LatencyRecorder::Record(uint64_t nanos) {
  const size_t bucket =
      std::lower_bound(kBoundsNanos.begin(), kBoundsNanos.end(), nanos) -
      kBoundsNanos.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(nanos, std::memory_order_relaxed);
}

LatencyHistogram LatencyRecorder::Snapshot() const {
  LatencyHistogram h;
  for (size_t i = 0; i < counts_.size(); ++i) {
    h.counts[i] = counts_[i].load(std::memory_order_relaxed);
    h.count += h.counts[i];  // consistent with the buckets, unlike count_
  }
  h.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) * 1e-9;
  return h;
}

}  // namespace kvtier::internal
