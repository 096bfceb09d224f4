// LatencyRecorder: a lock-free LatencyHistogram (kvtier/stats.h) that many
// threads record into; LatencyTimer records a scope's duration.
//
// Cost: one clock read at each end of a timed scope and three relaxed
// atomic adds. Thread safety: Record and Snapshot from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "kvtier/stats.h"

namespace kvtier::internal {

class LatencyRecorder {
 public:
  void Record(uint64_t nanos);
  LatencyHistogram Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, LatencyHistogram::kBoundsSeconds.size() + 1>
      counts_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

// Records the time from construction to destruction into `recorder`.
class LatencyTimer {
 public:
  explicit LatencyTimer(LatencyRecorder& recorder)
      : recorder_(recorder), start_(std::chrono::steady_clock::now()) {}
  ~LatencyTimer() {
    recorder_.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start_)
                         .count());
  }
  LatencyTimer(const LatencyTimer&) = delete;
  LatencyTimer& operator=(const LatencyTimer&) = delete;

 private:
  LatencyRecorder& recorder_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace kvtier::internal
