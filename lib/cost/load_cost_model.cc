// The fit and the choice of prefix (lib/cost/load_cost_model.h).
#include "lib/cost/load_cost_model.h"

#include <cmath>
#include <string>

namespace kvtier::internal {

Status ValidateLoadCostOptions(const LoadCostOptions& o) {
  if (!(o.prefill_tokens_per_second >= 0) || std::isinf(o.prefill_tokens_per_second)) {
    return InvalidArgument("options.load_cost.prefill_tokens_per_second: " +
                           std::to_string(o.prefill_tokens_per_second) +
                           ", must be a finite speed >= 0 (0 = off)");
  }
  if (!(o.measurement_weight > 0 && o.measurement_weight <= 1)) {
    return InvalidArgument("options.load_cost.measurement_weight: " +
                           std::to_string(o.measurement_weight) + ", must be in (0, 1]");
  }
  return Status::Ok();
}

LoadCostModel::LoadCostModel(const LoadCostOptions& o)
    : recompute_seconds_per_token_(
          o.prefill_tokens_per_second > 0 ? 1.0 / o.prefill_tokens_per_second : 0),
      weight_(o.measurement_weight) {}

void LoadCostModel::Observe(Tier tier, uint64_t bytes, double seconds) {
  if (bytes == 0 || !(seconds >= 0)) return;
  const double x = static_cast<double>(bytes), y = seconds, a = weight_, keep = 1 - a;
  std::lock_guard<std::mutex> lock(mu_);
  Fit& f = fits_[static_cast<int>(tier)];
  const bool first =
      f.w == 0;  // the first batch stands alone, not weighted against zeros
  const double k = first ? 0 : keep, n = first ? 1 : a;
  f.w = k * f.w + n;
  f.x = k * f.x + n * x;
  f.y = k * f.y + n * y;
  f.xx = k * f.xx + n * x * x;
  f.xy = k * f.xy + n * x * y;
}

TierCost LoadCostModel::Solve(const Fit& f) {
  TierCost c;
  if (f.w == 0) return c;
  c.measured = true;
  const double mx = f.x / f.w, my = f.y / f.w;
  const double var = f.xx / f.w - mx * mx, cov = f.xy / f.w - mx * my;
  // Sizes that barely vary cannot separate latency from bandwidth.
  if (var > 1e-6 * mx * mx && cov > 0) {
    c.seconds_per_byte = cov / var;
    c.latency_seconds = my - c.seconds_per_byte * mx;
    if (c.latency_seconds >= 0) return c;
  }
  c.latency_seconds = 0;
  c.seconds_per_byte = mx > 0 ? my / mx : 0;
  return c;
}

TierCost LoadCostModel::Cost(Tier tier) const {
  std::lock_guard<std::mutex> lock(mu_);
  return Solve(fits_[static_cast<int>(tier)]);
}

size_t LoadCostModel::Offer(std::span<const Tier> tiers,
                            const std::array<uint64_t, kNumTiers>& block_bytes,
                            uint32_t block_tokens) const {
  if (!enabled()) return tiers.size();
  std::array<TierCost, kNumTiers> costs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int t = 0; t < kNumTiers; ++t) costs[t] = Solve(fits_[t]);
  }
  const double recompute = recompute_seconds_per_token_ * block_tokens;
  std::array<bool, kNumTiers> started{};
  double load = 0, best_gain = 0;
  size_t best = 0;
  for (size_t k = 1; k <= tiers.size(); ++k) {
    const int t = static_cast<int>(tiers[k - 1]);
    if (!started[t]) load += costs[t].latency_seconds;
    started[t] = true;
    load += costs[t].seconds_per_byte * static_cast<double>(block_bytes[t]);
    const double gain = static_cast<double>(k) * recompute - load;
    if (gain >= best_gain) {
      best_gain = gain;
      best = k;
    }
  }
  return best;
}

}  // namespace kvtier::internal
