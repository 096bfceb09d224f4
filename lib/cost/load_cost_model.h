// LoadCostModel: each tier's load cost measured online, and the prefix a
// Lookup offers when loading must beat recomputing (options.load_cost).
//
// A tier's reads are fitted as seconds = latency + bytes * seconds_per_byte
// by least squares over exponentially weighted sums (each new batch has
// weight `measurement_weight`; older ones decay). Batches all of one size
// cannot separate the two: the time is then all per byte.
//
// Thread safety: thread-safe (one small lock; Observe runs on the tiers'
// threads after each read batch, Offer on Lookup's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>

#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier::internal {

// Checks options.load_cost (the field named on error).
Status ValidateLoadCostOptions(const LoadCostOptions& options);

// Where a tier's front reports each completed read batch.
class ReadObserver {
 public:
  virtual ~ReadObserver() = default;
  // `bytes`: stored bytes of the batch's blocks that were read and verified;
  // `seconds`: from submission to the last block's completion.
  virtual void Observe(Tier tier, uint64_t bytes, double seconds) = 0;
};

struct TierCost {
  bool measured = false;  // false: nothing observed yet, assumed free
  double latency_seconds = 0;
  double seconds_per_byte = 0;
};

class LoadCostModel final : public ReadObserver {
 public:
  explicit LoadCostModel(const LoadCostOptions& options);

  bool enabled() const { return recompute_seconds_per_token_ > 0; }
  void Observe(Tier tier, uint64_t bytes, double seconds) override;
  TierCost Cost(Tier tier) const;

  // How many leading blocks of a servable prefix to offer: tiers[i] is the
  // tier block i would be read from, each block `block_bytes[tier]` stored
  // bytes. It maximizes k * recompute time of a block - load time of the
  // first k blocks (each tier's latency once, as its reads go in one batch,
  // plus its bytes over its bandwidth); ties go to the longer prefix. A
  // block past that k arrives later than the engine would recompute it.
  // Everything when disabled.
  size_t Offer(std::span<const Tier> tiers,
               const std::array<uint64_t, kNumTiers>& block_bytes,
               uint32_t block_tokens) const;

 private:
  struct Fit {  // exponentially weighted sums of 1, x, y, x^2, x*y
    double w = 0, x = 0, y = 0, xx = 0, xy = 0;
  };
  static TierCost Solve(const Fit& f);

  const double recompute_seconds_per_token_;  // 0 = off
  const double weight_;
  mutable std::mutex mu_;
  std::array<Fit, kNumTiers> fits_{};  // guarded by mu_
};

}  // namespace kvtier::internal
